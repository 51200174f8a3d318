"""The matching rules of the duplicate checks, on hand-written records."""

import random

import duckdb
import pytest

from crm_audit_checks import matching as m


@pytest.mark.parametrize("raw, expected", [
    (" John.Smith+News@GMail.com ", "johnsmith@gmail.com"),
    ("j.o.h.n@googlemail.com", "john@gmail.com"),
    ("A.B+x@Example.co.id", "a.b@example.co.id"),  # dots matter outside gmail
    ("ＪＯＨＮ@EXAMPLE.COM", "john@example.com"),  # NFKC full-width
    ("mailto:x@y.org", "x@y.org"),
    ("not an address", None),
    ("", None),
    (None, None),
    ("+tag@example.com", None),
])
def test_normalise_email(raw, expected):
    assert m.normalise_email(raw) == expected


def test_email_key_sql_agrees_with_python():
    values = [" John.Smith+News@GMail.com ", "j.o.h.n@googlemail.com", "A.B+x@Example.co.id", "x@y.org",
              "Budi.Santoso+crm@Yahoo.co.id", "ab@d.de.", "no-at-sign"]
    con = duckdb.connect()
    got = [r[0] for r in con.execute(
        f"SELECT {m.EMAIL_KEY_SQL} FROM (SELECT unnest($v) AS email, generate_subscripts($v, 1) AS i) ORDER BY i",
        {"v": values}).fetchall()]
    assert got == [m.normalise_email(v) for v in values]


# The key as regular expressions (before they were replaced by string functions).
EMAIL_KEY_REGEX_SQL = r"""
CASE WHEN regexp_extract(lower(trim(email)), '@([^@]*)$', 1) IN ('gmail.com', 'googlemail.com')
     THEN nullif(replace(split_part(regexp_extract(lower(trim(email)), '^(.*)@[^@]*$', 1), '+', 1), '.', ''), '')
          || '@gmail.com'
     ELSE nullif(split_part(regexp_extract(lower(trim(email)), '^(.*)@[^@]*$', 1), '+', 1), '')
          || '@' || nullif(rtrim(regexp_extract(lower(trim(email)), '@([^@]*)$', 1), '.'), '')
END
"""


def test_email_key_sql_equals_its_regular_expression_form():
    rng = random.Random(7)
    alphabet = list("ab@.+ -\n\r\tGÉé한\u1100") + ["gmail.com", "googlemail.com", "@gmail.com", "..", "@@"]
    values = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 9))) for _ in range(30_000)]
    values += [None, "", "@", "a@", "@b", "a@b@", "x\n@gmail.com", "a@b\n", " A.B+c@GMail.com ", "a@b@gmail.com"]
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT unnest($v) AS email", {"v": values})
    differ = con.execute(f"SELECT email, ({EMAIL_KEY_REGEX_SQL}), ({m.EMAIL_KEY_SQL}) FROM t "
                         f"WHERE ({EMAIL_KEY_REGEX_SQL}) IS DISTINCT FROM ({m.EMAIL_KEY_SQL}) LIMIT 5").fetchall()
    assert differ == []


def test_phone_tail_sql_agrees_with_python():
    values = ["+62 812-3456-7890", "0812-3456-7890", "(212) 555-0100", "123", None]
    con = duckdb.connect()
    got = [r[0] for r in con.execute(
        f"SELECT {m.PHONE_TAIL_SQL} FROM (SELECT unnest($v) AS phone, generate_subscripts($v, 1) AS i) ORDER BY i",
        {"v": values}).fetchall()]
    assert got == [m.phone_tail(v) for v in values]


@pytest.mark.parametrize("a, a_country, b, b_country", [
    ("0812-3456-7890", "ID", "+62 812-3456-7890", "ID"),
    ("010-1234-5678", "KR", "+82 10-1234-5678", None),
    ("(212) 555-0100", "US", "+1 212-555-0100", "US"),
    ("07412 123456", "GB", "+44 7412 123456", "GB"),
    ("0151 12345678", "DE", "+49 151 12345678", "DE"),
])
def test_phone_national_and_international_agree(a, a_country, b, b_country):
    assert m.normalise_phone(a, a_country) == m.normalise_phone(b, b_country)
    assert m.normalise_phone(a, a_country).startswith("+")


def test_phone_country_is_the_default_region_only():
    assert m.normalise_phone("0812-3456-7890", "ID") != m.normalise_phone("0812-3456-7890", "KR")


@pytest.mark.parametrize("raw, expected", [
    ("PT Sinar Maju Tbk", "sinar maju"),
    ("CV Sinar Maju", "sinar maju"),
    ("(주)한빛테크", "한빛테크"),
    ("㈜한빛테크", "한빛테크"),
    ("주식회사 한빛테크", "한빛테크"),
    ("한빛테크 주식회사", "한빛테크"),
    ("Northbridge Logistics, Inc.", "northbridge logistics"),
    ("Northbridge Logistics LLC", "northbridge logistics"),
    ("Northbridge Logistics Corp.", "northbridge logistics"),
    ("Harbor Labs Pty. Ltd.", "harbor labs"),
    ("Harbor Labs Pty Ltd", "harbor labs"),
    ("Harbor Labs Co., Ltd.", "harbor labs"),
    ("Harbor Labs Pte. Ltd.", "harbor labs"),
    ("Harbor Labs S.A.", "harbor labs"),
    ("Müller Systeme GmbH", "muller systeme"),
    ("Inc", "inc"),  # never strip the last word
    ("Company Co", "company"),
])
def test_normalise_company(raw, expected):
    assert m.normalise_company(raw) == expected


def test_fold_unicode():
    assert m.fold("ＪＯＳÉ  O'Brien") == "jose obrien"
    assert m.fold("Zoe\u0308") == m.fold("Zoë") == "zoe"
    assert m.fold("김민준") == "김민준"
    # Hangul written as separate jamo (NFD) folds to the same syllables.
    import unicodedata
    assert m.fold(unicodedata.normalize("NFD", "김민준")) == "김민준"


def test_match_deals():
    a = m.deal_keys("1", "Acme - Renewal 2026", "c1", None, 1000.0, "sales")
    assert m.match_deals(a, m.deal_keys("2", "ACME – renewal 2026", "c1", None, 1000.0, "sales")) == "name"
    assert m.match_deals(a, m.deal_keys("3", "Acme - Renewal 2026", "c2", None, 1000.0, "sales")) is None
    assert m.match_deals(a, m.deal_keys("4", "Acme - Renewal 2026", "c1", None, 5000.0, "sales")) is None


def test_clusters_union_find():
    groups = m.clusters([("3", "1"), ("1", "2"), ("10", "11"), ("5", "5")])
    assert groups == [["1", "2", "3"], ["10", "11"]]


def test_choose_keeper():
    from datetime import datetime

    fields = ("email", "phone", "title")
    records = [
        {"id": "1", "email": "a@b.c", "phone": None, "title": "", "updated_at": datetime(2026, 1, 1)},
        {"id": "2", "email": "a@b.c", "phone": "1", "title": None, "updated_at": datetime(2025, 1, 1)},
        {"id": "3", "email": "a@b.c", "phone": "1", "title": None, "updated_at": datetime(2026, 5, 1)},
    ]
    keeper = m.choose_keeper(records, fields)
    assert (keeper.id, keeper.filled, keeper.fields, keeper.rule) == ("3", 2, 3, "most recent")
    described = keeper.describe()  # a template: the date is the language's date
    assert described == "keep 3: 2 of 3 fields filled, updated May 1, 2026"
    assert described.render("id") == "pertahankan 3: 2 dari 3 kolom terisi, diperbarui 1 Mei 2026"
    assert "2026. 5. 1." in described.render("ko") and "필드" in described.render("ko")
    assert m.choose_keeper(records[:2], fields).rule == "most complete"
    same = [dict(records[1], id="9"), dict(records[1], id="8")]
    assert m.choose_keeper(same, fields).id == "8"
    assert m.choose_keeper(same, fields).rule == "lowest id"
