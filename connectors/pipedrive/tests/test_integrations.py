"""Integrations, sources, segments and lifecycle stages of a generated tenant through the
Pipedrive sandbox and connector over HTTP: the generator's ground truth comes back exactly,
and the integration checks find exactly the planted integrations."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from crm_audit_core.acceptance.target import audit_once
from crm_audit_core.extract import MemorySink
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.sandbox import generate_tenant
from crm_audit_pipedrive.connector import create_connector
from crm_audit_pipedrive.sandbox import start_sandbox
from crm_audit_pipedrive.security import webhook_integrations
from crm_audit_pipedrive.sources import integration_rows, origin_to_source

from .conftest import FAST

AS_OF = datetime(2026, 12, 6, tzinfo=timezone.utc)


def _utc(value):
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(microsecond=0)
    return value


@pytest.fixture(scope="module")
def generated():
    """The generated tenant as Pipedrive holds it: its webhook grants are integrations too
    (Pipedrive shows every webhook as one)."""
    tenant = generate_tenant(contacts=1500, seed=11, name="t", as_of=AS_OF)
    extra = webhook_integrations(tenant.rows("oauth_grants"), {str(i["name"]) for i in tenant.rows("integrations")})
    assert extra  # the generator's webhooks
    tenant.add_rows("integrations", extra)
    return tenant


def webhook_id(handle, name: str) -> str:
    """The id Pipedrive gives an integration: its first webhook's."""
    return str(min(h["id"] for h in handle.app.data.entities["webhooks"] if h["name"] == name))


@pytest.fixture(scope="module")
def read(generated):
    with start_sandbox(generated) as handle:
        sink = MemorySink(tenant="t")
        create_connector({**handle.options, **FAST}).extract(sink)
        yield sink, handle


def test_integrations_round_trip(generated, read):
    sink, handle = read
    want = {webhook_id(handle, r["name"]): r for r in generated.rows("integrations")}
    got = {r["id"]: r for r in sink.rows["integrations"]}
    assert set(got) == set(want)
    # last_sync_at is the latest observed activity: the last delivery or the newest record
    newest: dict[str, datetime] = {}
    for table in ("contacts", "companies", "deals"):
        for r in generated.rows(table):
            if r.get("source") == "integration" and r.get("source_detail"):
                name = r["source_detail"]
                newest[name] = max(newest.get(name, r["created_at"]), r["created_at"])
    for rid, row in want.items():
        have = got[rid]
        assert have["name"] == row["name"] and have["status"] == row["status"]
        assert _utc(have["created_at"]) == _utc(row["created_at"])
        expected = max(t for t in (row["last_sync_at"], newest.get(row["name"])) if t is not None)
        assert _utc(have["last_sync_at"]) == _utc(expected), row["name"]
        assert have["status"] in ("active", "inactive", "error")


@pytest.mark.parametrize("table", ["contacts", "companies", "deals"])
def test_sources_round_trip(generated, read, table):
    sink, _ = read
    want = {str(r["id"]): (r.get("source"), r.get("source_detail")) for r in generated.rows(table)}
    got = {r["id"]: (r.get("source"), r.get("source_detail")) for r in sink.rows[table]}
    assert got == want
    assert {s for s, _ in got.values()} >= {"ui", "import", "integration"}


def test_segments_and_lifecycle_round_trip(generated, read):
    sink, _ = read
    want = {str(r["id"]): (sorted(r.get("segments") or []), r.get("lifecycle_stage")) for r in generated.rows("contacts")}
    got = {r["id"]: (sorted(r.get("segments") or []), r.get("lifecycle_stage")) for r in sink.rows["contacts"]}
    assert got == want
    assert any(segments for segments, _ in got.values()) and any(stage for _, stage in got.values())


def test_lifecycle_field_by_option_and_missing(generated):
    with start_sandbox(generated) as handle:
        sink = MemorySink(tenant="t")
        create_connector({**handle.options, **FAST, "lifecycle_field": "Customer journey"}).extract(sink)
    assert all("lifecycle_stage" not in r for r in sink.rows["contacts"])
    assert any("no person field named 'Customer journey'" in n for n in sink.notes)


def test_failing_webhook_is_an_error_whatever_is_active_says():
    hooks = [
        {"id": 5, "name": "Mailchimp", "type": "application", "is_active": 1, "last_http_status": 410,
         "last_delivery_time": "2026-12-01 10:00:00", "add_time": "2025-01-01 00:00:00"},
        {"id": 3, "name": "mailchimp", "type": "application", "is_active": 1, "last_http_status": 200,
         "last_delivery_time": "2026-12-02 10:00:00", "add_time": "2024-01-01 00:00:00"},
        {"id": 9, "name": "Old", "type": "general", "is_active": 0, "last_http_status": 200,
         "last_delivery_time": None, "add_time": "2024-01-01 00:00:00"},
    ]
    when = datetime(2026, 12, 3, tzinfo=timezone.utc)
    rows = {r["name"]: r for r in integration_rows(hooks, {"zapier": ("Zapier", when, when)})}
    assert rows["Mailchimp"]["status"] == "error" and rows["Mailchimp"]["id"] == "3"
    assert rows["Mailchimp"]["last_sync_at"] == datetime(2026, 12, 2, 10, tzinfo=timezone.utc)
    assert rows["Old"]["status"] == "inactive" and rows["Old"]["kind"] == "webhook"
    assert rows["Zapier"]["status"] is None and rows["Zapier"]["last_sync_at"] == when


def test_origin_mapping():
    assert origin_to_source("ManuallyCreated", None) == ("ui", None)
    assert origin_to_source("API", None) == ("api", None)
    assert origin_to_source("API", "Zapier") == ("integration", "Zapier")
    assert origin_to_source("Import", "batch-7") == ("import", "batch-7")
    assert origin_to_source("Prospector", None) == ("integration", "Prospector")
    assert origin_to_source(None, "x") == (None, None)


def test_integration_checks_find_the_planted_ids(generated, tmp_path):
    manifest = generated.manifest["defects"]
    with start_sandbox(generated) as handle:
        info, folder, code = audit_once(build_plugin_manager(), "pipedrive", {**handle.options, **FAST}, tmp_path,
                                        as_of=AS_OF, checks=("integrations.*",), secret=handle.options["api_token"])
    assert info["error"] is None
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    results = {r["check_id"]: r for r in report["results"]}
    checks = ["integrations.stale-syncs", "integrations.stopped-integrations", "integrations.spiking-integrations"]
    checks += [c for c in ("integrations.duplicates-by-source",) if c in manifest]
    for check in checks:
        result = results[check]
        assert result["status"] == "fail", (check, result["reason"])
        assert sorted(result["affected"]["ids"]) == sorted(manifest[check]["ids"]), check
        assert result["affected"]["population"] == len(generated.rows("integrations"))
