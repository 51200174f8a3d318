"""missing-data checks: unreachable contacts, companies without domain, incomplete deals,
contacts without company or stage, key-field completeness."""

from types import SimpleNamespace

import pytest

from crm_audit_core.testing import without as stripped, assert_findings

SIZE = dict(contacts=800, seed=11)
PLANTED = ["data.unreachable-contacts", "data.companies-without-domain", "data.incomplete-deals",
           "data.contacts-without-company-or-stage"]
ALL = PLANTED + ["data.key-field-completeness"]


@pytest.mark.parametrize("check_id", PLANTED)
def test_reports_exactly_the_planted_ids(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check(check_id, tenant)
    assert_findings(result, tenant.manifest["defects"][check_id]["ids"])
    assert result.affected.population == tenant.tables[result.affected.object].num_rows


@pytest.mark.parametrize("check_id", ALL)
def test_clean_tenant_passes(check_id, crm_audit_tenant, crm_audit_run_check):
    assert_findings(crm_audit_run_check(check_id, crm_audit_tenant(defects=False, **SIZE)), [])


def test_incomplete_deal_details_say_what_is_missing(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.incomplete-deals", tenant)
    deals = {d["id"]: d for d in tenant.rows("deals")}
    for rid, text in result.details.items():
        d = deals[rid]
        assert ("amount" in text) == (d["amount"] is None)
        assert ("close date" in text) == (d["close_date"] is None)
        assert ("stage" in text) == (not (d["stage"] or "").strip())
    assert sum(result.metrics["missing"].values()) >= len(result.affected.ids)


def test_contacts_without_company_or_stage_details(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.contacts-without-company-or-stage", tenant)
    contacts = {c["id"]: c for c in tenant.rows("contacts")}
    for rid, text in result.details.items():
        assert ("lifecycle stage" in text) == (not contacts[rid]["lifecycle_stage"])


def test_key_field_completeness_matrix_and_floor(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(defects=False, **SIZE)
    result = crm_audit_run_check("data.key-field-completeness", tenant)
    matrix = result.metrics["completeness_percent"]
    assert set(matrix) == {"contacts", "companies", "deals"}
    assert all(0 <= v <= 100 for row in matrix.values() for v in row.values())
    assert matrix["contacts"]["first_name"] == 100.0
    strict = crm_audit_run_check("data.key-field-completeness", tenant, settings={"floor_percent": 100.0})
    below = [f"{t}.{f}" for t, row in matrix.items() for f, v in row.items() if v < 100.0]
    assert below and strict.status == "fail" and sorted(strict.affected.ids) == sorted(below)
    assert all("under the floor of 100%" in strict.details[i] for i in below)


def test_key_fields_may_name_custom_fields(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    custom = tenant.custom_fields("contacts")
    assert custom
    values = tenant.tables["contacts"].column(custom[0]).to_pylist()
    filled = sum(1 for v in values if v not in (None, ""))
    result = crm_audit_run_check("data.key-field-completeness", tenant,
                                 settings={"key_fields": {"contacts": [custom[0], "email"]}, "floor_percent": 0.0})
    share = result.metrics["completeness_percent"]["contacts"][custom[0]]
    assert share == round(100.0 * filled / len(values), 2)


def test_settings_from_the_config_file(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(defects=False, **SIZE)
    result = crm_audit_run_check("data.key-field-completeness", tenant,
                                 config={"checks": {"data.key-field-completeness": {"floor_percent": 100.0}}})
    assert result.status == "fail"


def test_skipped_when_a_needed_column_is_missing(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.unreachable-contacts", stripped(tenant, "contacts", "phone"))
    assert result.status == "skipped" and "contacts.phone" in result.reason
    result = crm_audit_run_check("data.incomplete-deals", stripped(tenant, "deals"))
    assert result.status == "skipped" and "deals" in result.reason


def test_blank_text_counts_as_missing(crm_audit_tenant, crm_audit_run_check):
    import pyarrow as pa

    tenant = crm_audit_tenant(defects=False, **SIZE)
    companies = tenant.tables["companies"]
    domains = companies.column("domain").to_pylist()
    domains[0], domains[1] = "   ", "\t"
    tables = dict(tenant.tables)
    tables["companies"] = companies.set_column(companies.column_names.index("domain"), "domain", pa.array(domains))
    changed = SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)
    ids = companies.column("id").to_pylist()[:2]
    assert_findings(crm_audit_run_check("data.companies-without-domain", changed), ids)
