"""Pipedrive specifics of a full read (tenant -> sandbox over real HTTP -> connector): custom
fields by name, the raw record, page sizes at 500, v2 wherever it exists, the platform row.
The round trip of every mapped column, minimum calls and zero writes are the acceptance
suite's (test_acceptance.py)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from crm_audit_core.extract import MemorySink
from crm_audit_pipedrive.connector import create_connector, minimum_calls
from crm_audit_pipedrive.sandbox import start_sandbox



def _norm(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.astimezone(timezone.utc).timestamp())
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple)):
        return sorted(str(v) for v in value)
    return value


@pytest.fixture(scope="module")
def extracted(tenant):
    handle = start_sandbox(tenant)
    try:
        connector = create_connector({**handle.options, "retry_base_delay": 0.01, "rate_limit": 1000})
        sink = MemorySink(tenant="t")
        connector.extract(sink)
        yield sink, connector, list(handle.requests), handle
    finally:
        handle.stop()


def test_custom_fields_arrive_by_name(tenant, extracted):
    sink, *_ = extracted
    custom_names = {(f["object"], f["name"]) for f in tenant["fields"] if f["is_custom"]}
    for table in ("contacts", "companies", "deals"):
        got = {r["id"]: r.get("custom", {}) for r in sink.rows[table]}
        for row in tenant[table]:
            for obj, name in custom_names:
                if obj != table:
                    continue
                assert _norm(got[row["id"]].get(name)) == _norm(row.get(name)), (table, row["id"], name)
    declared = {(r["object"], r["name"]) for r in sink.rows["fields"] if r["is_custom"]}
    assert custom_names <= declared
    # Custom values are keyed by name, never by Pipedrive's 40-character hash.
    for table in ("contacts", "companies", "deals"):
        for r in sink.rows[table]:
            assert all(len(k) != 40 for k in r.get("custom", {}))


def test_raw_vendor_record_kept(extracted):
    sink, *_ = extracted
    deal = sink.rows["deals"][0]
    assert deal["raw"]["id"] == int(deal["id"]) and "custom_fields" in deal["raw"]


def test_api_calls_are_the_minimum_at_limit_500(tenant, extracted):
    sink, connector, requests, handle = extracted
    data = handle.app.data.entities
    counts = {name: len(rows) for name, rows in data.items()}
    counts["permissionSets held"] = len(handle.app.data.held_sets())
    expected = minimum_calls(counts)
    assert len(requests) == expected == connector.api_calls()
    # every list request asked for the maximum page size
    for r in requests:
        if r["path"].endswith(("/users", "/webhooks")) or "/permissionSets" in r["path"]:
            continue  # unpaginated
        assert r["query"]["limit"] == "500", r
    # sanity on the arithmetic: 1,203 persons at 500 a page are 3 calls
    assert sum(1 for r in requests if r["path"] == "/api/v2/persons") == math.ceil(len(tenant["contacts"]) / 500)


def test_v2_where_it_exists(extracted):
    _, _, requests, handle = extracted
    v1 = {r["path"] for r in requests if r["path"].startswith("/api/v1/")}
    held = {f"/api/v1/permissionSets/{s}" for s in handle.app.data.held_sets()}
    assert v1 == {"/api/v1/users", "/api/v1/roles", "/api/v1/notes", "/api/v1/leads", "/api/v1/leads/archived",
                  "/api/v1/webhooks", "/api/v1/permissionSets"} | held
    for entity in ("persons", "organizations", "deals", "activities", "pipelines", "stages"):
        assert any(r["path"] == f"/api/v2/{entity}" for r in requests)


def test_platform_row_and_notes(extracted):
    sink, *_ = extracted
    (platform,) = sink.rows["platform"]
    assert platform["vendor"] == "pipedrive" and platform["api_version_used"] == "v2"
    assert any("login history" in n for n in sink.notes)
    assert "login_events" not in sink.rows
