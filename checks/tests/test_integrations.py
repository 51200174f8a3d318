"""integrations checks: stopped, spiking and stale integrations, impossible counts, sync counts."""

import pytest

from crm_audit_core.testing import without as stripped, assert_findings

SIZE = dict(contacts=800, seed=11)
IDS = ["integrations.stopped-integrations", "integrations.spiking-integrations", "integrations.stale-syncs",
       "integrations.silent-integrations",
       "integrations.campaign-count-sanity", "integrations.sync-count-mismatch"]


@pytest.mark.parametrize("check_id", IDS)
def test_reports_exactly_the_planted_ids(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check(check_id, tenant)
    assert_findings(result, tenant.manifest["defects"][check_id]["ids"])
    assert set(result.details) == set(result.affected.ids)


@pytest.mark.parametrize("check_id", IDS)
def test_clean_tenant_passes(check_id, crm_audit_tenant, crm_audit_run_check):
    assert_findings(crm_audit_run_check(check_id, crm_audit_tenant(**SIZE, defects=False)), [])


def test_spike_metrics_and_factor(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("integrations.spiking-integrations", tenant)
    daily = result.metrics["daily_records_by_source"]
    assert len(daily["dates"]) == 90 and len(daily) > 1
    huge = crm_audit_run_check("integrations.spiking-integrations", tenant, settings={"factor": 1e6})
    assert huge.status == "pass"


def test_sync_counts_from_the_config(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE, defects=False)
    [integration] = tenant.rows("integrations")[:1]
    clean = crm_audit_run_check("integrations.sync-count-mismatch", tenant)
    held = clean.metrics["counts"][integration["name"]]["in_crm"]
    config = {"integrations": {tenant.name: {integration["name"]: held * 2 + 10}}}
    result = crm_audit_run_check("integrations.sync-count-mismatch", tenant, config=config)
    assert_findings(result, [integration["id"]])
    within = {"integrations": {tenant.name: {integration["id"]: round(held * 1.04)}}}
    assert crm_audit_run_check("integrations.sync-count-mismatch", tenant, config=within).status == "pass"
    tolerant = crm_audit_run_check("integrations.sync-count-mismatch", tenant, config=config, settings={"tolerance": 10.0})
    assert tolerant.status == "pass"


def test_sync_counts_from_a_plugin(crm_audit_tenant, crm_audit_run_check, crm_audit_plugin):
    """A third party supplies the other system's count through the crm_audit_integration_counts hook."""
    from crm_audit_core import hookimpl

    clean = crm_audit_tenant(**SIZE, defects=False)
    [integration] = clean.rows("integrations")[:1]
    tenant = stripped(clean, "integrations", "records_reported")
    seen = []

    class MailingTool:
        @hookimpl
        def crm_audit_integration_counts(self, tenant, integrations, config):
            seen.append(sorted(i["name"] for i in integrations))
            return {integration["name"]: 1_000_000}

    crm_audit_plugin(MailingTool())
    result = crm_audit_run_check("integrations.sync-count-mismatch", tenant)
    assert seen and integration["name"] in seen[0]
    assert_findings(result, [integration["id"]])
    assert result.metrics["counts"][integration["name"]]["reported"] == 1_000_000


def test_sync_counts_skipped_when_nobody_reports(crm_audit_tenant, crm_audit_run_check):
    tenant = stripped(crm_audit_tenant(**SIZE), "integrations", "records_reported")
    result = crm_audit_run_check("integrations.sync-count-mismatch", tenant)
    assert result.status == "skipped" and "reported" in result.reason


def test_stale_days_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    planted = set(tenant.manifest["defects"]["integrations.stale-syncs"]["ids"])
    assert planted
    result = crm_audit_run_check("integrations.stale-syncs", tenant, settings={"days": 3650})
    assert result.affected.ids == [] and result.status == "pass"  # no planted sync is ten years old


def test_skipped_without_needed_data(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    assert crm_audit_run_check("integrations.campaign-count-sanity", stripped(tenant, "campaigns")).status == "skipped"
    assert crm_audit_run_check("integrations.stale-syncs", stripped(tenant, "integrations", "last_sync_at")).status == "skipped"
    no_sources = stripped(stripped(stripped(tenant, "contacts", "source_detail"), "companies", "source_detail"), "deals", "source_detail")
    result = crm_audit_run_check("integrations.stopped-integrations", no_sources)
    assert result.status == "skipped" and "source_detail" in result.reason


SILENT = "integrations.silent-integrations"


def test_silent_settings(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check(SILENT, tenant)
    linkedin = next(i for i in tenant.rows("integrations") if i["name"] == "LinkedIn Lead Gen")
    judged = result.metrics["integrations"]["LinkedIn Lead Gen"]
    assert judged["usual_gap_days"] == 1 and 4 <= judged["days_silent"] < 7
    assert "LinkedIn Lead Gen: no record created and no sync for" in result.details[linkedin["id"]]
    assert "its usual gap is 1 day" in result.details[linkedin["id"]]
    assert crm_audit_run_check(SILENT, tenant, settings={"min_days": 30}).status == "pass"
    assert crm_audit_run_check(SILENT, tenant, settings={"factor": 100.0}).status == "pass"
    # nothing judged is not a pass: every integration lacked the history to know its rhythm
    sparse = crm_audit_run_check(SILENT, tenant, settings={"min_active_days": 1000})
    assert sparse.status == "skipped"
    assert "no integration had at least 1,000 active days" in sparse.reason  # counts are grouped (i18n)
    assert f"({len(tenant.rows('integrations'))} integrations not judged)" in sparse.reason


def test_silent_without_last_sync_reads_the_records(crm_audit_tenant, crm_audit_run_check):
    """Without last_sync_at only the records speak: Typeform, which stopped creating contacts
    36-45 days ago after a steady flow, is silent too."""
    tenant = crm_audit_tenant(**SIZE)
    typeform = next(i["id"] for i in tenant.rows("integrations") if i["name"] == "Typeform")
    result = crm_audit_run_check(SILENT, stripped(tenant, "integrations", "last_sync_at"))
    assert_findings(result, sorted({*tenant.manifest["defects"][SILENT]["ids"], typeform}))
    assert "was a record it created" in result.details[typeform]


def test_silent_runs_on_integrations_derived_from_the_records(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check(SILENT, stripped(tenant, "integrations"))
    assert {"LinkedIn Lead Gen", "Accounting Sync", "Typeform"} <= set(result.affected.ids)


def test_silent_skipped_when_no_activity_is_visible(crm_audit_tenant, crm_audit_run_check):
    tenant = stripped(crm_audit_tenant(**SIZE), "integrations", "last_sync_at")
    for table in ("contacts", "companies", "deals"):
        tenant = stripped(tenant, table, "source_detail")
    result = crm_audit_run_check(SILENT, tenant)
    assert result.status == "skipped" and "last_sync_at" in result.reason and "source_detail" in result.reason
