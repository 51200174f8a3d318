"""updates checks: platform API versions."""

from types import SimpleNamespace

import pyarrow as pa
import pytest

from crm_audit_checks.updates import version_key
from crm_audit_core.testing import assert_findings

SIZE = dict(contacts=800, seed=11)
IDS = ["updates.outdated-api-version", "updates.deprecated-api-version"]


def with_platform(tenant, rows):
    tables = dict(tenant.tables)
    tables["platform"] = pa.Table.from_pylist(rows, schema=tenant.tables["platform"].schema)
    return SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)


@pytest.mark.parametrize("check_id", IDS)
def test_reports_exactly_the_planted_ids(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    assert_findings(crm_audit_run_check(check_id, tenant), tenant.manifest["defects"][check_id]["ids"])


@pytest.mark.parametrize("check_id", IDS)
def test_clean_tenant_passes(check_id, crm_audit_tenant, crm_audit_run_check):
    assert_findings(crm_audit_run_check(check_id, crm_audit_tenant(**SIZE, defects=False)), [])


def test_version_order():
    assert version_key("v59.0") < version_key("v61.0")
    assert version_key("2024-01") < version_key("2025-09")
    assert version_key("v3") < version_key("v4") and version_key("v1") < version_key("v2")
    assert version_key("59") == version_key("59.0")
    assert version_key("v10") > version_key("v9")  # numbers, not text


def test_vendor_is_the_affected_id(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE, defects=False)
    row = tenant.rows("platform")[0]
    row = {**row, "api_version_used": "v1.0", "api_version_latest": "v12.0", "api_versions_deprecated": ["v1.0", "v2.0"]}
    changed = with_platform(tenant, [row])
    for check_id in IDS:
        result = crm_audit_run_check(check_id, changed)
        assert_findings(result, [row["vendor"]])
        assert result.details[row["vendor"]]


def test_skipped_without_versions(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    tables = dict(tenant.tables)
    tables.pop("platform")
    result = crm_audit_run_check("updates.outdated-api-version", SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of))
    assert result.status == "skipped"
