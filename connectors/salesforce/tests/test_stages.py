"""Stages per pipeline (Opportunity record type) over real HTTPS against the sandbox: the
UI API's StageName picklist values per record type, the master record type, the fallback
to org-wide stages when the UI API is refused, and ``data.empty-stages`` judged on a
Salesforce tenant (docs/connectors/salesforce.md, "Stages per pipeline")."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit
from crm_audit_core.sandbox import generate_tenant
from crm_audit_core.testing import run_check

from crm_audit_salesforce import mapping as m
from crm_audit_salesforce.sandbox import start_sandbox

from sf_testkit import make_tenant, run

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)
UI_API = "/ui-api/object-info/Opportunity/picklist-values/"


@pytest.fixture(scope="module")
def generated():
    # two pipelines whose stages differ ("Discovery" is the partnerships' only), and the
    # generator's planted stages no deal uses, one in each pipeline
    return generate_tenant(contacts=300, seed=3, name="sf", as_of=AS_OF)


def _picklist_calls(handle) -> list[str]:
    return [r["path"].split(UI_API)[1] for r in handle.requests if UI_API in r["path"]]


def test_stages_per_record_type_round_trip(generated):
    handle = start_sandbox(generated)
    try:
        connector, sink = run(handle)
        org, keys = handle.extra["org"], handle.extra["stage_keys"]
        types = {t["Name"]: t["Id"] for t in org.records["RecordType"]}
        # one UI API call per record type, and no master record type (every deal has one)
        assert sorted(_picklist_calls(handle)) == sorted(f"{rt}/StageName" for rt in types.values())
        assert "stages.pipeline" not in sink.unavailable_reasons
        rows = {r["id"]: r for r in sink.rows["stages"]}
        expected = {keys[str(s["id"])]: s for s in generated.rows("stages")}
        assert set(rows) == set(expected)
        for key, s in expected.items():
            got = rows[key]
            assert (got["pipeline"], got["name"], got["position"], got["is_closed"], got["is_won"]) == (
                s["pipeline"], s["name"], s["position"], s["is_closed"], s["is_won"]), key
            record_type, stage = key.split(":")
            assert record_type == types[s["pipeline"]] and org.by_id[stage]["ApiName"] == s["name"]
        # a stage one pipeline offers and the other does not
        by_pipeline = {}
        for r in sink.rows["stages"]:
            by_pipeline.setdefault(r["pipeline"], set()).add(r["name"])
        assert "Discovery" in by_pipeline["Partnerships"] and "Discovery" not in by_pipeline["Sales Pipeline"]
        # "Closed Won" is one OpportunityStage, a row in each pipeline
        won = [r for r in sink.rows["stages"] if r["name"] == "Closed Won"]
        assert len(won) == 2 and len({r["id"].split(":")[1] for r in won}) == 1
        # every deal names the stage row of its own pipeline
        for deal in sink.rows["deals"]:
            if deal["stage"] is not None:
                assert rows[deal["stage"]]["pipeline"] == deal["pipeline"], deal["id"]
    finally:
        handle.stop()


def test_old_api_version_reads_picklists_under_the_newest(generated):
    """The generated platform uses API 30.0 (before the UI API's 41.0): the picklists are
    read under the newest version the org offers, the records under 30.0."""
    handle = start_sandbox(generated)
    try:
        connector, sink = run(handle)
        assert connector.api_version == "30.0"
        versions = {r["path"].split("/")[3] for r in handle.requests if UI_API in r["path"]}
        assert versions == {f"v{max(handle.extra['org'].versions, key=float)}"}
        assert any(r["path"].startswith("/services/data/v30.0/query") for r in handle.requests)
    finally:
        handle.stop()


def test_ui_api_refused_falls_back_to_org_wide_stages(generated):
    handle = start_sandbox(generated, ui_api=False)
    try:
        connector, sink = run(handle)
        refused = [r for r in handle.requests if UI_API in r["path"]]
        assert [r["status"] for r in refused] == [403]  # one refusal, not retried, the read goes on
        reason = sink.unavailable_reasons["stages.pipeline"]
        assert "INSUFFICIENT_ACCESS" in reason and "User Interface API" in reason
        org = handle.extra["org"]
        stages = sink.rows["stages"]
        assert {r["id"] for r in stages} == {s["Id"] for s in org.records["OpportunityStage"]}
        assert all("pipeline" not in r for r in stages)  # not supplied: data.empty-stages is skipped
        ids = {r["id"] for r in stages}
        assert all(d["stage"] in ids for d in sink.rows["deals"] if d["stage"] is not None)
        assert len(sink.rows["deals"]) == generated.tables["deals"].num_rows
    finally:
        handle.stop()


def test_org_without_record_types_reads_the_master_record_type():
    tenant = make_tenant()
    for row in tenant["stages"] + tenant["deals"]:
        row["pipeline"] = None
    handle = start_sandbox(tenant)
    try:
        _, sink = run(handle)
        assert _picklist_calls(handle) == [f"{m.MASTER_RECORD_TYPE}/StageName"]
        assert not [r for r in handle.requests if "COUNT()" in (r.get("soql") or "")]  # nothing to count
        stages = sink.rows["stages"]
        org = handle.extra["org"]
        assert [r["id"] for r in stages] == [s["Id"] for s in sorted(org.records["OpportunityStage"],
                                                                      key=lambda s: s["SortOrder"])]
        assert all(r["pipeline"] is None for r in stages)
        assert [r["position"] for r in stages] == list(range(1, len(stages) + 1))
        ids = {r["id"] for r in stages}
        assert all(d["stage"] in ids and d["pipeline"] is None for d in sink.rows["deals"])
    finally:
        handle.stop()


def test_master_and_inactive_record_types_in_use_are_read():
    """Opportunities without a record type are under the master record type; an inactive
    record type is read while opportunities use it, and not once none does."""
    tenant = make_tenant()
    handle = start_sandbox(tenant)
    try:
        org = handle.extra["org"]
        [sales] = org.records["RecordType"]
        sales["IsActive"] = False  # retired, but its opportunities are still there
        org.add("RecordType", {"Id": m.to_salesforce_id("77", "RecordType"), "Name": "Renewals",
                               "DeveloperName": "Renewals", "SobjectType": "Opportunity", "IsActive": True})
        org.picklists[m.to_salesforce_id("77", "RecordType")] = ["Prospecting", "Closed Won"]
        orphan = org.records["Opportunity"][0]
        orphan["RecordTypeId"] = None
        _, sink = run(handle)
        calls = _picklist_calls(handle)
        assert sorted(calls) == sorted(f"{rt}/StageName" for rt in (m.MASTER_RECORD_TYPE, sales["Id"],
                                                                     m.to_salesforce_id("77", "RecordType")))
        rows = {r["id"]: r for r in sink.rows["stages"]}
        assert {r["pipeline"] for r in rows.values()} == {None, "Sales", "Renewals"}
        deals = {d["id"]: d for d in sink.rows["deals"]}
        assert rows[deals[orphan["Id"]]["stage"]]["pipeline"] is None  # the master record type's row
        assert all(rows[d["stage"]]["pipeline"] == d["pipeline"] for d in deals.values())
        # once no opportunity uses the inactive record type, its stages are not read
        for o in org.records["Opportunity"]:
            o["RecordTypeId"] = None
        mark = len(handle.requests)
        _, sink = run(handle)
        calls = [r["path"].split(UI_API)[1] for r in handle.requests[mark:] if UI_API in r["path"]]
        assert sorted(calls) == sorted(f"{rt}/StageName" for rt in (m.MASTER_RECORD_TYPE,
                                                                     m.to_salesforce_id("77", "RecordType")))
    finally:
        handle.stop()


def _audit(handle, tmp_path):
    config = AuditConfig(as_of=AS_OF, out=tmp_path / "audits")
    config.tenants.append(TenantConfig("sf", "salesforce", {**handle.options, "bulk_poll_seconds": "0"}))
    audit, _ = run_audit(config, registry=build_plugin_manager(), progress=False,
                         check_patterns=("data.empty-stages",))
    [result] = [r for r in audit.results if r.check_id == "data.empty-stages"]
    return result


def test_empty_stages_judged_on_salesforce_finds_the_planted_stages(generated, tmp_path):
    handle = start_sandbox(generated)
    try:
        result = _audit(handle, tmp_path)
    finally:
        handle.stop()
    keys = handle.extra["stage_keys"]
    planted = generated.manifest["defects"]["data.empty-stages"]["ids"]
    assert result.status == "fail", result.reason
    assert {keys[str(i)] for i in planted} <= set(result.affected.ids)
    # the same findings as on the canonical tenant itself, stage for stage
    canonical = run_check("data.empty-stages", generated)
    assert sorted(result.affected.ids) == sorted(keys[i] for i in canonical.affected.ids)
    assert result.metrics["deals_per_stage"] == canonical.metrics["deals_per_stage"]


def test_empty_stages_skipped_with_the_reason_when_the_ui_api_is_refused(generated, tmp_path):
    handle = start_sandbox(generated, ui_api=False)
    try:
        result = _audit(handle, tmp_path)
    finally:
        handle.stop()
    assert result.status == "skipped"
    assert "stages.pipeline" in result.reason and "User Interface API" in result.reason


def test_incremental_audit_after_a_fallback_reads_every_deal(tmp_path):
    """The previous audit had no UI API (org-wide stage ids on its deals); this one reads
    stages per pipeline, so deals are read in full, not carried forward with ids of rows
    that are gone."""
    from test_resume_incremental import run_cli, snapshot_rows, write_config

    from datetime import timedelta

    tenant = generate_tenant(contacts=300, seed=3, as_of=datetime.now(timezone.utc) - timedelta(days=1))
    handle = start_sandbox(tenant, ui_api=False)
    try:
        config = write_config(tmp_path, handle)
        out = tmp_path / "audits"
        assert run_cli(config, out).exit_code == 0
        handle.app.ui_api = True  # the audit user was given the User Interface API
        mark = len(handle.requests)
        second = run_cli(config, out, "--incremental")
        assert second.exit_code == 0, second.output
        latest = sorted(p for p in out.iterdir() if p.is_dir())[-1]
        stages = {r["id"]: r for r in snapshot_rows(latest, "stages")}
        deals = snapshot_rows(latest, "deals")
        assert all(":" in key for key in stages)  # per record type now
        assert all(stages[d["stage"]]["pipeline"] == d["pipeline"] for d in deals if d["stage"] is not None)
        opportunities = len(handle.extra["org"].records["Opportunity"])
        assert sum(r.get("records", 0) for r in handle.requests[mark:] if r.get("object") == "Opportunity") \
            == opportunities
    finally:
        handle.stop()
