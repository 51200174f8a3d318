"""Duplicate scoring in DuckDB (issue 17): the SQL comparison levels agree with the Python
comparison of :mod:`crm_audit_checks.linkage.records` on every pair of a mixed tenant, a
small tenant keeps its expected pairs and probabilities, and the merge plan's CSV."""

import csv
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from crm_audit_core import check
from crm_audit_core.findings import AuditResult
from crm_audit_core.reports import ReportContext
from crm_audit_core.reports.builtin import write_attachments

from crm_audit_checks import duplicates
from crm_audit_checks.linkage import records, sqlscore, tenant as tenant_linkage

from crm_audit_core.testing import RowsTenant  # noqa: E402

CHECKS = {c.id: c for c in duplicates.CHECKS}
CONTACTS = CHECKS["data.duplicate-contacts"]
COMPANIES = CHECKS["data.duplicate-companies"]


Tenant = RowsTenant  # hand-written rows; non-canonical columns become custom fields


# Every kind of value the comparisons treat specially: Hangul and its romanisations, a whole
# name in one field, single names, swapped fields, accents, typos, gmail dots, phone formats,
# legal forms, Korean streets and cities, postcodes one character apart, colleagues.
MIXED = [
    {"id": "1", "first_name": "민준", "last_name": "김", "email": "minjun.kim@gmail.com", "phone": "010-1234-5678",
     "country": "KR", "street": "테헤란로 152", "city": "서울", "postal_code": "06236", "company_name": "(주)한빛테크"},
    {"id": "2", "first_name": "Min-jun", "last_name": "Kim", "email": "minjunkim@gmail.com", "phone": "+82 10 1234 5678",
     "country": "KR", "street": "Teheran-ro 152", "city": "Seoul", "postal_code": "06236", "company_name": "한빛테크 주식회사"},
    {"id": "3", "first_name": "김민준", "last_name": None, "email": None, "phone": "01012345678", "country": "KR",
     "street": "테헤란로 15", "city": "서울", "postal_code": "06263", "company_name": "한빛테크"},
    {"id": "4", "first_name": "Kim", "last_name": "Minjun", "email": "mj@hanbit.co.kr", "phone": None, "country": None,
     "street": "테헤란로 152", "city": "서울시", "postal_code": "6236", "company_name": "Hanbit Tech Co., Ltd."},
    {"id": "5", "first_name": "Sukarno", "last_name": None, "email": "sukarno@example.id", "phone": "0812-3456-7890",
     "country": "ID", "street": "Jl. Merdeka No. 17", "city": "Jakarta", "postal_code": "10110",
     "company_name": "PT Sinar Maju Tbk"},
    {"id": "6", "first_name": None, "last_name": "Sukarno", "email": "Sukarno@Example.id", "phone": "+62 812 3456 7890",
     "country": "ID", "street": "Jl Merdeka No 17", "city": "Jakarta", "postal_code": "10110",
     "company_name": "Sinar Maju"},
    {"id": "7", "first_name": "Budi Santoso", "last_name": None, "email": None, "phone": "0812 3456 7891",
     "country": "ID", "street": "Jl. Merdeka No. 71", "city": "Jakrta", "postal_code": "10101",
     "company_name": "PT Sinar Majoe"},
    {"id": "8", "first_name": "Santoso", "last_name": "Budi", "email": "budi@sinarmaju.co.id", "phone": None,
     "country": "ID", "street": "Jalan Merdeka 71", "city": "Jakarta", "postal_code": "10110",
     "company_name": "Sinar Maju"},
    {"id": "9", "first_name": "José", "last_name": "O'Brien", "email": "jose+news@acme.com", "phone": "(415) 555-0101",
     "country": "US", "street": "183 Congress Ave", "city": "Austin", "state": "TX", "postal_code": "78701",
     "company_name": "ACME, Inc."},
    {"id": "10", "first_name": "Jose", "last_name": "OBrien", "email": "jose@acme.com", "phone": "415-555-0101",
     "country": "US", "street": "252 Congress Ave", "city": "Austin", "state": "TX", "postal_code": "78710",
     "company_name": "Acme"},
    {"id": "11", "first_name": "Joseph", "last_name": "O'Brian", "email": None, "phone": "+1 415 555 0101",
     "country": None, "street": "183 Congres Ave", "city": "Austen", "state": "TX", "postal_code": "78701",
     "company_name": "Acme Corporation"},
    {"id": "12", "first_name": "Дмитрий", "last_name": "Иванов", "email": "d.ivanov@example.ru", "phone": "+7 495 123 45 67",
     "country": "RU", "street": "Тверская 7", "city": "Москва", "postal_code": "125009", "company_name": "ООО Ромашка"},
    {"id": "13", "first_name": "Дмитрий", "last_name": "Иваноф", "email": "d.ivanov@example.ru", "phone": "84951234567",
     "country": "RU", "street": "Тверская 7", "city": "Москва", "postal_code": "125090", "company_name": "Ромашка"},
]


@check(id="test.sql-levels", title="SQL levels", step="duplicates", area="data", severity="low",
       needs={"contacts": ["id", "first_name", "last_name"]}, description="Compares every pair in SQL and in Python.",
       remediation="None.", settings={"identifiers": [], "max_block": 50, "threshold": 0.9})
def sql_levels(ctx):
    """Every pair of contacts, compared by the SQL of sqlscore and by records.compare."""
    with sqlscore.Scratch(ctx) as scratch:
        spec, _ = tenant_linkage.contact_spec(ctx, ctx.settings, scratch)
        scratch.create("dup_pair_ids", "SELECT x.id AS a, y.id AS b FROM contacts x JOIN contacts y ON x.id < y.id")
        sqlscore.prepare(ctx, scratch, spec, pa.table({"a": pa.array([], pa.string()), "b": pa.array([], pa.string())}))
        k = len(spec.rules)
        rows = ctx.sql(f"SELECT ra.id, rb.id, {', '.join(f'g{j}' for j in range(k))}, "
                       f"{', '.join(f'n{j}' if j in sqlscore.tf_columns(spec) else 'NULL' for j in range(k))} "
                       "FROM dup_levels l JOIN dup_rec ra ON ra.ix = l.ia JOIN dup_rec rb ON rb.ix = l.ib").fetchall()
    columns = ["id", "first_name", "last_name", "email", "phone", "country", "street", "city", "state", "postal_code",
               "company_name"]
    raw = tenant_linkage._rows(ctx, "contacts", columns, ctx.ids("SELECT id FROM contacts"))
    built = {rid: tenant_linkage.contact_record(r) for rid, r in raw.items()}
    mismatches = []
    for row in rows:
        a, b = row[0], row[1]
        levels, keys, _ = records.compare(spec.rules, built[a], built[b])
        counts = []
        for j, key in enumerate(keys):
            comparison, _, tf_key = spec.rules[j]
            top = levels[j] == len(comparison.levels) - 1
            counts.append(spec.tf[tf_key].get(key, 1) if j in sqlscore.tf_columns(spec) and top and key else None)
        if list(row[2:2 + k]) != levels or list(row[2 + k:]) != counts:
            mismatches.append((a, b, list(row[2:]), levels + counts))
    return ctx.result(metrics={"pairs": len(rows), "mismatches": mismatches,
                               "comparisons": [r[0].name for r in spec.rules]}, failed=bool(mismatches))


def test_sql_levels_equal_the_python_comparison(crm_audit_run_check):
    result = crm_audit_run_check(sql_levels, Tenant(contacts=MIXED))
    assert result.status == "pass", result.metrics.get("mismatches") or result.reason
    assert result.metrics["pairs"] == len(MIXED) * (len(MIXED) - 1) // 2
    assert result.metrics["comparisons"] == ["given_name", "family_name", "email", "phone", "company", "street",
                                             "place"]


def _people(n):
    given = ["Adi", "Bima", "Citra", "Dewi", "Eka", "Fajar", "Gita", "Hadi", "Indra", "Joko"]
    family = ["Santoso", "Wijaya", "Halim", "Pratama", "Saputra", "Nugroho", "Siregar"]
    return [{"id": str(1000 + i), "first_name": given[i % len(given)], "last_name": family[(i * 3) % len(family)],
             "email": f"p{i}@example.com", "phone": f"+62 811 {1000 + i} 000", "country": "ID",
             "postal_code": f"{10110 + 37 * i}"} for i in range(n)]


def _small():
    people = _people(40)
    people += [
        {"id": "1", "first_name": "Adi", "last_name": people[0]["last_name"], "email": "P0@example.com",
         "postal_code": people[0]["postal_code"], "title": "=HYPERLINK(\"http://x\")"},
        {"id": "2", "first_name": people[5]["last_name"], "last_name": people[5]["first_name"],
         "phone": people[5]["phone"], "country": "ID", "postal_code": people[5]["postal_code"]},
        {"id": "=3", "first_name": people[7]["first_name"], "last_name": people[7]["last_name"] + "h",
         "email": people[7]["email"], "postal_code": "99999"},
    ]
    return Tenant(contacts=people)


def _audit(*results):
    now = datetime(2026, 12, 31, tzinfo=timezone.utc)
    return AuditResult(id="test", as_of=now, started_at=now, tenants=[], results=list(results))


def test_a_small_tenant_keeps_its_pairs_and_probabilities(crm_audit_run_check):
    result = crm_audit_run_check(CONTACTS, _small())
    model = result.metrics["model"]
    assert model["trained"] == "priors" and model["prior_bits"] == -10.03  # 43 records: the documented priors
    # Fixed values: the SQL scoring gave exactly these, as the Python scoring it replaced did.
    got = {(p["a"], p["b"]): (p["probability"], [(f["field"], f["level"], f["bits"]) for f in p["fields"]])
           for p in result.metrics["pairs"]}
    assert got == {
        ("1", "1000"): (1.0, [("e-mail", "identical", 16.38), ("company", "same work domain", 7.97),
                              ("given name", "identical", 7.23), ("family name", "identical", 7.23),
                              ("postal code and city", "same postal code", 4.32)]),
        ("1005", "2"): (1.0, [("phone", "identical", 16.38), ("given name", "identical", 7.23),
                              ("family name", "identical", 7.23), ("postal code and city", "same postal code", 4.32)]),
        ("1007", "=3"): (1.0, [("e-mail", "identical", 16.38), ("company", "same work domain", 7.97),
                               ("given name", "identical", 7.23), ("postal code and city", "different", -4.32),
                               ("family name", "one typo", 3.32)]),
    }


def test_the_merge_plan_csv(crm_audit_run_check, tmp_path):
    result = crm_audit_run_check(CONTACTS, _small())
    audit = _audit(result)
    links = {("hand", "contacts", "1"): "https://crm.example/1"}
    [path] = write_attachments(audit, ReportContext(folder=tmp_path, link=lambda t, o, i: links.get((t, o, i))))
    assert path == tmp_path / "fixlists" / "merge-plan-contacts.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["tenant", "group", "action", "id", "link", "keep_id", "keep_rule", "carry_over", "probability",
                       "matched_with", "salesforce_call"]
    assert rows[1:] == [
        # 1000 has more fields filled than 1 (a phone and a country), so it is kept; 1 gives it the
        # title it lacks (a cell that does not start a formula stays as it is)
        ["hand", "1", "keep", "1000", "", "1000", "most complete", "", "", "", ""],
        ["hand", "1", "merge", "1", "https://crm.example/1", "1000", "most complete", 'title==HYPERLINK("http://x")',
         "1.0", "1000", "1"],
        ["hand", "2", "keep", "1005", "", "1005", "most complete", "", "", "", ""],
        ["hand", "2", "merge", "2", "", "1005", "most complete", "", "1.0", "1005", "1"],
        ["hand", "3", "keep", "1007", "", "1007", "most complete", "", "", "", ""],
        # an id that would start a spreadsheet formula is neutralised
        ["hand", "3", "merge", "'=3", "", "1007", "most complete", "", "1.0", "1007", "1"],
    ]
    # report.json names the file and counts the rows; the rows are in the CSV only
    assert result.to_json()["attachments"] == [{
        "name": "merge-plan-contacts", "file": "fixlists/merge-plan-contacts.csv", "columns": rows[0][1:4] + rows[0][5:],
        "rows": 6, "object": "contacts", "id_column": "id"}]


def test_attachment_cells_starting_a_formula_are_neutralised(tmp_path):
    from crm_audit_core.findings import Attachment, Result

    result = Result(check_id="x.y", title="t", step="s", area="data", severity="low", tenant="=cmd|' /C calc'!A0",
                    status="fail", attachments=[Attachment("plan", ["a", "b"], [["=1+1", "-2"], ["@SUM(A1)", "ok"]])])
    [path] = write_attachments(_audit(result), ReportContext(folder=tmp_path))
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["tenant", "a", "b"], ["'=cmd|' /C calc'!A0", "'=1+1", "'-2"],
                    ["'=cmd|' /C calc'!A0", "'@SUM(A1)", "ok"]]
    with pytest.raises(ValueError, match="lowercase"):
        Attachment("../evil", ["a"], [])
