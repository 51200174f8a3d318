"""segmentation checks: unsegmented contacts, tiny segments, the segment distribution."""

from collections import Counter

import pytest

from crm_audit_core.testing import RowsTenant, without as stripped, assert_findings

SIZE = dict(contacts=800, seed=11)
PLANTED = ["data.unsegmented-contacts", "data.tiny-segments"]


def segment_sizes(tenant):
    sizes = Counter()
    for c in tenant.rows("contacts"):
        for s in {s.strip() for s in (c["segments"] or []) if s and s.strip()}:
            sizes[s] += 1
    return sizes


@pytest.mark.parametrize("check_id", PLANTED)
def test_reports_exactly_the_planted_ids(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    assert_findings(crm_audit_run_check(check_id, tenant), tenant.manifest["defects"][check_id]["ids"])


@pytest.mark.parametrize("check_id", PLANTED + ["data.segment-distribution"])
def test_clean_tenant_passes(check_id, crm_audit_tenant, crm_audit_run_check):
    assert_findings(crm_audit_run_check(check_id, crm_audit_tenant(defects=False, **SIZE)), [])


def test_tiny_segments_threshold(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    sizes = segment_sizes(tenant)
    result = crm_audit_run_check("data.tiny-segments", tenant, settings={"min_members": 100})
    assert sorted(result.affected.ids) == sorted(s for s, n in sizes.items() if n < 100)
    for name in result.affected.ids:
        assert result.details[name].startswith(f"{sizes[name]} member")
    assert sum(result.metrics["segments_by_size"].values()) == len(sizes)


def test_unsegmented_judged_on_what_the_crm_supplies(crm_audit_tenant, crm_audit_run_check):
    """Pipedrive has no lifecycle stage: segments and lead status still count."""
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.unsegmented-contacts", stripped(tenant, "contacts", "lifecycle_stage"))
    expected = [c["id"] for c in tenant.rows("contacts")
                if not (c["lead_status"] or "").strip() and not [s for s in (c["segments"] or []) if s.strip()]]
    assert_findings(result, expected)
    assert "lifecycle stage" in result.message  # says what it could not judge on


def test_distribution_metrics(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.segment-distribution", tenant, settings={"top": 3})
    assert result.status == "pass"
    m = result.metrics
    n = tenant.tables["contacts"].num_rows
    assert sum(m["by lifecycle stage"].values()) == n and sum(m["by lead status"].values()) == n
    assert len([k for k in m["by segment"] if not k.startswith("(")]) <= 3
    assert sum(m["by segment"].values()) == sum(segment_sizes(tenant).values())


def test_skipped_without_segments(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    for check_id in PLANTED:
        result = crm_audit_run_check(check_id, stripped(tenant, "contacts", "segments"))
        assert result.status == "skipped" and "contacts.segments" in result.reason


def test_tiny_segments_without_any_segment_is_skipped_not_passed(crm_audit_run_check):
    """The segments column is there but no contact is in a segment: nothing to measure."""
    tenant = RowsTenant(contacts=[{"id": "1", "segments": []}, {"id": "2", "segments": ["  "]}])
    result = crm_audit_run_check("data.tiny-segments", tenant)
    assert result.status == "skipped" and result.reason == "no contact is in any segment: there are no segments to measure"
    assert crm_audit_run_check("data.unsegmented-contacts", tenant).status == "fail"
