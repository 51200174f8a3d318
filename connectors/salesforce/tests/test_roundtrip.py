"""Salesforce-specific parts of the round trip (canonical tenant -> sandbox over HTTPS ->
connector): ids, custom fields, platform and fields, batch sizes. The round trip of every
mapped column, the minimum of calls and zero writes are the acceptance suite's
(test_acceptance.py)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from crm_audit_core.sandbox import generate_tenant

from crm_audit_salesforce import mapping as m
from crm_audit_salesforce.sandbox import start_sandbox

from sf_testkit import custom_differences, make_tenant, run

TABLES = ["users", "login_events", "companies", "contacts", "deals", "stages", "activities", "campaigns"]


def test_ids_map_reversibly():
    for number in ("0", "1", "42", "1000", "987654321012345678"):
        for sobject, prefix in m.KEY_PREFIXES.items():
            sf_id = m.to_salesforce_id(number, sobject)
            assert len(sf_id) == 18 and sf_id.startswith(prefix)
            assert m.from_salesforce_id(sf_id) == number
            assert m.sobject_of(sf_id) == sobject
    # the checksum is Salesforce's: known 15 -> 18 conversion
    assert m._checksum("a0D30000001n7Pi") == "EAI"  # Salesforce's documented example
    with pytest.raises(ValueError):
        m.to_salesforce_id("007", "Account")


def test_custom_fields_round_trip(sandbox, tenant):
    """Custom columns come back under their API names (``cf_tier`` -> ``Cf_Tier__c``) in
    ``custom``; the mapped columns' round trip is the acceptance suite's."""
    _, sink = run(sandbox)
    ids = sandbox.extra["ids"]
    problems = []
    for table in ("contacts", "companies", "deals"):
        problems += custom_differences(tenant, sink.rows, table, ids)
    assert not problems, "\n".join(problems[:30])
    # every canonical id comes back through the mapping (a stage's through its pipeline's)
    stage_ids = {v: k for k, v in sandbox.extra["stage_keys"].items()}
    for table in TABLES:
        back = {stage_ids.get(r["id"]) if table == "stages" else m.from_salesforce_id(r["id"])
                for r in sink.rows[table]}
        assert back == {str(r["id"]) for r in tenant[table]}


def test_platform_and_fields(sandbox, tenant):
    _, sink = run(sandbox)
    [platform] = sink.rows["platform"]
    assert platform["vendor"] == "salesforce"
    assert platform["edition"] == "Enterprise Edition"
    assert platform["api_version_used"] == "58.0"
    assert platform["api_version_latest"] == "62.0"
    assert platform["api_versions_deprecated"] == []  # the tenant uses no retired version
    custom = {(f["object"], f["name"]) for f in sink.rows["fields"] if f["is_custom"]}
    declared = {(f["object"], m.custom_field_api_name(f["name"])) for f in tenant["fields"] if f["is_custom"]}
    assert custom == declared
    # mapped helper fields are canonical columns, not custom fields
    names = {f["name"] for f in sink.rows["fields"]}
    assert "Lifecycle_Stage__c" in names and ("contacts", "Lifecycle_Stage__c") not in custom


def test_paging_uses_largest_batches():
    tenant = make_tenant(contacts=4500, custom_contact_fields=1)
    handle = start_sandbox(tenant)
    try:
        _, sink = run(handle)
        assert len(sink.rows["contacts"]) == 4500
        queries = [r for r in handle.requests if r["path"].startswith("/services/data/v58.0/query")]
        # (the COUNT() of opportunities without a record type reads no records)
        first = [r for r in queries if r.get("soql") and "COUNT()" not in r["soql"]]
        more = [r for r in queries if not r.get("soql")]
        counts = {
            "Contact": sum(1 for r in sink.rows["contacts"] if r["id"].startswith("003")),
            "Lead": sum(1 for r in sink.rows["contacts"] if r["id"].startswith("00Q")),
            "Task": sum(1 for r in sink.rows["activities"] if r["id"].startswith("00T")),
            "Event": sum(1 for r in sink.rows["activities"] if r["id"].startswith("00U")),
            "Opportunity": len(sink.rows["deals"]),
            "Account": len(sink.rows["companies"]),
            "CampaignMember": len(handle.extra["org"].records["CampaignMember"]),  # contacts.segments
        }
        assert len({r["soql"].split(" FROM ")[1].split()[0] for r in first}) == len(first)  # one query an object
        assert len(more) == sum(max(0, math.ceil(n / 2000) - 1) for n in counts.values())
        assert all("01g" in r["path"] for r in more)
    finally:
        handle.stop()


def test_generated_api_versions_keep_their_meaning():
    """A generator's vendor-neutral API versions are served as Salesforce versions that
    keep their meaning: outdated stays outdated, deprecated stays deprecated."""
    generated = generate_tenant(contacts=300, seed=3, defects=True, name="sf",
                                as_of=datetime(2026, 12, 31, tzinfo=timezone.utc))
    handle = start_sandbox(generated)
    try:
        _, sink = run(handle)
        [want] = generated.rows("platform")
        [got] = sink.rows["platform"]
        assert (want["api_version_used"] in want["api_versions_deprecated"]) == (
            got["api_version_used"] in got["api_versions_deprecated"])
        assert (want["api_version_used"] != want["api_version_latest"]) == (
            got["api_version_used"] != got["api_version_latest"])
    finally:
        handle.stop()
