"""Values nobody understands: data.unrecognised-values reports them, and the checks that
need the column are skipped instead of passing."""

from __future__ import annotations

from datetime import timedelta

from crm_audit_core.testing import run_check


def _integrations_with(tenant, status_by_name):
    rows = tenant.rows("integrations")
    for r in rows:
        if r["name"] in status_by_name:
            tenant.edit("integrations", {"id": r["id"]}, {"status": status_by_name[r["name"]]})
    return tenant


def test_synonyms_are_understood_and_the_stale_sync_still_found(crm_audit_tenant):
    tenant = crm_audit_tenant(contacts=300, seed=3)
    planted = tenant.planted("integrations.stale-syncs")
    names = {r["name"]: r for r in tenant.rows("integrations")}
    _integrations_with(tenant, {n: "Connected" for n in names})
    result = run_check("integrations.stale-syncs", tenant)
    assert result.status == "fail" and sorted(result.affected.ids) == sorted(planted)
    clean = run_check("data.unrecognised-values", tenant)
    assert clean.status == "pass", clean.message


def test_values_nobody_understands_skip_the_check_instead_of_passing(crm_audit_tenant):
    tenant = crm_audit_tenant(contacts=300, seed=3)
    rows = tenant.rows("integrations")
    for r in rows:
        tenant.edit("integrations", {"id": r["id"]}, {"status": "vertraulich", "last_sync_at": tenant.as_of - timedelta(days=75)})
    stale = run_check("integrations.stale-syncs", tenant)
    assert stale.status == "skipped"
    assert "integrations.status" in stale.reason and "'vertraulich' (6)" in stale.reason
    found = run_check("data.unrecognised-values", tenant)
    assert found.status == "fail"
    assert found.metrics["unrecognised"]["integrations.status"]["values"] == {"vertraulich": 6}
    assert sorted(found.affected.ids) == sorted(f"integrations:{r['id']}" for r in rows)


def test_a_failing_check_says_how_many_rows_it_left_out(crm_audit_tenant):
    tenant = crm_audit_tenant(contacts=300, seed=3)
    planted = tenant.planted("integrations.stale-syncs")
    other = next(r for r in tenant.rows("integrations") if r["id"] not in planted)
    tenant.edit("integrations", {"id": other["id"]}, {"status": "???"})
    stale = run_check("integrations.stale-syncs", tenant)
    assert stale.status == "fail" and sorted(stale.affected.ids) == sorted(planted)
    assert "1 row was not judged" in stale.reason and "'???'" in stale.reason


def test_cells_the_files_connector_could_not_read_are_reported(crm_audit_tenant, tmp_path):
    import csv

    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.plugins import build_plugin_manager
    from crm_audit_core.runner import run_audit

    tenant = crm_audit_tenant(contacts=300, seed=3)
    tenant.write(tmp_path / "t")
    path = tmp_path / "t" / "deals.csv"
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0]["amount"], rows[1]["amount"] = "lots", "n/a"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    config = AuditConfig(as_of=tenant.as_of, out=tmp_path / "audits")
    config.tenants.append(TenantConfig("acme", "files", {"path": str(tmp_path / "t")}))
    result, _ = run_audit(config, registry=build_plugin_manager(), progress=False,
                          check_patterns=("data.unrecognised-values",))
    [found] = result.results
    assert found.status == "fail"
    entry = found.metrics["unrecognised"]["deals.amount"]
    assert entry["rows"] == 2 and set(entry["values"]) == {"lots", "n/a"} and entry["read_as_empty"]
    assert "deals.amount: 2 cells are not a number and were read as empty" in found.message
