"""open-work checks: unfinished tasks and deals."""

from types import SimpleNamespace

import pytest

from crm_audit_core.testing import assert_findings

SIZE = dict(contacts=800, seed=11)
IDS = ["open-work.overdue-tasks", "open-work.tasks-without-due-date", "open-work.tasks-without-owner",
       "open-work.deals-past-close-date", "open-work.stalled-deals", "open-work.lost-deals-without-reason",
       "open-work.deals-without-owner"]


@pytest.mark.parametrize("check_id", IDS)
def test_reports_exactly_the_planted_ids(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check(check_id, tenant)
    assert_findings(result, tenant.manifest["defects"][check_id]["ids"])
    assert set(result.details) == set(result.affected.ids)


@pytest.mark.parametrize("check_id", IDS)
def test_clean_tenant_passes(check_id, crm_audit_tenant, crm_audit_run_check):
    assert_findings(crm_audit_run_check(check_id, crm_audit_tenant(**SIZE, defects=False)), [])


def test_stalled_days_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    default = crm_audit_run_check("open-work.stalled-deals", tenant)
    strict = crm_audit_run_check("open-work.stalled-deals", tenant, settings={"days": 1})
    assert set(default.affected.ids) < set(strict.affected.ids)


def test_skipped_without_lost_reason(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    tables = dict(tenant.tables)
    tables["deals"] = tables["deals"].drop_columns(["lost_reason"])
    result = crm_audit_run_check("open-work.lost-deals-without-reason",
                                 SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of))
    assert result.status == "skipped" and "deals.lost_reason" in result.reason
