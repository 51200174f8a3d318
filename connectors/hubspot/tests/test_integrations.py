"""Integrations, sources and segments through HubSpot's sandbox over HTTP.

A generated tenant (the generator plants a stale sync, a stopped and a spiking integration,
duplicates by source, tiny segments, unsegmented contacts and impossible campaign counts)
is served by the sandbox and audited through the connector: the checks must name exactly
the ids the generator's manifest planted. Also: the lists are read one call per page
(never per record), a token without crm.lists.read leaves segments out with a note, and
an app whose records were not re-read is found by one search.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crm_audit_core.acceptance.target import audit_once
from crm_audit_core.connector import ExtractContext
from crm_audit_core.extract import MemorySink
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.sandbox import generate_tenant
from crm_audit_core.sandbox.server import tenant_rows
from crm_audit_hubspot.apps import ACTIVE_DAYS, _app_id_by_search, integration_rows
from crm_audit_hubspot.connector import LIMITATIONS, HubSpotConnector
from crm_audit_hubspot.sandbox import start_sandbox

AS_OF = datetime(2026, 3, 1, tzinfo=timezone.utc)
PLANTED = ("integrations.stopped-integrations", "integrations.spiking-integrations", "integrations.stale-syncs",
           "integrations.duplicates-by-source", "integrations.campaign-count-sanity", "data.tiny-segments",
           "data.unsegmented-contacts")


@pytest.fixture(scope="module")
def planted():
    return generate_tenant(contacts=2000, seed=8, name="hs-planted", as_of=AS_OF)


@pytest.fixture(scope="module")
def read(planted):
    """One read of the planted tenant: (sink, connector, request log)."""
    with start_sandbox(planted) as handle:
        connector = HubSpotConnector(handle.options, ExtractContext(tenant="hs-planted", as_of=AS_OF))
        sink = MemorySink(tenant="hs-planted")
        connector.extract(sink)
        yield sink, connector, list(handle.requests), handle.app.data


@pytest.fixture(scope="module")
def report(planted, tmp_path_factory):
    """The audit of the planted tenant (the checks of this module), from report.json."""
    import json

    with start_sandbox(planted) as handle:
        _, folder, _ = audit_once(build_plugin_manager(), "hubspot", dict(handle.options), tmp_path_factory.mktemp("audit"),
                                  tenant="hs-planted", as_of=AS_OF, checks=PLANTED, secret=handle.options["access_token"])
    results = json.loads((folder / "report.json").read_text(encoding="utf-8"))["results"]
    return {r["check_id"]: r for r in results}


@pytest.mark.parametrize("check_id", PLANTED)
def test_planted_ids_found_exactly(planted, report, check_id):
    result = report[check_id]
    assert result["status"] in ("pass", "fail"), f"{check_id}: {result['status']} ({result['reason']})"
    assert sorted(map(str, result["affected"]["ids"])) == sorted(map(str, planted.manifest["defects"][check_id]["ids"]))


def test_integrations_are_the_apps_on_records(planted, read):
    """One row per app that created records: its id, the name the records carry, the newest
    of its records, active within ACTIVE_DAYS; an app that created none is not seen."""
    sink, _, _, _ = read
    records = [r for t in ("contacts", "companies", "deals") for r in tenant_rows(planted, t)]
    expected = {}
    for integration in tenant_rows(planted, "integrations"):
        mine = [r["created_at"] for r in records
                if r.get("source") == "integration" and r.get("source_detail") == integration["name"]]
        if mine:
            newest = max(mine).replace(tzinfo=timezone.utc) if max(mine).tzinfo is None else max(mine)
            expected[str(integration["id"])] = (integration["name"], newest,
                                                "active" if (AS_OF - newest).days < ACTIVE_DAYS else "inactive")
    got = {r["id"]: (r["name"], r["last_sync_at"], r["status"]) for r in sink.rows["integrations"]}
    assert got == expected
    assert "Outlook Calendar Sync" not in {r["name"] for r in sink.rows["integrations"]}  # it created no record
    assert all("kind" not in r and "created_at" not in r for r in sink.rows["integrations"])


def test_sources_round_trip(planted, read):
    """source and source_detail of every contact, company and deal come back as planted."""
    sink, _, _, _ = read
    for table in ("contacts", "companies", "deals"):
        got = {r["id"]: (r["source"], r["source_detail"]) for r in sink.rows[table]}
        want = {str(r["id"]): (r.get("source"), r.get("source_detail") or None) for r in tenant_rows(planted, table)}
        assert got == want, table


def test_segments_round_trip_one_call_per_page(planted, read):
    sink, _, requests, data = read
    got = {r["id"]: r.get("segments") for r in sink.rows["contacts"]}
    want = {str(r["id"]): sorted(r["segments"]) if r.get("segments") else None for r in tenant_rows(planted, "contacts")}
    assert got == want
    searches = [r for r in requests if r["path"].rstrip("/") == "/crm/v3/lists/search"]
    members = [r for r in requests if r["path"].endswith("/memberships")]
    assert len(searches) == 1
    assert len(members) == sum(max(1, -(-len(m) // 250)) for m in data.list_members.values())
    assert all(r["query"].get("limit") == "250" for r in members)
    assert not [r for r in requests if "/lists/records/" in r["path"]]  # never per record


def test_without_lists_scope_segments_not_supplied(planted):
    with start_sandbox(planted, lists=False) as handle:
        connector = HubSpotConnector(handle.options, ExtractContext(tenant="t", as_of=AS_OF))
        sink = MemorySink(tenant="t")
        connector.extract(sink)
    assert all("segments" not in r for r in sink.rows["contacts"])
    assert any("crm.lists.read" in n for n in connector.notes)


def test_app_id_found_by_search_when_records_not_reread(planted):
    """Resumed or incremental: an app whose records this run did not read is found by one search."""
    zapier = next(i for i in tenant_rows(planted, "integrations") if i["name"] == "Zapier")
    with start_sandbox(planted) as handle:
        connector = HubSpotConnector(handle.options, ExtractContext(tenant="t", as_of=AS_OF))
        stored = [("contacts", "integration", "Zapier", datetime(2026, 2, 20, tzinfo=timezone.utc))]
        rows = integration_rows(stored, {}, AS_OF,
                                lambda name, table: _app_id_by_search(connector.transport, name, (table,)))
        assert len(handle.requests) == 1 and handle.requests[0]["path"].endswith("/search")
    assert [(r["id"], r["name"], r["status"]) for r in rows] == [(str(zapier["id"]), "Zapier", "active")]


def test_limitations_name_the_doc_anchor():
    for key, sentence in LIMITATIONS.items():
        assert "docs/connectors/hubspot.md#what-the-api-does-not-give" in sentence, key
        assert sentence[0].isupper() and key.split(".")[0] in ("users", "platform", "integrations",
                                                                "security_settings", "packages"), key
