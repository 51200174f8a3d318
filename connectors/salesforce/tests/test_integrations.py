"""Integrations, record sources and segments from Salesforce's own data (issue 15), over
HTTP against the sandbox: the generated tenant's six integrations come back as connected
apps with their last activity, the records they created are tagged with their names (by
``CreatedById`` or the source picklist, never by the helper custom field), segments are
campaign memberships, and the integration checks report exactly the planted ids."""

from __future__ import annotations

import json
import pytest

from crm_audit_core.acceptance.target import audit_once, normalize_value
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.sandbox import generate_tenant

from crm_audit_salesforce import mapping as m
from crm_audit_salesforce.integrations import KIND_APP, IntegrationIndex
from crm_audit_salesforce.sandbox import start_sandbox

from sf_testkit import FAST, run

RECORDS = ("contacts", "companies", "deals")


@pytest.fixture(scope="module")
def generated():
    return generate_tenant(contacts=2000, seed=7, defects=True, name="demo")


@pytest.fixture(scope="module")
def read(generated):
    handle = start_sandbox(generated)
    try:
        _, sink = run(handle)
        yield handle, sink
    finally:
        handle.stop()


def _newest(tenant, name):
    times = [m.utc_datetime(r["created_at"]) for t in RECORDS for r in tenant.rows(t)
             if r.get("source") == "integration" and r.get("source_detail") == name]
    return max(times) if times else None


def test_integrations_round_trip(generated, read):
    handle, sink = read
    got = {r["id"]: r for r in sink.rows["integrations"]}
    want = generated.rows("integrations")
    assert len(got) == len(want) == 6
    for row in want:
        have = got[m.to_salesforce_id(row["id"], "ConnectedApplication")]
        assert m.from_salesforce_id(have["id"]) == str(row["id"])
        assert (have["name"], have["status"], have["kind"]) == (row["name"], row["status"], KIND_APP)
        assert normalize_value(have["created_at"]) == normalize_value(row["created_at"])
        # the last observed activity: the last sync, or its newest record when that is later
        newest = _newest(generated, row["name"])
        last = max(m.utc_datetime(row["last_sync_at"]), newest) if newest else m.utc_datetime(row["last_sync_at"])
        assert normalize_value(have["last_sync_at"]) == normalize_value(last), row["name"]


def test_sources_come_from_creators_and_picklists(generated, read):
    """Every record's source and source_detail as the tenant has them; the integration's
    name is not in the helper custom field of any record it created."""
    handle, sink = read
    org, ids = handle.extra["org"], handle.extra["ids"]
    detail_field = m.MAPPED_CUSTOM_FIELDS["source_detail_field"]
    by_creator = 0
    for table in RECORDS:
        got = {r["id"]: r for r in sink.rows[table]}
        for row in generated.rows(table):
            have = got[ids[str(row["id"])]]
            assert (have["source"], have["source_detail"]) == (row["source"], row.get("source_detail")), row["id"]
            if row["source"] == "integration":
                record = org.by_id[have["id"]]
                assert record[detail_field] is None
                by_creator += record["CreatedById"] in org.api_users
    assert by_creator > 100  # Zapier's and Accounting Sync's records: found by their API-only users


def test_segments_are_campaign_memberships(generated, read):
    handle, sink = read
    ids, org = handle.extra["ids"], handle.extra["org"]
    got = {r["id"]: sorted(r["segments"]) for r in sink.rows["contacts"]}
    for row in generated.rows("contacts"):
        assert got[ids[str(row["id"])]] == sorted(row.get("segments") or []), row["id"]
    # the segments are 'List' campaigns; the campaigns table holds the marketing campaigns only
    assert {c["Name"] for c in org.records["Campaign"] if c["Type"] == "List"} == \
        {s for r in generated.rows("contacts") for s in (r.get("segments") or [])}
    assert sorted(m.from_salesforce_id(r["id"]) for r in sink.rows["campaigns"]) == \
        sorted(str(r["id"]) for r in generated.rows("campaigns"))
    assert m.MAPPED_CUSTOM_FIELDS["segments_field"] not in org.fields["Contact"]  # no picklist to read them from


def test_integration_checks_report_the_planted_ids(generated, tmp_path):
    """A real audit of the sandbox: every integrations check that Salesforce's data feeds
    runs and reports exactly what the generator planted."""
    handle = start_sandbox(generated)
    try:
        _, folder, _ = audit_once(build_plugin_manager(), "salesforce", {**handle.options, **FAST}, tmp_path,
                                  as_of=generated.as_of, checks=("integrations.*",))
    finally:
        handle.stop()
    results = {r["check_id"]: r for r in json.loads((folder / "report.json").read_text())["results"]}
    for check_id in ("integrations.stale-syncs", "integrations.stopped-integrations",
                     "integrations.spiking-integrations", "integrations.duplicates-by-source"):
        result = results[check_id]
        want = sorted(m.to_salesforce_id(i, "ConnectedApplication") for i in generated.planted(check_id))
        assert result["status"] == "fail", (check_id, result["reason"])
        assert sorted(result["affected"]["ids"]) == want, check_id


def test_oauth_logins_and_status():
    """LoginHistory's OAuth logins count as the app's activity; a failed latest login is an error;
    an app whose token holders are all inactive is inactive; an integration user with no token
    is an integration of its own."""
    index = IntegrationIndex()
    index.note_user({"id": "005A", "name": "ETL User", "role": "integration", "is_active": True,
                     "created_at": m.utc_datetime("2025-01-01T00:00:00Z"),
                     "last_login_at": m.utc_datetime("2026-11-01T00:00:00Z")})
    index.note_user({"id": "005B", "name": "Ann", "role": "sales", "is_active": False})
    index.note_login({"LoginType": "Remote Access 2.0", "Application": "Sync Tool", "Status": "Success",
                      "LoginTime": "2026-11-20T10:00:00.000+0000"})
    index.note_login({"LoginType": "Remote Access 2.0", "Application": "Sync Tool", "Status": "Failed: Invalid Token",
                      "LoginTime": "2026-11-21T10:00:00.000+0000"})
    index.note_login({"LoginType": "Application", "Application": "Old App", "Status": "Success",
                      "LoginTime": "2026-11-22T10:00:00.000+0000"})
    index.add_apps([{"Id": "0H4A", "Name": "Sync Tool", "CreatedDate": "2025-02-01T00:00:00.000+0000"},
                    {"Id": "0H4B", "Name": "Old App", "CreatedDate": "2024-02-01T00:00:00.000+0000"}],
                   [{"Id": "0CQA", "AppName": "Sync Tool", "UserId": "005B", "LastUsedDate": "2026-11-19T00:00:00.000+0000"},
                    {"Id": "0CQB", "AppName": "Old App", "UserId": "005B", "LastUsedDate": "2025-05-01T00:00:00.000+0000"}])
    rows = {r["name"]: r for r in index.rows()}
    assert rows["Sync Tool"]["status"] == "error"
    assert rows["Sync Tool"]["last_sync_at"] == m.utc_datetime("2026-11-20T10:00:00Z")
    assert rows["Old App"]["status"] == "inactive"  # only a UI login, and its token's user is inactive
    assert rows["Old App"]["last_sync_at"] == m.utc_datetime("2025-05-01T00:00:00Z")
    assert rows["ETL User"]["kind"] == "integration-user" and rows["ETL User"]["id"] == "005A"
    tagged = index.tag({"id": "003X", "source": "ui", "created_at": m.utc_datetime("2026-11-25T00:00:00Z")},
                       {"CreatedById": "005A"}, "LeadSource")
    assert (tagged["source"], tagged["source_detail"]) == ("integration", "ETL User")
    assert index.rows()[-1]["last_sync_at"] == m.utc_datetime("2026-11-25T00:00:00Z")
    picked = index.tag({"id": "00QX", "source": None}, {"LeadSource": "sync tool"}, "LeadSource")
    assert picked["source_detail"] == "Sync Tool"
