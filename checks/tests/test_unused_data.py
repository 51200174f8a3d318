"""unused-data checks: sparse and empty custom fields, untouched contacts and companies, empty stages."""

from datetime import timedelta
from types import SimpleNamespace

import pyarrow as pa
import pytest

from crm_audit_core.testing import without as stripped, assert_findings

SIZE = dict(contacts=800, seed=11)
IDS = ["data.sparse-custom-fields", "data.empty-custom-fields", "data.untouched-contacts",
       "data.untouched-companies", "data.empty-stages"]


@pytest.mark.parametrize("check_id", IDS)
def test_reports_exactly_the_planted_ids(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check(check_id, tenant)
    assert_findings(result, tenant.manifest["defects"][check_id]["ids"])


@pytest.mark.parametrize("check_id", IDS)
def test_clean_tenant_passes(check_id, crm_audit_tenant, crm_audit_run_check):
    assert_findings(crm_audit_run_check(check_id, crm_audit_tenant(defects=False, **SIZE)), [])


def _fill_percent(tenant, key):
    table, name = key.split(".", 1)
    values = tenant.tables[table].column(name).to_pylist()
    return 100.0 * sum(1 for v in values if v not in (None, "")) / len(values)


def test_custom_field_fill_rates(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.sparse-custom-fields", tenant)
    rates = result.metrics["fill_percent"]
    declared = {f"{f['object']}.{f['name']}" for f in tenant.rows("fields") if f["is_custom"]}
    assert set(rates) == declared
    for key, share in rates.items():
        assert share == pytest.approx(_fill_percent(tenant, key), abs=0.01)
    for key in result.affected.ids:
        assert "filled on" in result.details[key]
    # a higher floor catches more fields; the empty ones never count as sparse
    wider = crm_audit_run_check("data.sparse-custom-fields", tenant, settings={"min_fill_percent": 101.0})
    assert sorted(wider.affected.ids) == sorted(k for k, v in rates.items() if v > 0)


def test_untouched_years_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    # a contact nobody updated for 500 days and with no activity at all: untouched for one
    # year, not for two (the generated tenant need not hold one by chance)
    worked = {a["contact_id"] for a in tenant.rows("activities")}
    planted = {i for e in tenant.manifest["defects"].values() for i in e["ids"]}
    idle = next(c for c in tenant.rows("contacts") if c["id"] not in worked and c["id"] not in planted)
    tenant.edit("contacts", {"id": idle["id"]}, {"updated_at": tenant.as_of - timedelta(days=500),
                                                 "created_at": tenant.as_of - timedelta(days=900)})
    default = crm_audit_run_check("data.untouched-contacts", tenant)
    one_year = crm_audit_run_check("data.untouched-contacts", tenant, settings={"years": 1})
    assert set(default.affected.ids) < set(one_year.affected.ids)
    assert idle["id"] in one_year.affected.ids and idle["id"] not in default.affected.ids
    years = default.metrics["last_touched_by_year"]
    assert sum(years.values()) == tenant.tables["contacts"].num_rows


def test_untouched_contacts_counts_recent_activity(crm_audit_tenant, crm_audit_run_check):
    """A planted untouched contact given a fresh call is no longer untouched."""
    tenant = crm_audit_tenant(**SIZE)
    planted = tenant.manifest["defects"]["data.untouched-contacts"]["ids"]
    acts = tenant.tables["activities"]
    row = acts.slice(0, 1).to_pylist()[0]
    row.update(id="999999999", contact_id=planted[0], company_id=None, deal_id=None,
               created_at=tenant.as_of - timedelta(days=100))
    tables = dict(tenant.tables)
    tables["activities"] = pa.concat_tables([acts, pa.Table.from_pylist([row], schema=acts.schema)])
    changed = SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)
    assert_findings(crm_audit_run_check("data.untouched-contacts", changed), planted[1:])


def test_untouched_without_activities_uses_last_activity(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.untouched-contacts", stripped(tenant, "activities"))
    assert result.status in ("pass", "fail") and "last_activity_at" in result.message
    assert set(tenant.manifest["defects"]["data.untouched-contacts"]["ids"]) <= set(result.affected.ids)


def test_empty_stage_details_and_metrics(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.empty-stages", tenant)
    per_stage = result.metrics["deals_per_stage"]
    assert sum(n for stages in per_stage.values() for n in stages.values()) <= tenant.tables["deals"].num_rows
    for sid in result.affected.ids:
        assert "no deals" in result.details[sid]


def test_skipped_when_data_is_missing(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.empty-stages", stripped(tenant, "stages"))
    assert result.status == "skipped" and "stages" in result.reason
    result = crm_audit_run_check("data.sparse-custom-fields", stripped(tenant, "fields"))
    assert result.status == "skipped" and "fields" in result.reason
    result = crm_audit_run_check("data.untouched-companies", stripped(tenant, "companies", "updated_at"))
    assert result.status == "skipped" and "companies.updated_at" in result.reason
