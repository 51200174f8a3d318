"""security checks: access control and risky logins."""

from types import SimpleNamespace

import pytest

from crm_audit_core.testing import assert_findings

SIZE = dict(contacts=800, seed=11)
IDS = ["security.too-many-admins", "security.dormant-users", "security.departed-users-owning-work",
       "security.users-without-mfa", "security.failed-login-bursts", "security.logins-from-many-ips",
       "security.integration-users-with-admin"]


@pytest.mark.parametrize("check_id", IDS)
def test_reports_exactly_the_planted_ids(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    assert_findings(crm_audit_run_check(check_id, tenant), tenant.manifest["defects"][check_id]["ids"])


@pytest.mark.parametrize("check_id", IDS)
def test_clean_tenant_passes(check_id, crm_audit_tenant, crm_audit_run_check):
    assert_findings(crm_audit_run_check(check_id, crm_audit_tenant(**SIZE, defects=False)), [])


def test_admin_share_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE, defects=False)
    result = crm_audit_run_check("security.too-many-admins", tenant, settings={"max_share": 0.0})
    assert result.status == "fail" and result.metrics["active_admins"] == len(result.affected.ids) > 0


def test_burst_settings(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    planted = set(tenant.manifest["defects"]["security.failed-login-bursts"]["ids"])
    loose = crm_audit_run_check("security.failed-login-bursts", tenant, settings={"failures": 1})
    assert planted <= set(loose.affected.ids)
    tight = crm_audit_run_check("security.failed-login-bursts", tenant, settings={"failures": 1000})
    assert tight.status == "pass"


def test_dormant_days_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    planted = set(tenant.manifest["defects"]["security.dormant-users"]["ids"])
    result = crm_audit_run_check("security.dormant-users", tenant, settings={"days": 3650})
    assert set(result.affected.ids) <= planted


def test_skipped_without_login_events(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    tables = dict(tenant.tables)
    tables.pop("login_events")
    stripped = SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)
    for check_id in ("security.failed-login-bursts", "security.logins-from-many-ips"):
        result = crm_audit_run_check(check_id, stripped)
        assert result.status == "skipped" and "login_events" in result.reason


def test_dormant_users_name_their_licence_and_frozen_state(crm_audit_tenant):
    from crm_audit_core.testing import run_check

    tenant = crm_audit_tenant(contacts=300, seed=4)
    planted = tenant.planted("security.dormant-users")
    assert planted
    users = {u["id"]: u for u in tenant.rows("users")}
    first = planted[0]
    tenant.edit("users", {"id": first}, {"license": "Salesforce", "is_frozen": True})
    result = run_check("security.dormant-users", tenant)
    assert sorted(result.affected.ids) == sorted(planted)
    assert "holds a Salesforce licence" in result.details[str(first)] and "frozen" in result.details[str(first)]
    held = result.metrics["licences_held_by_dormant_users"]
    expected = {}
    for uid in planted:
        lic = "Salesforce" if uid == first else users[uid].get("license")
        if lic:
            expected[lic] = expected.get(lic, 0) + 1
    assert held == expected
