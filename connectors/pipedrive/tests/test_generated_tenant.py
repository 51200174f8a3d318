"""Round trip on a tenant from the shared generator (skipped until it is importable).

Columns Pipedrive cannot hold exactly are compared as Pipedrive keeps them:
* won/lost deals sit in their pipeline's last open stage (Pipedrive has no closed stages);
* open deals keep only the date of ``close_date`` (``expected_close_date``);
* ``last_activity_at`` is the date of the last done activity Pipedrive links, not a free value;
* webhooks carry no integration kind.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from crm_audit_core.extract import MemorySink
from crm_audit_pipedrive.connector import create_connector, minimum_calls
from crm_audit_pipedrive.mapping import MAPPED_COLUMNS, NOTE_ID_PREFIX
from crm_audit_pipedrive.sandbox import start_sandbox

LOSSY = {
    ("deals", "last_activity_at"), ("contacts", "last_activity_at"), ("integrations", "kind"),
    ("integrations", "status"), ("integrations", "last_sync_at"),
}


def _norm(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.astimezone(timezone.utc).timestamp())
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (list, tuple)):
        return sorted(str(v) for v in value) or None  # no segments: [] and null are the same
    if value == "":
        return None
    return value


@pytest.fixture(scope="module")
def generated():
    try:
        from crm_audit_core.sandbox import generate_tenant

        tenant = generate_tenant(contacts=600, seed=5, defects=True, name="pd")
    except Exception as exc:  # the generator lands separately
        pytest.skip(f"generator not available yet: {type(exc).__name__}: {exc}")
    with start_sandbox(tenant) as handle:
        connector = create_connector({**handle.options, "retry_base_delay": 0.01, "rate_limit": 1000})
        sink = MemorySink(tenant="pd")
        connector.extract(sink)
        yield tenant, sink, list(handle.requests), handle.app.data.entities


@pytest.mark.parametrize("table", ["users", "companies", "contacts", "deals", "activities", "stages"])
def test_generated_round_trip(generated, table):
    tenant, sink, _, _ = generated
    expected = tenant.rows(table)
    if table == "stages":
        expected = [r for r in expected if not r.get("is_closed")]
    got = {str(r["id"]).removeprefix(NOTE_ID_PREFIX): r for r in sink.rows[table]}
    assert len(got) == len(expected)
    mismatches = []
    for row in expected:
        have = got[str(row["id"])]
        for column in MAPPED_COLUMNS[table]:
            if column not in row or (table, column) in LOSSY or column == "id":
                continue
            want, value = row.get(column), have.get(column)
            if table == "deals" and column == "stage" and row.get("is_closed"):
                continue
            if table == "deals" and column == "close_date" and not row.get("is_closed") and want is not None:
                want = want.replace(hour=0, minute=0, second=0, microsecond=0)
            if _norm(value) != _norm(want):
                mismatches.append((row["id"], column, want, value))
    assert not mismatches, f"{len(mismatches)} mismatches, e.g. {mismatches[:8]}"


def test_generated_custom_fields(generated):
    tenant, sink, _, _ = generated
    declared = {(r["object"], r["name"]): r for r in sink.rows["fields"]}
    for f in tenant.rows("fields"):
        if f["is_custom"] and f["object"] in ("contacts", "companies", "deals"):
            assert (f["object"], f["name"]) in declared, f
            assert declared[(f["object"], f["name"])]["label"] == f["label"]
            values = {r["id"]: (r.get("custom") or {}).get(f["name"]) for r in sink.rows[f["object"]]}
            for row in tenant.rows(f["object"]):
                assert _norm(values[str(row["id"])]) == _norm(row.get(f["name"])), (f["name"], row["id"])


def test_generated_minimum_calls(generated):
    _, sink, requests, entities = generated
    assert len(requests) == minimum_calls({k: len(v) for k, v in entities.items()})
    assert all(r["method"] == "GET" for r in requests)
