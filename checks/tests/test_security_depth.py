"""security and updates in depth (issue 16): the seven checks on generated tenants, through
the files connector, against the exact ids the generator planted; their settings; and
what they do when the data is not there."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit
from crm_audit_core.sandbox import generate_tenant
from crm_audit_core.testing import assert_findings

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)
SIZE = dict(contacts=400, seed=13)
IDS = ["security.health-check-score", "security.dangerous-permissions", "security.connected-app-access",
       "security.guest-access", "security.admin-changes", "updates.outdated-packages",
       "updates.clients-on-old-api-versions"]


def audit_folder(folder, tmp_path):
    config = AuditConfig(as_of=AS_OF, out=tmp_path / "audits")
    config.tenants.append(TenantConfig("acme", "files", {"path": str(folder)}))
    result, out = run_audit(config, registry=build_plugin_manager(), progress=False, check_patterns=IDS)
    return {r.check_id: r for r in result.results}, out


@pytest.fixture(scope="module")
def dirty():
    return generate_tenant(**SIZE, name="acme", as_of=AS_OF)


@pytest.fixture(scope="module")
def dirty_audit(dirty, tmp_path_factory):
    folder = tmp_path_factory.mktemp("dirty")
    dirty.write(folder)
    return audit_folder(folder, tmp_path_factory.mktemp("out"))


@pytest.mark.parametrize("check_id", IDS)
def test_files_connector_reports_exactly_the_planted_ids(check_id, dirty, dirty_audit):
    results, _ = dirty_audit
    planted = dirty.planted(check_id)
    assert planted, f"the generator planted nothing for {check_id}"
    assert_findings(results[check_id], planted, status="fail")


def test_report_json_carries_references_and_reasons(dirty_audit):
    _, out = dirty_audit
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    by_id = {r["check_id"]: r for r in report["results"]}
    assert "SBS-SECCONF-001: Establish a Salesforce Health Check Baseline" in by_id["security.health-check-score"]["references"]
    assert any(r.startswith("SBS-CPORTAL-002") for r in by_id["security.guest-access"]["references"])
    for check_id in IDS:
        assert by_id[check_id]["references"], check_id
        assert all(by_id[check_id]["details"].values())


def test_clean_tenant_passes_through_the_files_connector(tmp_path):
    folder = tmp_path / "clean"
    generate_tenant(**SIZE, defects=False, name="acme", as_of=AS_OF).write(folder)
    results, _ = audit_folder(folder, tmp_path)
    for check_id in IDS:
        assert_findings(results[check_id], [], status="pass")


@pytest.mark.parametrize("check_id", IDS)
def test_run_check_agrees(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    assert_findings(crm_audit_run_check(check_id, tenant), tenant.planted(check_id))


def test_health_check_score_threshold_alone_fails(crm_audit_tenant, crm_audit_run_check):
    clean = crm_audit_tenant(**SIZE, defects=False)
    result = crm_audit_run_check("security.health-check-score", clean, settings={"min_score": 99.0})
    assert result.status == "fail" and result.affected.ids == [] and result.metrics["score"] == 97.0
    assert "scores 97 of 100 (at least 99 recommended)" in result.message


def test_dangerous_permissions_follow_the_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    only_manage = crm_audit_run_check("security.dangerous-permissions", tenant, settings={"permissions": ["manage_users"]})
    assert 0 < len(only_manage.affected.ids) < len(tenant.planted("security.dangerous-permissions"))
    assert all("manage_users" in d for d in only_manage.details.values())


def test_a_new_non_admin_grant_is_found(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE, defects=False)
    user = next(u for u in tenant.rows("users") if u["is_active"] and not u["is_admin"] and u["role"] == "sales_rep")
    tenant.add_rows("permissions", [{"user_id": user["id"], "permission": "super_admin", "via": "user"}])
    result = crm_audit_run_check("security.dangerous-permissions", tenant)
    assert_findings(result, [user["id"]])
    assert result.details[user["id"]] == "holds super_admin through user"


def test_connected_app_days_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    planted = set(tenant.planted("security.connected-app-access"))
    loose = crm_audit_run_check("security.connected-app-access", tenant, settings={"days": 3650})
    # with a ten-year window only the open app and the plain-HTTP webhook are left
    assert set(loose.affected.ids) < planted and loose.metrics["stale"] == 0


def test_admin_changes_window(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    wide = crm_audit_run_check("security.admin-changes", tenant, settings={"days": 3650})
    # ten years back also reaches the change a non-admin made 500 days ago
    assert set(tenant.planted("security.admin-changes")) < set(wide.affected.ids)


def test_outdated_packages_major_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    strict = crm_audit_run_check("updates.outdated-packages", tenant, settings={"major_versions_behind": 5})
    assert strict.metrics["outdated"] == 0 and strict.metrics["deprecated"] == 1


def test_guest_access_without_a_guest_user_judges_nothing(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    tables = dict(tenant.tables)
    users = tables["users"]
    keep = [r != "guest" for r in users.column("role").to_pylist()]
    tables["users"] = users.filter(keep)
    stripped = SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)
    result = crm_audit_run_check("security.guest-access", stripped)
    assert result.status == "pass" and result.affected.population == 0


@pytest.mark.parametrize("check_id,table", [("security.health-check-score", "security_settings"),
                                            ("security.dangerous-permissions", "permissions"),
                                            ("security.connected-app-access", "oauth_grants"),
                                            ("security.admin-changes", "audit_trail"),
                                            ("updates.outdated-packages", "packages")])
def test_skipped_when_the_table_is_missing(check_id, table, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    tables = dict(tenant.tables)
    tables.pop(table)
    stripped = SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)
    result = crm_audit_run_check(check_id, stripped)
    assert result.status == "skipped" and f"the {table} table" in result.reason


def test_clients_on_old_api_versions_needs_retired_versions(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    tenant.edit("platform", {"vendor": "sandbox"}, {"api_versions_deprecated": []})
    result = crm_audit_run_check("updates.clients-on-old-api-versions", tenant)
    assert result.status == "skipped" and "no retired or deprecated API versions" in result.reason
