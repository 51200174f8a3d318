"""Planting rows in a generated tenant: GeneratedTenant.add_rows / edit / plant / planted.

A plugin's tests use them to give a tenant the records its check must find; the
manifest's ground truth follows, so run_check + assert_findings(tenant.planted(id)) work
for a check the generator knows nothing about.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from crm_audit_core import check
from crm_audit_core.errors import ConfigError
from crm_audit_core.sandbox import generate_tenant
from crm_audit_core.testing import assert_findings, run_check

UTC = timezone.utc
AS_OF = datetime(2026, 12, 31, tzinfo=UTC)


@check(
    id="example.vip-without-owner",
    title="VIP contacts without an owner",
    step="open-work",
    area="usage",
    severity="high",
    needs={"contacts": ["id", "segments", "owner_id"]},
    description="VIP contacts need an owner.",
    remediation="Assign owners.",
)
def vip_without_owner(ctx):
    ids = ctx.ids("SELECT id FROM contacts WHERE list_contains(segments, 'vip') AND owner_id IS NULL")
    return ctx.result(ids=ids, population=ctx.count("contacts"), message=f"{len(ids)} VIPs without owner")


@pytest.fixture(scope="module")
def clean():
    return generate_tenant(contacts=150, seed=3, defects=False, name="plant", as_of=AS_OF)


@pytest.fixture
def tenant(clean):
    return clean.copy()


def test_add_rows_gives_new_ids_nulls_and_converted_values(tenant):
    before = tenant.tables["contacts"].num_rows
    all_ids = {r["id"] for t in ("users", "contacts", "companies", "deals", "activities") for r in tenant.rows(t)}
    ids = tenant.add_rows("contacts", [
        {"first_name": "Ayu", "owner_id": 1000003, "created_at": "2026-03-01T09:30:00Z", "segments": ["vip"]},
        {"id": "vip-2", "first_name": "Minjun", "created_at": datetime(2026, 3, 2, 8, 0), "updated_at": date(2026, 3, 3)},
    ])
    assert len(ids) == 2 and ids[1] == "vip-2"
    assert ids[0] not in all_ids and int(ids[0]) > max(int(i) for i in all_ids)
    rows = {r["id"]: r for r in tenant.rows("contacts")}
    assert tenant.tables["contacts"].num_rows == before + 2
    assert tenant.manifest["counts"]["contacts"] == before + 2
    first, second = rows[ids[0]], rows["vip-2"]
    assert first["owner_id"] == "1000003" and first["segments"] == ["vip"]
    assert first["created_at"] == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert second["created_at"] == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # naive = UTC
    assert second["updated_at"] == datetime(2026, 3, 3, tzinfo=UTC)
    assert first["email"] is None and first["last_activity_at"] is None and first["nps_score"] is None
    assert tenant.tables["contacts"].schema == generate_tenant(
        contacts=150, seed=3, defects=False, name="plant", as_of=AS_OF).tables["contacts"].schema


def test_planted_rows_are_the_ground_truth_of_a_plugin_check(tenant):
    assert tenant.planted("example.vip-without-owner") == []
    assert_findings(run_check(vip_without_owner, tenant), [])
    ids = tenant.add_rows("contacts", [{"first_name": "Ayu", "segments": ["vip"]},
                                        {"first_name": "Budi", "segments": ["vip", "Newsletter"]}],
                          defect="example.vip-without-owner")
    tenant.add_rows("contacts", [{"first_name": "Citra", "segments": ["vip"], "owner_id": "1000003"}])
    assert tenant.planted("example.vip-without-owner") == sorted(ids)
    assert tenant.manifest["defects"]["example.vip-without-owner"] == {"object": "contacts", "ids": sorted(ids)}
    result = run_check(vip_without_owner, tenant)
    assert_findings(result, tenant.planted("example.vip-without-owner"))
    assert result.status == "fail"


def test_edit_plants_a_standard_defect_on_a_clean_tenant(tenant):
    victim = tenant.rows("contacts")[5]["id"]
    edited = tenant.edit("contacts", {"id": victim}, {"email": None, "phone": None}, defect="data.unreachable-contacts")
    assert edited == [victim]
    row = next(r for r in tenant.rows("contacts") if r["id"] == victim)
    assert row["email"] is None and row["phone"] is None
    assert tenant.planted("data.unreachable-contacts") == [victim]
    assert_findings(run_check("data.unreachable-contacts", tenant), tenant.planted("data.unreachable-contacts"))


def test_edit_where_forms(tenant):
    deals = tenant.rows("deals")
    open_ids = sorted(r["id"] for r in deals if not r["is_closed"])
    edited = tenant.edit("deals", {"is_closed": False}, {"owner_id": None})
    assert sorted(edited) == open_ids
    again = tenant.edit("deals", {"owner_id": None}, {"lost_reason": "x"})  # None matches null
    assert sorted(again) == open_ids
    big = tenant.edit("deals", lambda r: r["amount"] is not None and r["amount"] > 1e9, {"currency": "IDR"})
    assert sorted(big) == sorted(r["id"] for r in deals if r["amount"] is not None and r["amount"] > 1e9)
    after = {r["id"]: r for r in tenant.rows("deals")}
    assert all(after[i]["owner_id"] is None for i in open_ids)
    assert all(after[r["id"]]["owner_id"] == r["owner_id"] for r in deals if r["is_closed"])
    assert tenant.edit("deals", {"id": int(open_ids[0])}, {"amount": 5}) == [open_ids[0]]  # int ids match
    assert next(r for r in tenant.rows("deals") if r["id"] == open_ids[0])["amount"] == 5.0


def test_defect_ids_add_to_what_the_generator_planted():
    tenant = generate_tenant(contacts=150, seed=3, defects=True, name="plant", as_of=AS_OF).copy()
    generated = tenant.planted("data.unreachable-contacts")
    assert generated
    [new] = tenant.add_rows("contacts", [{"first_name": "Nomad"}], defect="data.unreachable-contacts")
    assert tenant.planted("data.unreachable-contacts") == sorted(generated + [new])
    assert_findings(run_check("data.unreachable-contacts", tenant), tenant.planted("data.unreachable-contacts"))


def test_plant_records_ids_of_another_object(tenant):
    tenant.add_rows("contacts", [{"first_name": "A", "segments": ["Lonely"]}])
    tenant.plant("data.tiny-segments", ["Lonely"], object="segments")
    assert tenant.manifest["defects"]["data.tiny-segments"]["ids"] == ["Lonely"]
    assert_findings(run_check("data.tiny-segments", tenant), tenant.planted("data.tiny-segments"))


def test_copy_leaves_the_original_and_the_fixture_cache_alone(clean, crm_audit_tenant):
    cached = crm_audit_tenant(contacts=150, seed=3, defects=False)
    rows, manifest = cached.tables["contacts"].num_rows, json.dumps(cached.manifest, sort_keys=True)
    mine = crm_audit_tenant(contacts=150, seed=3, defects=False)  # each call gives its own copy
    mine.add_rows("contacts", [{"first_name": "X"}], defect="example.x")
    mine.edit("users", {"is_admin": True}, {"mfa_enabled": False})
    again = crm_audit_tenant(contacts=150, seed=3, defects=False)
    assert again is not mine and again.tables["contacts"].num_rows == rows
    assert json.dumps(again.manifest, sort_keys=True) == manifest and again.planted("example.x") == []
    assert mine.planted("example.x") and mine.tables["contacts"].num_rows == rows + 1


def test_write_carries_planted_rows_and_manifest(tenant, tmp_path):
    [new] = tenant.add_rows("contacts", [{"first_name": "Written", "nps_score": 9}], defect="example.x")
    out = tmp_path / "out"
    tenant.write(out)
    assert f'"{new}","Written"' in (out / "contacts.csv").read_text(encoding="utf-8")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["defects"]["example.x"]["ids"] == [new]


@pytest.mark.parametrize("call, message", [
    (lambda t: t.add_rows("nope", [{}]), "the tenant has no table 'nope' (tables: activities, "),
    (lambda t: t.edit("nope", {"id": "1"}, {"x": 1}), "the tenant has no table 'nope'"),
    (lambda t: t.add_rows("contacts", [{"first_name": "A", "colour": "red"}, {"shoe": 42}]),
     "contacts has no column 'colour', 'shoe' (in the rows to add; columns: id, first_name"),
    (lambda t: t.edit("contacts", {"colour": "red"}, {"title": "x"}), "contacts has no column 'colour' (in where;"),
    (lambda t: t.edit("contacts", {"first_name": "Ayu"}, {"colour": "x"}), "contacts has no column 'colour' (in set;"),
    (lambda t: t.edit("contacts", {"first_name": "Nobody Such"}, {"title": "x"}),
     "edit('contacts', ...): no row matches {'first_name': 'Nobody Such'}"),
    (lambda t: t.edit("contacts", lambda r: False, {"title": "x"}), "no row matches the where function"),
    (lambda t: t.edit("contacts", {}, {"title": "x"}), "where must be a non-empty dict"),
    (lambda t: t.edit("contacts", {"title": None}, {}), "set must be a non-empty dict"),
    (lambda t: t.edit("contacts", lambda r: True, {"id": "1"}), "cannot change the key column 'id'"),
    (lambda t: t.add_rows("contacts", {"first_name": "A"}), "takes a list of dicts"),
    (lambda t: t.add_rows("contacts", [{"created_at": "last tuesday"}]),
     "contacts.created_at holds a timestamp, got 'last tuesday' (not ISO 8601)"),
    (lambda t: t.add_rows("contacts", [{"segments": "vip"}]), "contacts.segments holds a list of text, got str 'vip'"),
    (lambda t: t.add_rows("contacts", [{"owner_id": 1.5}]), "contacts.owner_id holds text, got float 1.5"),
    (lambda t: t.add_rows("deals", [{"amount": "lots"}]), "deals.amount holds double, got str 'lots'"),
    (lambda t: t.add_rows("users", [{"id": t.rows("contacts")[0]["id"]}]), "is already used in contacts"),
    (lambda t: t.add_rows("contacts", [{}, {"id": "x1"}, {"id": "x1"}]), "id 'x1' is already used in contacts"),
    (lambda t: t.add_rows("fields", [{"object": "contacts"}]), "rows added to fields need a 'name'"),
    (lambda t: t.add_rows("contacts", [{}], defect="usage.login-adoption"),
     "usage.login-adoption reports users, not contacts: record its ids with tenant.plant("),
    (lambda t: t.add_rows("contacts", [{}], defect=""), "a defect is named by its check id"),
])
def test_bad_input_is_one_clear_error_and_changes_nothing(tenant, call, message):
    tables, manifest = dict(tenant.tables), json.dumps(tenant.manifest, sort_keys=True)
    with pytest.raises(ConfigError) as info:
        call(tenant)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert tenant.tables == tables and json.dumps(tenant.manifest, sort_keys=True) == manifest
