"""The duplicate checks in Korean and Indonesian: every text a reader sees is translated.

Runs the four checks of duplicates.py on a generated tenant with planted duplicates,
renders each result in ``ko`` (and ``id``) and looks at every text field: the title,
message, remediation, skip reason and every record's details (the fix-list's problem
column), also after a round trip through report.json's templates.
"""

import re

import pytest

from crm_audit_core.findings import Result
from crm_audit_core.i18n import render
from crm_audit_core.testing import result_texts, without

from crm_audit_checks import duplicates
from crm_audit_checks.linkage import records, texts

HANGUL = re.compile(r"[\uac00-\ud7a3]")
PLACEHOLDER = re.compile(r"\{\w*\}")


@pytest.fixture(scope="module")
def results(crm_audit_tenant):
    from crm_audit_core.testing import run_check

    tenant = crm_audit_tenant(contacts=400, seed=1)
    out = [run_check(c, tenant) for c in duplicates.CHECKS]
    bare = without(without(tenant, "deals", "company_id"), "deals", "contact_id")
    out.append(run_check(duplicates.duplicate_deals, bare))
    return out


def test_every_text_is_korean(results):
    statuses = {r.status for r in results}
    assert statuses == {"fail", "skipped"}, statuses
    for result in results:
        korean = result.localised("ko")
        assert korean.details or result.status == "skipped"
        for name, text in result_texts(korean).items():
            assert HANGUL.search(text), (result.check_id, name, text)
            assert not PLACEHOLDER.search(text), (result.check_id, name, text)


def test_english_is_unchanged_by_localising(results):
    for result in results:
        english = result.localised("en")
        assert english.message == str(result.message)
        assert english.details == {rid: str(v) for rid, v in result.details.items()}


def test_indonesian_details_read_as_indonesian(results):
    contacts = results[0].localised("id")
    assert contacts.message.startswith(f"{len(results[0].groups)} grup kontak duplikat (")
    keepers = [t for t in contacts.details.values() if t.startswith("pertahankan catatan ini (")]
    assert len(keepers) == len(results[0].groups)
    assert any("probabilitas kecocokan" in t and ": identik (+" in t for t in keepers)
    dup = [t for t in contacts.details.values() if t.startswith("duplikat dari ")]
    assert dup and all("; dibuat oleh " in t for t in dup)
    # decimals for the language: "+16,4", "99,97%"
    assert any(re.search(r"\(\+\d+,\d\)", t) for t in keepers)


def test_templates_survive_report_json(results):
    for result in results:
        archived = Result.from_json(result.localised("en").to_json())
        assert archived.localised("ko").details == result.localised("ko").details
        assert archived.localised("ko").message == result.localised("ko").message


def test_every_comparison_and_level_has_a_template():
    """A label or level renamed in linkage.records without its template would show in English."""
    comparisons = [records.GIVEN, records.FAMILY, records.EMAIL, records.PHONE, records.COMPANY, records.STREET,
                   records.PLACE, records.COMPANY_NAME, records.DOMAIN, records.COUNTRY,
                   records.identifier_comparison("cf_nik")]
    for c in comparisons:
        if not c.name.startswith("id:"):
            assert c.label in texts.COMPARISONS, c.label
        for level in c.levels:
            assert level in texts.LEVELS, (c.name, level)
            assert HANGUL.search(render(texts.level(level), "ko")), level
    assert texts.comparison("cf_nik") == "cf_nik"  # an identifier column is CRM data
    for rule in ("most complete", "most activity", "oldest", "most recent", "lowest id"):
        assert HANGUL.search(render(texts.keep_rule(rule), "ko")), rule


def test_the_prior_note_is_translated(crm_audit_run_check):
    from datetime import datetime

    class Tiny:
        name = "tiny"
        as_of = datetime(2026, 12, 31)
        manifest: dict = {}

        def __init__(self):
            import pyarrow as pa

            people = [{"id": str(i), "first_name": f"Name{i}", "last_name": "Santoso",
                       "email": f"n{i}@example.co.id"} for i in range(20)]
            people.append({"id": "99", "first_name": "Name3", "last_name": "Santoso", "email": "N3@example.co.id"})
            self.tables = {"contacts": pa.table({k: [p[k] for p in people] for k in people[0]})}

    result = crm_audit_run_check(duplicates.duplicate_contacts, Tiny())
    note = result.metrics["model"]["note"]
    assert "too few to learn" in note
    assert HANGUL.search(render(note, "ko")) and "20" in render(note, "ko")
