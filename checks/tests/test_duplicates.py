"""Duplicate checks on generated tenants: exact planted clusters, quality, settings, skips."""

from datetime import datetime, timezone
from itertools import combinations

import pyarrow as pa
import pytest

from crm_audit_core import model
from crm_audit_core.testing import assert_findings

from crm_audit_checks import duplicates

CHECKS = {c.id: c for c in duplicates.CHECKS}
TABLE_OF = {"data.duplicate-contacts": "contacts", "data.duplicate-companies": "companies",
            "data.duplicate-deals": "deals"}


@pytest.fixture(scope="module")
def tenant(crm_audit_tenant):
    return crm_audit_tenant(contacts=1000, seed=1)


def pairs(groups):
    return {frozenset(p) for g in groups for p in combinations(g, 2)}


def f1(found, truth):
    got, want = pairs(found), pairs(truth)
    tp = len(got & want)
    precision = tp / len(got) if got else 0.0
    recall = tp / len(want) if want else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@pytest.mark.parametrize("check_id", sorted(TABLE_OF))
def test_reports_exactly_the_planted_clusters(tenant, crm_audit_run_check, check_id):
    result = crm_audit_run_check(CHECKS[check_id], tenant)
    assert_findings(result, tenant.manifest["defects"][check_id]["ids"])
    want = sorted(sorted(g) for g in tenant.manifest["duplicates"][TABLE_OF[check_id]])
    assert sorted(sorted(g) for g in result.groups) == want
    assert result.metrics["clusters"] == len(want)
    assert result.affected.population and result.affected.population > len(result.affected.ids)


def test_contact_matching_quality(crm_audit_tenant, crm_audit_run_check):
    generated = crm_audit_tenant(contacts=1500, seed=2)
    result = crm_audit_run_check(CHECKS["data.duplicate-contacts"], generated)
    assert f1(result.groups, generated.manifest["duplicates"]["contacts"]) >= 0.95


def test_common_names_are_never_clustered(tenant, crm_audit_run_check):
    result = crm_audit_run_check(CHECKS["data.duplicate-contacts"], tenant)
    namesakes = tenant.manifest["common_names"]["contacts"]
    assert namesakes and all(len(s) >= 2 for s in namesakes)
    for people in namesakes:
        for group in result.groups:
            assert len(set(people) & set(group)) <= 1, f"namesakes {sorted(set(people) & set(group))} clustered"


def test_details_name_the_keeper_and_the_creator(tenant, crm_audit_run_check):
    result = crm_audit_run_check(CHECKS["data.duplicate-contacts"], tenant)
    sources = tenant.manifest["duplicate_sources"]
    for group in result.groups:
        keep = [i for i in group if result.details[i].startswith("keep this record")]
        assert len(keep) == 1
        for other in set(group) - set(keep):
            text = result.details[other]
            assert text.startswith(f"duplicate of {keep[0]} (keep {keep[0]}: ")
            assert " fields filled" in text and "; created by " in text
            if other in sources:
                assert text.endswith(f"created by {sources[other]}")
    metrics = result.metrics
    assert metrics["records"] == len(result.affected.ids)
    assert metrics["duplicates"] == len(result.affected.ids) - len(result.groups)
    assert sum(metrics["keep_choices"].values()) == len(result.groups)
    assert sum(metrics["duplicates_by_source"].values()) == metrics["duplicates"]
    planted_integrations = {}
    for group in tenant.manifest["duplicates"]["contacts"]:
        for rid in group:
            if rid in sources:
                planted_integrations[sources[rid]] = planted_integrations.get(sources[rid], 0) + 1
    for name, count in planted_integrations.items():
        assert metrics["duplicates_by_source"].get(name) == count


def test_duplicates_by_source_reports_the_planted_integrations(tenant, crm_audit_run_check):
    result = crm_audit_run_check(CHECKS["integrations.duplicates-by-source"], tenant)
    planted = tenant.manifest["defects"]["integrations.duplicates-by-source"]["ids"]
    assert planted
    assert_findings(result, planted)
    counts = result.metrics["duplicates_by_integration"]
    assert set(counts) == {r["name"] for r in tenant.rows("integrations")}
    overridden = crm_audit_run_check(CHECKS["integrations.duplicates-by-source"], tenant,
                                     settings={"min_duplicates": 10_000})
    assert_findings(overridden, [])


def test_both_checks_share_one_clustering(tenant):
    """integrations.duplicates-by-source reads the clusters the duplicate checks memoised."""
    import tempfile
    from pathlib import Path

    from crm_audit_core.config import AuditConfig
    from crm_audit_core.runner import run_checks
    from crm_audit_core.store import Store
    from crm_audit_core.testing import load_tenant, registry_with

    calls = []
    original = duplicates._contact_clusters

    def counting(ctx, settings):
        calls.append(settings)
        return original(ctx, settings)

    checks = [CHECKS["data.duplicate-contacts"], CHECKS["integrations.duplicates-by-source"]]
    settings = {c.id: dict(c.settings) for c in checks}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "s.duckdb")
        try:
            name = load_tenant(store, tenant)
            duplicates._contact_clusters = counting
            contacts, by_source = run_checks(registry_with(), store, name, checks, settings,
                                             tenant.as_of, AuditConfig())
        finally:
            duplicates._contact_clusters = original
            store.close()
    assert len(calls) == 1
    made = contacts.metrics["duplicates_by_source"]
    for integration, count in by_source.metrics["duplicates_by_integration"].items():
        assert count["contacts"] == made.get(integration, 0)


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_clean_tenant_passes(crm_audit_tenant, crm_audit_run_check, check_id):
    clean = crm_audit_tenant(contacts=1000, seed=1, defects=False)
    assert_findings(crm_audit_run_check(CHECKS[check_id], clean), [])


def test_settings_change_the_result(tenant, crm_audit_run_check):
    check = CHECKS["data.duplicate-contacts"]
    # Blocks of one record compare nothing.
    assert_findings(crm_audit_run_check(check, tenant, settings={"max_block": 1}), [])
    # Deals: demanding identical names after folding still finds the planted copies
    # (they fold to the same text); demanding a zero amount difference keeps them too.
    deals = CHECKS["data.duplicate-deals"]
    strict = crm_audit_run_check(deals, tenant, settings={"name_threshold": 1.0, "amount_tolerance": 0.0})
    assert_findings(strict, tenant.manifest["defects"]["data.duplicate-deals"]["ids"])
    assert_findings(crm_audit_run_check(deals, tenant, settings={"max_block": 1}), [])


def test_settings_from_the_audit_config_reach_the_shared_clusters(tenant, crm_audit_run_check):
    """integrations.duplicates-by-source follows [checks."data.duplicate-contacts"] settings."""
    config = {"checks": {"data.duplicate-contacts": {"max_block": 1}, "data.duplicate-companies": {"max_block": 1}}}
    result = crm_audit_run_check(CHECKS["integrations.duplicates-by-source"], tenant, config=config)
    assert_findings(result, [])


class HandTenant:
    """A tiny hand-written tenant (what the generator would never produce)."""

    name = "hand"
    as_of = datetime(2026, 12, 31, tzinfo=timezone.utc)

    def __init__(self, **tables):
        self.tables = {}
        for table, rows in tables.items():
            present = [c for c in model.TABLES[table].column_names if any(c in r for r in rows)]
            self.tables[table] = pa.table({c: [r.get(c) for r in rows] for c in present})


def test_skipped_without_the_needed_columns(crm_audit_run_check):
    # Contract changed with issue 17: names alone are enough to *run* data.duplicate-contacts
    # (it says which evidence it had, and a name alone never makes a match); the other
    # checks still need their tables.
    hand = HandTenant(contacts=[{"id": "1", "first_name": "Budi", "last_name": "Santoso"},
                                {"id": "2", "first_name": "Budi", "last_name": "Santoso"}])
    for check_id in ("data.duplicate-companies", "data.duplicate-deals", "integrations.duplicates-by-source"):
        result = crm_audit_run_check(CHECKS[check_id], hand)
        assert result.status == "skipped", (check_id, result.status)
        assert result.reason
    contacts = crm_audit_run_check(CHECKS["data.duplicate-contacts"], hand)
    assert contacts.status == "pass", contacts.reason
    assert contacts.metrics["evidence_used"]["compared"] == ["given name", "family name"]
    assert "compared on given name and family name" in contacts.message


def test_hand_written_variants(crm_audit_run_check):
    contacts = [
        {"id": "1", "first_name": "Budi", "last_name": "Santoso", "email": "budi.santoso@gmail.com",
         "phone": "0812-3456-7890", "country": "ID", "company_id": "100", "source": "ui",
         "updated_at": datetime(2026, 1, 1), "created_at": datetime(2024, 1, 1)},
        {"id": "2", "first_name": "BUDI", "last_name": "Santoso", "email": "BudiSantoso+news@GMail.com",
         "country": "ID", "source": "integration", "source_detail": "Mailchimp", "created_at": datetime(2025, 1, 1)},
        {"id": "3", "first_name": "Santoso", "last_name": "Budi", "phone": "+62 812-3456-7890", "country": "ID",
         "source": "import", "created_at": datetime(2025, 2, 1)},
        # Same common name, different e-mail, phone and company: another person.
        {"id": "4", "first_name": "Budi", "last_name": "Santoso", "email": "bsantoso@yahoo.co.id",
         "phone": "0813-1111-2222", "country": "ID", "company_id": "101", "source": "ui"},
        {"id": "5", "first_name": "민준", "last_name": "김", "email": "minjun.kim@hanbit.co.kr",
         "phone": "010-2222-3333", "country": "KR", "company_id": "102", "source": "ui",
         "created_at": datetime(2024, 1, 1)},
        {"id": "6", "first_name": "김민준", "phone": "+82 10-2222-3333", "country": "KR",
         "source": "integration", "source_detail": "Zapier", "created_at": datetime(2025, 1, 1)},
        {"id": "7", "first_name": "Robert'); DROP TABLE contacts;--", "last_name": "x", "email": "x@y.z"},
    ]
    integrations = [{"id": "900", "name": "Mailchimp"}, {"id": "901", "name": "Zapier"}, {"id": "902", "name": "Slack"}]
    hand = HandTenant(contacts=contacts, integrations=integrations)
    result = crm_audit_run_check(CHECKS["data.duplicate-contacts"], hand)
    assert result.groups == [["1", "2", "3"], ["5", "6"]]
    assert result.details["2"].startswith("duplicate of 1 (keep 1: ")
    assert result.details["2"].endswith("created by Mailchimp")
    assert result.details["6"].endswith("created by Zapier")
    assert result.metrics["evidence"] == {"email": 1, "phone": 2}
    by_source = crm_audit_run_check(CHECKS["integrations.duplicates-by-source"], hand)
    assert_findings(by_source, ["900", "901"])
    assert by_source.details["900"] == "Mailchimp created 1 duplicate contact"
