"""stale-data checks: stale contacts, invalid emails and phones, bounced emails."""

import re
from types import SimpleNamespace

import pyarrow as pa
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings, strategies as st

from crm_audit_checks import stale_data
from crm_audit_core.testing import without as stripped, assert_findings

SIZE = dict(contacts=800, seed=11)
PLANTED = ["data.stale-contacts", "data.invalid-emails", "data.invalid-phones", "data.bounced-emails"]


def with_values(tenant, table, column, changes: dict):
    """A copy of ``tenant`` where ``table.column`` of the rows at the given positions is replaced."""
    t = tenant.tables[table]
    values = t.column(column).to_pylist()
    for i, v in changes.items():
        values[i] = v
    tables = dict(tenant.tables)
    tables[table] = t.set_column(t.column_names.index(column), column, pa.array(values, t.schema.field(column).type))
    return SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)


def is_valid_email(address):
    try:
        validate_email(address, check_deliverability=False)
        return True
    except EmailNotValidError:
        return False


@pytest.mark.parametrize("check_id", PLANTED)
def test_reports_exactly_the_planted_ids(check_id, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    assert_findings(crm_audit_run_check(check_id, tenant), tenant.manifest["defects"][check_id]["ids"])


@pytest.mark.parametrize("check_id", PLANTED)
def test_clean_tenant_passes(check_id, crm_audit_tenant, crm_audit_run_check):
    assert_findings(crm_audit_run_check(check_id, crm_audit_tenant(defects=False, **SIZE)), [])


def test_stale_days_setting(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    default = crm_audit_run_check("data.stale-contacts", tenant)
    shorter = crm_audit_run_check("data.stale-contacts", tenant, settings={"days": 90})
    assert set(default.affected.ids) < set(shorter.affected.ids)
    assert sum(default.metrics["last_update_age"].values()) == tenant.tables["contacts"].num_rows


EMAILS = {
    0: ("민준.김@naver.com", True),            # Unicode local part (SMTPUTF8)
    1: ("jürgen@bücher.de", True),             # IDN domain
    2: ("info@xn--bcher-kva.de", True),        # Punycode domain
    3: ("Budi.Santoso+crm@Example.CO.ID", True),
    4: ("a..b@example.com", False),
    5: ("budi@example", False),
    6: (" budi@example.com", False),
    7: ("budi@@example.com", False),
    8: ("'; DROP TABLE contacts; --@example.com", False),
    9: ("someone@localhost.test", False),      # special-use domain
    10: ("x@-bad-.com", False),
    11: ("x" * 65 + "@example.com", True),     # long local part: only strict mode rejects it
}


def test_email_validation_unicode_and_hostile(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(defects=False, **SIZE)
    positions = {i * 7: v for i, v in EMAILS.items()}
    changed = with_values(tenant, "contacts", "email", {p: e for p, (e, _) in positions.items()})
    ids = tenant.tables["contacts"].column("id").to_pylist()
    result = crm_audit_run_check("data.invalid-emails", changed)
    assert_findings(result, [ids[p] for p, (_, ok) in positions.items() if not ok])
    assert "two periods" in result.details[ids[4 * 7]]
    assert all(is_valid_email(e) == ok for e, ok in EMAILS.values())


# The pre-filter's promises: for an address whose local part is plain (checked in SQL),
# validity is its domain's verdict plus the total length; and a domain the SQL calls
# safe is one email-validator accepts.
LABEL = st.from_regex(r"[A-Za-z0-9-]{1,12}", fullmatch=True)
LOCAL = st.from_regex(r"[A-Za-z0-9_%+'/=?^{}~-]{1,10}(\.[A-Za-z0-9_%+-]{1,10}){0,3}", fullmatch=True)
ODD_LABEL = st.one_of(LABEL, st.sampled_from(["회사", "한국", "bücher", "xn--bcher-kva", "xn--zz", "ab--cd", "LOCAL",
                                              "münchen", "例え", "ﬁ", "", "x_y", "a b", "ｃｏｍ", "테스트" * 25]))
DOMAIN_LABEL = st.one_of(st.from_regex(r"[a-z0-9-]{1,8}", fullmatch=True), st.sampled_from(
    ["xn--bcher-kva", "ab--cd", "test", "local", "localhost", "arpa", "onion", "invalid", "com", "co", "id", "c0m",
     "a" * 63, "b" * 64, "x-", "-x", "1"]))


@settings(max_examples=400, deadline=None)
@given(local=LOCAL, labels=st.lists(ODD_LABEL, min_size=1, max_size=4), pad=st.integers(0, 240))
def test_plain_local_parts_are_valid_exactly_when_their_domain_and_length_allow(local, labels, pad):
    local = (local + "x" * pad)[:240] if pad > 200 else local
    domain = ".".join(labels)
    address = local + "@" + domain
    assert re.fullmatch(stale_data.PLAIN_LOCAL, local)
    problem, longest = stale_data.domain_verdict(domain)
    if problem is not None:
        assert stale_data._email_problem(address) == problem
    elif longest is not None and len(local) + 1 + longest <= stale_data.EMAIL_MAX:
        assert stale_data._email_problem(address) is None


HANGUL_LABEL = st.text(st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1, max_size=24)
MIXED_LABEL = st.one_of(HANGUL_LABEL, DOMAIN_LABEL, st.sampled_from(
    ["한국", "KR", "Com", "co", "kr", "한빛-테크", "한빛1", "ㄱㄴ", "中国", "a" * 60, "테" * 20]))


@settings(max_examples=600, deadline=None)
@given(labels=st.lists(MIXED_LABEL, min_size=1, max_size=5))
def test_the_hangul_shortcut_answers_what_email_validator_answers(labels):
    domain = ".".join(labels)
    fast = stale_data.hangul_domain_verdict(domain)
    if fast is not None:
        assert fast == stale_data.domain_verdict(domain), domain


@settings(max_examples=500, deadline=None)
@given(label=st.text(st.characters(min_codepoint=0x80, max_codepoint=0x2FFFF, exclude_categories=("Cs",)),
                     min_size=1, max_size=30))
def test_punycode_length_is_the_codecs(label):
    assert stale_data.punycode_length(label) == len(label.encode("punycode"))


@pytest.mark.parametrize("domain", ["한빛테크.kr", "아름산들우리로지스.한국", "바다초록.co.kr", "MIRAE.한빛.COM"])
def test_the_hangul_shortcut_answers_common_hangul_domains(domain):
    assert stale_data.hangul_domain_verdict(domain) == stale_data.domain_verdict(domain) != (None, None)


@pytest.fixture(scope="module")
def duck():
    import duckdb

    con = duckdb.connect()
    yield con
    con.close()


def sql_safe(con, domain):
    params = dict(d=domain, safe_domain=stale_data.SAFE_DOMAIN, not_safe_domain=stale_data.NOT_SAFE_DOMAIN,
                  special_domain=stale_data.special_use_domains())
    return con.execute(f"SELECT {stale_data.safe_domain_sql('$d')}", params).fetchone()[0]


@settings(max_examples=400, deadline=None)
@given(labels=st.lists(DOMAIN_LABEL, min_size=1, max_size=5))
def test_domains_the_sql_calls_safe_are_valid(duck, labels):
    domain = ".".join(labels)
    if sql_safe(duck, domain):
        assert is_valid_email("someone@" + domain), domain


@pytest.mark.parametrize("domain,safe", [("example.com", True), ("mail.co.id", True), ("naver.com", True),
                                         ("x.test", False), ("ab--cd.com", False), ("xn--bcher-kva.de", False),
                                         ("example.c0m", True), ("example.1", False), ("-a.com", False),
                                         ("a" * 64 + ".com", False), ("localhost", False)])
def test_safe_domain_examples(duck, domain, safe):
    assert bool(sql_safe(duck, domain)) == safe
    if safe:
        assert is_valid_email("a@" + domain)


def test_phones_read_in_the_contacts_country(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(defects=False, **SIZE)
    contacts = tenant.rows("contacts")
    national = [i for i, c in enumerate(contacts) if c["country"] == "ID" and (c["phone"] or "").startswith("08")][:3]
    assert national
    ids = [contacts[i]["id"] for i in national]
    no_country = with_values(tenant, "contacts", "country", {i: None for i in national})
    result = crm_audit_run_check("data.invalid-phones", no_country)
    assert_findings(result, ids)
    assert "default_region" in result.details[ids[0]]
    assert_findings(crm_audit_run_check("data.invalid-phones", no_country, settings={"default_region": "ID"}), [])
    # country names work as well as codes
    named = with_values(tenant, "contacts", "country", {i: "Indonesia" for i in national})
    assert_findings(crm_audit_run_check("data.invalid-phones", named), [])


def test_phone_validation_in_worker_processes_agrees(monkeypatch):
    pairs = [("+62 812-3456-7890", None), ("0812-3456-7890", "ID"), ("12", "US"), ("010-2345-6789", "KR"),
             ("(415) 555-0100", "US"), ("not a phone", "DE"), ("+44 20 7946 0018", None)] * 40
    monkeypatch.setattr(stale_data, "PARALLEL_FROM", 10)
    assert stale_data.validate_phones(pairs, 2) == stale_data.validate_phones(pairs, 1)
    assert stale_data.validate_phones(pairs[:7], 1)[2] and stale_data.validate_phones(pairs[:7], 1)[0] is None


def test_bounce_metrics(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    result = crm_audit_run_check("data.bounced-emails", tenant)
    assert 0 < result.metrics["bounce_percent"] < 5


@pytest.mark.parametrize("check_id,column", [("data.invalid-emails", "email"), ("data.invalid-phones", "phone"),
                                             ("data.bounced-emails", "email_bounced"), ("data.stale-contacts", "updated_at")])
def test_skipped_when_the_column_is_missing(check_id, column, crm_audit_tenant, crm_audit_run_check):
    result = crm_audit_run_check(check_id, stripped(crm_audit_tenant(**SIZE), "contacts", column))
    assert result.status == "skipped" and f"contacts.{column}" in result.reason
