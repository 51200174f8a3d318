"""value checks: year over year and CRM ROI."""

from types import SimpleNamespace

import pytest

from crm_audit_core.testing import assert_findings

SIZE = dict(contacts=800, seed=11)


@pytest.mark.parametrize("defects", [True, False])
def test_year_over_year_metrics(defects, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE, defects=defects)
    result = crm_audit_run_check("value.year-over-year", tenant)
    assert_findings(result, [])
    m = result.metrics
    for period in ("audit_year", "previous_year"):
        for key in ("win_rate", "revenue_won", "average_deal_size", "sales_cycle_days_median",
                    "lead_to_customer_conversion", "crm_share_of_won_deals"):
            assert key in m[period]
    assert m["audit_year"]["deals_won"] > 0 and m["audit_year"]["start"] == "2025-12-31"
    assert set(m["change"]) >= {"win_rate", "revenue_won", "average_deal_size", "sales_cycle_days_median"}


def test_year_over_year_period_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("value.year-over-year", tenant, settings={"period_end": "2026-06-30", "days": 180})
    assert result.metrics["audit_year"]["end"] == "2026-06-30"
    assert result.metrics["previous_year"]["start"] == "2025-07-05"
    strict = crm_audit_run_check("value.year-over-year", tenant, settings={"max_decline": -10.0, "min_closed_deals": 1})
    assert strict.status == "fail"  # any change at all counts as a fall


def test_year_over_year_skipped_without_amounts(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    tables = dict(tenant.tables)
    tables["deals"] = tables["deals"].drop_columns(["amount"])
    result = crm_audit_run_check("value.year-over-year", SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of))
    assert result.status == "skipped" and "deals.amount" in result.reason


def test_roi_skipped_without_figures(crm_audit_tenant, crm_audit_run_check):
    result = crm_audit_run_check("value.crm-roi", crm_audit_tenant(**SIZE))
    assert result.status == "skipped" and "cost" in result.reason


def test_roi_computed(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("value.crm-roi", tenant, config={"value": {"cost": 20000, "gain": 50000, "currency": "EUR"}})
    assert result.status == "pass" and result.metrics["roi"] == 1.5 and result.metrics["currency"] == "EUR"
    losing = crm_audit_run_check("value.crm-roi", tenant, config={"value": {"cost": 20000, "gain": 15000}})
    assert losing.status == "fail" and losing.metrics["roi"] == -0.25
    demanding = crm_audit_run_check("value.crm-roi", tenant, config={"value": {"cost": 20000, "gain": 50000}},
                                    settings={"min_roi": 2.0})
    assert demanding.status == "fail"


def test_roi_bad_figures_are_an_error(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("value.crm-roi", tenant, config={"value": {"cost": "a lot", "gain": 5}})
    assert result.status == "error" and "value.cost" in result.reason
    zero = crm_audit_run_check("value.crm-roi", tenant, config={"value": {"cost": 0, "gain": 5}})
    assert zero.status == "error"
