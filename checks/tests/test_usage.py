"""usage-review checks on generated tenants: exact planted ids, clean tenant, settings, skips."""

import pytest

from crm_audit_core.testing import without, assert_findings

SIZE = dict(contacts=800, seed=11)
PLANTED = ["usage.login-adoption", "usage.inactive-users", "usage.won-deals-without-activity"]
ALL = PLANTED + ["usage.activity-timeline"]


@pytest.mark.parametrize("check_id", PLANTED)
def test_reports_exactly_the_planted_ids(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check(check_id, tenant)
    status = None
    if check_id == "usage.login-adoption":  # fails on the share, not on the mere presence of ids
        status = "fail" if result.metrics["share_logged_in"] < result.metrics["min_share"] else "pass"
    assert_findings(result, tenant.manifest["defects"][check_id]["ids"], status=status)


@pytest.mark.parametrize("contacts", [300, 20000])
def test_login_adoption_lists_the_users_at_any_share(contacts, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(contacts=contacts, seed=2)
    result = crm_audit_run_check("usage.login-adoption", tenant)
    share = result.metrics["share_logged_in"]
    assert_findings(result, tenant.manifest["defects"]["usage.login-adoption"]["ids"],
                    status="fail" if share < 0.8 else "pass")


@pytest.mark.parametrize("check_id", ALL)
def test_clean_tenant_passes(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE, defects=False)
    result = crm_audit_run_check(check_id, tenant)
    assert_findings(result, [])


def test_login_adoption_metrics_and_threshold(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("usage.login-adoption", tenant)
    m = result.metrics
    assert m["active_users"] == m["logged_in"] + m["not_logged_in"]
    assert m["not_logged_in"] == len(result.affected.ids)
    assert m["daily_users_logging_in"]
    # A lenient minimum share passes, though the users are still listed.
    lenient = crm_audit_run_check("usage.login-adoption", tenant, settings={"min_share": 0.0})
    assert lenient.status == "pass" and lenient.affected.ids == result.affected.ids


def test_login_adoption_window_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE, defects=False)
    result = crm_audit_run_check("usage.login-adoption", tenant, settings={"days": 0, "min_share": 0.99})
    assert result.status == "fail" and result.affected.ids


def test_inactive_users_rates_by_type(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("usage.inactive-users", tenant)
    rates = result.metrics["per_user_per_working_day"]
    assert set(next(iter(rates.values()))) >= {"call", "sms", "email", "meeting"}
    for uid in result.affected.ids:
        assert sum(rates[uid].values()) == 0
    assert result.metrics["working_days"] > 60


def test_activity_timeline_is_information(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("usage.activity-timeline", tenant)
    assert result.status == "pass" and result.severity == "info"
    m = result.metrics
    assert len(m["daily"]["dates"]) == 365 and len(m["daily"]["call"]) == 365
    assert set(m["logged"]) == {"call", "sms", "email", "meeting"}
    assert sum(m["logged"].values()) > 0
    assert 0 < m["deals_won_through_crm"] <= m["deals_won"]
    short = crm_audit_run_check("usage.activity-timeline", tenant, settings={"days": 30})
    assert len(short.metrics["daily"]["dates"]) == 30


def test_skipped_without_activities(crm_audit_tenant, crm_audit_run_check):
    tenant = without(crm_audit_tenant(**SIZE), "activities")
    for check_id in ("usage.inactive-users", "usage.won-deals-without-activity", "usage.activity-timeline"):
        result = crm_audit_run_check(check_id, tenant)
        assert result.status == "skipped" and "activities" in result.reason


def test_skipped_without_last_login(crm_audit_tenant, crm_audit_run_check):
    tenant = without(crm_audit_tenant(**SIZE), "users", "last_login_at")
    result = crm_audit_run_check("usage.login-adoption", tenant)
    assert result.status == "skipped" and "users.last_login_at" in result.reason
