"""The matching rules of the duplicate checks, on hand-written records."""

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


def test_name_similarity():
    sim = lambda a, b: m.name_similarity(m.name_tokens(*a), m.name_tokens(*b))  # noqa: E731
    assert sim(("Budi", "Santoso"), ("Santoso", "Budi")) == 1.0  # swapped
    assert sim(("José", "García"), ("Jose", "Garcia")) == 1.0  # accents
    assert sim(("민준", "김"), ("김", "민준")) == 1.0
    assert sim(("Budi", "Santoso"), ("Budi", "Santosa")) >= 0.9  # typo
    assert sim(("민준", "김"), ("민주", "김")) >= 0.9  # Hangul typo (one jamo)
    assert sim(("Budi", "Santoso"), ("Bambang", "Santoso")) < 0.85
    assert sim(("민준", "김"), ("서연", "김")) < 0.85
    assert sim(("지우", "이"), ("지우", "임")) < 0.85  # different family names


def keys(id, first, last, email=None, phone=None, company=None, country="ID", street=None, postal=None):
    return m.contact_keys(id, first, last, email, phone, company, None, country, street, postal)


def test_match_contacts_evidence_rules():
    a = keys("1", "Budi", "Santoso", "budi.santoso@gmail.com", "0812-3456-7890", "c1")
    assert m.match_contacts(a, keys("2", "Budi", "Santoso", "BudiSantoso+x@gmail.com")) == "email"
    assert m.match_contacts(a, keys("3", "Santoso", "Budi", None, "+62 812-3456-7890")) == "phone"
    assert m.match_contacts(a, keys("4", "Budi", "Santosa", None, None, "c1")) == "company"
    # ... but not when they hold different e-mails (or phones): similar-named colleagues.
    assert m.match_contacts(a, keys("4b", "Budi", "Santosa", "other@mail.com", None, "c1")) is None
    assert m.match_contacts(a, keys("4c", "Budi", "Santosa", None, "0813-9999-0000", "c1")) is None
    # A name alone never suffices, not even an identical one.
    assert m.match_contacts(a, keys("5", "Budi", "Santoso", "b.s@yahoo.co.id", "0813-0000-0000", "c2")) is None
    # Same phone but a different person (a shared line).
    assert m.match_contacts(a, keys("6", "Siti", "Rahayu", None, "0812-3456-7890")) is None
    # Same work domain + similar name.
    w1 = keys("7", "Sarah", "Johnson", "sarah@acme.com")
    assert m.match_contacts(w1, keys("8", "Sara", "Johnson", None, "+1 212 555 0100", None, "US")) is None
    w2 = m.contact_keys("8", "Sara", "Johnson", None, "+1 212 555 0100", None, None, "US")
    assert m.match_contacts(w1, w2) is None  # no shared domain without an e-mail
    # The company's web domain counts as the contact's domain.
    w3 = m.contact_keys("8", "Sara", "Johnson", None, None, "c9", None, "US", company_domain="www.acme.com")
    assert m.match_contacts(w1, w3) == "domain"
    assert m.match_contacts(keys("7", "Sarah", "Johnson", "sarah@acme.com", None, None, "US"),
                            keys("8", "Sara", "Johnson", "sarah@acme.com", None, None, "US")) == "email"
    # Same web-mail domain says nothing.
    assert m.match_contacts(keys("9", "Sarah", "Johnson", "sj1@gmail.com"),
                            keys("10", "Sarah", "Johnson", "sj2@gmail.com")) is None
    # Shared mailbox with clearly different names.
    assert m.match_contacts(keys("11", "Budi", "Santoso", "info@acme.co.id"),
                            keys("12", "Siti", "Rahayu", "info@acme.co.id")) is None
    # Same postal address + similar name: only when address matching is switched on.
    at_home = (keys("13", "Mitchell", "Green", street="7 Wallaby Place", postal="2119"),
               keys("14", "Mitchel", "Green", street="7 wallaby place", postal="2119"))
    assert m.match_contacts(*at_home) is None
    assert m.match_contacts(*at_home, m.MatchRules(use_address=True)) == "address"


def test_match_rules_are_settings():
    a = keys("1", "Budi", "Santoso", phone="0812-3456-7890")
    b = keys("2", "Budi", "Santosa", phone="0812 3456 7890")
    assert m.match_contacts(a, b) == "phone"
    assert m.match_contacts(a, b, m.MatchRules(name_with_phone=0.99)) is None


def test_match_companies():
    a = m.company_keys("1", "PT Sinar Maju Teknologi Tbk", "sinarmaju.co.id", None, "ID")
    assert m.match_companies(a, m.company_keys("2", "Sinar Maju Teknologi", None, None, "ID")) == "name"
    assert m.match_companies(a, m.company_keys("3", "Sinar Majo Teknologi", "https://www.sinarmaju.co.id/", None, "ID")) == "domain"
    assert m.match_companies(a, m.company_keys("4", "Sinar Maju Logistik", None, None, "ID")) is None
    assert m.match_companies(a, m.company_keys("5", "Sinar Maju Teknologi", "other.co.id", None, "ID")) is None
    k = m.company_keys("6", "(주)한빛테크", None, "+82 2-555-0100", "KR")
    assert m.match_companies(k, m.company_keys("7", "한빛테크 주식회사", None, None, "KR")) == "name"


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
    assert "keep 3: 2 of 3 fields filled, updated 2026-05-01" == keeper.describe()
    assert m.choose_keeper(records[:2], fields).rule == "most complete"
    same = [dict(records[1], id="9"), dict(records[1], id="8")]
    assert m.choose_keeper(same, fields).id == "8"
    assert m.choose_keeper(same, fields).rule == "lowest id"
