"""The SQL pre-filters of data.invalid-emails and data.invalid-phones change no finding.

Both checks once sent far more values to Python (every address with an international
domain validated whole; every distinct phone number through phonenumbers). The old
implementations are kept here, as private references, and both versions run side by side
on generated tenants and on tenants planted with odd numbers and international domains:
same ids, same fix-list lines, same message and counts. Only the counters of work done
(``domains_validated``, ``addresses_validated``, ``invalid_domains``, ``numbers_validated``)
may differ: they are what the change is about.
"""

import random
from types import SimpleNamespace

import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import given, settings, strategies as st

from crm_audit_checks import stale_data
from crm_audit_checks.i18n import ngettext
from crm_audit_checks.missing_data import filled_sql
from crm_audit_checks.phone_rules import PhoneRules, common_syntax
from crm_audit_core import check

# ------------------------------------------------------------------ the old implementations

_OLD_PLAIN_EMAIL = r"^[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
_OLD_LOCAL_MAX, _OLD_EMAIL_MAX = 64, 254


def _old_email_problem(address):
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


@check(id="reference.invalid-emails", title="Invalid emails (before the per-domain SQL)", step="stale-data",
       area="data", severity="medium", needs={"contacts": ["id", "email"]}, description="reference", remediation="-")
def _old_invalid_emails(ctx):
    filled = filled_sql("contacts", "email")
    plain = (f"regexp_full_match(email, $plain) AND length(email) <= {_OLD_EMAIL_MAX} "
             f"AND length(split_part(email, '@', 1)) <= {_OLD_LOCAL_MAX}")
    domain = "lower(split_part(email, '@', 2))"
    patterns = dict(plain=_OLD_PLAIN_EMAIL, safe_domain=stale_data.SAFE_DOMAIN,
                    not_safe_domain=stale_data.NOT_SAFE_DOMAIN, special_domain=stale_data.special_use_domains())
    domains = [d for (d,) in ctx.sql(
        f"SELECT DISTINCT {domain} FROM contacts WHERE {filled} AND {plain} AND NOT {stale_data.safe_domain_sql(domain)}",
        **patterns,
    ).fetchall()]
    bad_domains = {}
    for name in domains:
        problem = _old_email_problem("a@" + name)
        if problem:
            bad_domains[name] = problem
    odd = [e for (e,) in ctx.sql(f"SELECT DISTINCT email FROM contacts WHERE {filled} AND NOT ({plain})", **patterns).fetchall()]
    bad_emails = {}
    for address in odd:
        problem = _old_email_problem(address)
        if problem:
            bad_emails[address] = problem
    details = {}
    if bad_domains:
        for rid, email, name in ctx.sql(
            f"SELECT id, email, {domain} AS d FROM contacts "
            f"WHERE {filled} AND {plain} AND {domain} IN (SELECT unnest($bad))",
            bad=sorted(bad_domains), **patterns,
        ).fetchall():
            details[str(rid)] = f"{stale_data._shown(email)}: {bad_domains[name]}"
    if bad_emails:
        for rid, email in ctx.sql(
            f"SELECT id, email FROM contacts WHERE {filled} AND email IN (SELECT unnest($bad))", bad=sorted(bad_emails)
        ).fetchall():
            details[str(rid)] = f"{stale_data._shown(email)}: {bad_emails[email]}"
    with_email = ctx.count("contacts", filled)
    metrics = {"contacts_with_email": with_email, "invalid": len(details)}
    return ctx.result(ids=sorted(details), population=with_email, details=details, metrics=metrics,
                      message=ngettext("{n} of {total} email addresses is not valid",  # the wording of today
                                       "{n} of {total} email addresses are not valid", len(details), total=with_email))


def _old_phone_problem(pair):
    phone, region = pair
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and region is None:
            return "no country code and no country to read it in (set the contact's country or default_region)"
        return f"cannot be read as a phone number ({exc._msg})"
    if phonenumbers.is_valid_number(number):
        return None
    where = region or phonenumbers.region_code_for_country_code(number.country_code)
    return f"not a valid number for {where}" if where and where != "ZZ" else "not a valid number"


@check(id="reference.invalid-phones", title="Invalid phones (before the SQL proof)", step="stale-data", area="data",
       severity="low", needs={"contacts": ["id", "phone"]}, settings={"default_region": "", "workers": 0},
       settings_help={"default_region": "-", "workers": "-"}, description="reference", remediation="-")
def _old_invalid_phones(ctx):
    default = str(ctx.settings.get("default_region") or "").strip().upper() or None
    if default and default not in phonenumbers.SUPPORTED_REGIONS:
        return ctx.skip(f"default_region {default!r} is not a country code phonenumbers knows")
    filled = filled_sql("contacts", "phone")
    has_country = ctx.supplied("contacts", "country")
    country = "country" if has_country else "NULL::VARCHAR"
    rows = ctx.sql(f"SELECT DISTINCT phone, {country} AS country FROM contacts WHERE {filled}").fetchall()
    regions: dict = {}
    pairs = []
    for phone, cty in rows:
        if cty not in regions:
            regions[cty] = stale_data.region_for(cty, default)
        pairs.append((phone, regions[cty]))
    unique = list(dict.fromkeys(pairs))
    verdict = dict(zip(unique, [_old_phone_problem(p) for p in unique]))
    bad = [(phone, cty, verdict[pair]) for (phone, cty), pair in zip(rows, pairs) if verdict[pair]]
    details = {}
    if bad:
        why = {(p, c): w for p, c, w in bad}
        for rid, phone, cty in ctx.sql(
            f"SELECT c.id, c.phone, b.country FROM contacts c JOIN "
            f"(SELECT unnest($phones) AS phone, unnest($countries) AS country) b "
            f"ON c.phone = b.phone AND {'c.country' if has_country else 'NULL'} IS NOT DISTINCT FROM b.country",
            phones=[b[0] for b in bad], countries=[b[1] for b in bad],
        ).fetchall():
            details[str(rid)] = f"{stale_data._shown(phone)}: {why[(phone, cty)]}"
    with_phone = ctx.count("contacts", filled)
    by_region: dict[str, int] = {}
    for _, cty, _ in bad:
        key = regions.get(cty) or "(no country)"
        by_region[key] = by_region.get(key, 0) + 1
    return ctx.result(ids=sorted(details), population=with_phone, details=details,
                      metrics={"contacts_with_phone": with_phone, "invalid_by_region": by_region},
                      message=ngettext("{n} of {total} phone numbers is not valid",  # the wording of today
                                       "{n} of {total} phone numbers are not valid", len(details), total=with_phone))


# ----------------------------------------------------------------------------- comparing

KEPT = {"data.invalid-emails": ("contacts_with_email", "invalid"),
        "data.invalid-phones": ("contacts_with_phone", "invalid_by_region")}
REFERENCE = {"data.invalid-emails": _old_invalid_emails, "data.invalid-phones": _old_invalid_phones}


def assert_same_as_before(check_id, tenant, run, settings=None):
    new = run(check_id, tenant, settings=settings)
    old = run(REFERENCE[check_id], tenant, settings=settings)
    assert new.status == old.status and new.message == old.message, (new.message, old.message)
    assert new.affected.ids == old.affected.ids
    assert new.affected.population == old.affected.population
    differing = {k: (new.details.get(k), old.details.get(k)) for k in set(new.details) | set(old.details)
                 if new.details.get(k) != old.details.get(k)}
    assert not differing, list(differing.items())[:5]
    assert {k: new.metrics[k] for k in KEPT[check_id]} == {k: old.metrics[k] for k in KEPT[check_id]}
    return new


def with_values(tenant, table, changes: dict[str, dict]):
    """A copy of ``tenant`` where, for each column, the rows at the given positions get new values."""
    t = tenant.tables[table]
    for column, values_at in changes.items():
        values = t.column(column).to_pylist()
        for i, v in values_at.items():
            values[i] = v
        t = t.set_column(t.column_names.index(column), column, pa.array(values, t.schema.field(column).type))
    tables = dict(tenant.tables)
    tables[table] = t
    return SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)


# ------------------------------------------------------------------------ generated tenants


@pytest.mark.parametrize("check_id", sorted(REFERENCE))
@pytest.mark.parametrize("seed,contacts,defects", [(3, 1200, True), (17, 900, True), (41, 1500, True), (8, 700, False)])
def test_generated_tenants_give_the_same_findings(check_id, seed, contacts, defects, crm_audit_tenant,
                                                  crm_audit_run_check):
    tenant = crm_audit_tenant(contacts=contacts, seed=seed, defects=defects)
    result = assert_same_as_before(check_id, tenant, crm_audit_run_check)
    if defects:
        assert result.status == "fail"


def test_phones_without_countries_and_with_a_default_region(crm_audit_tenant, crm_audit_run_check):
    from crm_audit_core.testing import without

    tenant = crm_audit_tenant(contacts=900, seed=17)
    no_country = without(tenant, "contacts", "country")
    assert_same_as_before("data.invalid-phones", no_country, crm_audit_run_check)
    for region in ("ID", "KR", "US"):
        assert_same_as_before("data.invalid-phones", no_country, crm_audit_run_check, {"default_region": region})
    assert_same_as_before("data.invalid-phones", tenant, crm_audit_run_check, {"default_region": "GB"})


def test_phone_work_goes_to_python_only_for_numbers_sql_cannot_prove(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(contacts=1200, seed=3)
    result = crm_audit_run_check("data.invalid-phones", tenant)
    # the generated numbers are of the common shapes: only the planted odd ones go to Python
    assert result.metrics["numbers_validated"] < 3 * len(result.affected.ids) + 20


# ------------------------------------------------------------------------------ odd phones

ODD_PHONES = [
    # extensions, letters, other digits
    "+62 812-3456-7890 ext. 12", "+62 812-3456-7890 x12", "+1 415 555 0100#12", "(415) 555-0100 ext 7",
    "1-800-FLOWERS", "+1 800 FLOWERS", "0812 3456 789O", "n/a", "TBD", "+62 ８１２-３４５６-７８９０", "٠٨١٢٣٤٥٦٧٨٩٠",
    # +62 / +82 / +1 forms, with trunk prefixes, IDD and country codes written nationally
    "+62 (0) 812-3456-7890", "+620812-3456-7890", "62 812-3456-7890", "62812 3456 7890", "0062 812 3456 7890",
    "001 62 812 3456 7890", "+62 21 5082 1234", "021 5082 1234", "(021) 5082-1234", "+62 361 123456",
    "+82 10-2345-6789", "+82 010-2345-6789", "010-2345-6789", "01023456789", "+82 2-312-3456", "02-312-3456",
    "082-10-2345-6789", "00700 82 10 2345 6789", "+82 70 1234 5678", "+82 1588 1234",
    "+1 (415) 555-0100", "1-415-555-0100", "+1 416 555 0123", "(416) 555-0123", "011 44 20 7946 0018",
    "+1 268 464 1234", "+1 242 359 1234", "+1 800 555 0100", "1 (800) 555-0100", "+1 555 0100",
    # other regions: shared codes, leading zeros, long and short
    "+44 20 7946 0018", "+44 (0)20 7946 0018", "020 7946 0018", "+44 1624 612345", "+7 912 345-67-89",
    "+7 701 123 4567", "+39 06 6982 1234", "06 6982 1234", "+61 4 1234 5678", "0412 345 678",
    "+65 8123 4567", "+49 30 123456", "+49 (0)30 123456", "+800 1234 5678", "+999 123 4567", "+0 812 3456",
    # too short, too long, separators
    "12", "123", "+62", "+62 8", "+62 812 3456 7890 1234 5678", "0812-3456-7890-12", "0812--3456..7890",
    " 0812 3456 7890 ", "(0812) 3456 7890", "+ 62 812 3456 7890", "++62 812 3456 7890", "(+62) 812 3456 7890",
    "+62.812.3456.7890", "+62-812-3456-7890-", "-0812-3456-7890", "0812/3456/7890", "0812 3456 7890 / 0813 1111 2222",
]
COUNTRIES = ["ID", "KR", "US", None, "Indonesia", "South Korea", "CA", "GB", "IT", "KZ", "AU", "ZZ", "한국", "DE"]


def _mutations(rng, numbers, n):
    """In-shape numbers near real ones: a digit changed, added or dropped, separators moved."""
    out = []
    for _ in range(n):
        s = list(rng.choice(numbers))
        digits = [i for i, c in enumerate(s) if c.isdigit()]
        kind = rng.randrange(5)
        if kind == 0 and digits:
            s[rng.choice(digits)] = str(rng.randrange(10))
        elif kind == 1 and digits:
            s.insert(rng.choice(digits), str(rng.randrange(10)))
        elif kind == 2 and digits:
            del s[rng.choice(digits)]
        elif kind == 3:
            s = list("".join(s).replace(" ", "-" if rng.random() < 0.5 else "").replace("-", rng.choice(" .-")))
        else:
            s = list(("+" if s[0] != "+" else "") + "".join(s))
        out.append("".join(s))
    return out


def test_tenants_full_of_odd_numbers_give_the_same_findings(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(contacts=1500, seed=23, defects=False)
    rng = random.Random(5)
    real = [p for p in tenant.tables["contacts"].column("phone").to_pylist() if p]
    values = ODD_PHONES + _mutations(rng, real + ODD_PHONES, 900)
    n = tenant.tables["contacts"].num_rows
    positions = rng.sample(range(n), min(n, len(values)))
    changed = with_values(tenant, "contacts", {
        "phone": dict(zip(positions, values)),
        "country": {p: rng.choice(COUNTRIES) for p in positions[: len(positions) // 2]},
    })
    result = assert_same_as_before("data.invalid-phones", changed, crm_audit_run_check)
    assert result.status == "fail" and len(result.affected.ids) > 100
    assert_same_as_before("data.invalid-phones", changed, crm_audit_run_check, {"default_region": "KR"})


@pytest.fixture(scope="module")
def duck():
    import duckdb

    con = duckdb.connect()
    yield con
    con.close()


def sql_proves(con, pairs):
    """The SQL proof's verdict for each (phone, region) pair."""
    digits = [''.join(c for c in p if c in "0123456789") for p, _ in pairs]
    prefixes = {d[:3] for (p, _), d in zip(pairs, digits) if p.startswith("+") and d}
    rules = PhoneRules()
    proof = rules.proof("phone", "d", "region", {r for _, r in pairs}, prefixes)
    table = pa.table({"i": list(range(len(pairs))), "phone": [p for p, _ in pairs], "region": [r for _, r in pairs]})
    con.register("pairs_under_test", table)
    try:
        rows = con.execute(f"SELECT i, {proof} FROM (SELECT *, regexp_replace(phone, '[^0-9]', '', 'g') AS d "
                           f"FROM pairs_under_test) ORDER BY i", rules.params).fetchall()
    finally:
        con.unregister("pairs_under_test")
    return [bool(v) for _, v in rows]


REGIONS = ["ID", "KR", "US", "CA", "GB", "IT", "RU", "KZ", "AU", "SG", "DE", "BR", "AR", "MX", "JP", "FR", "IN", None]
SHAPED = st.from_regex(r"\+?[0-9][0-9 ().-]{2,20}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(phones=st.lists(st.one_of(SHAPED, st.sampled_from(ODD_PHONES)), min_size=1, max_size=30),
       region=st.sampled_from(REGIONS))
def test_what_the_sql_proves_phonenumbers_calls_valid(duck, phones, region):
    pairs = [(p, region) for p in phones]
    for pair, proved in zip(pairs, sql_proves(duck, pairs)):
        if proved:
            assert _old_phone_problem(pair) is None, pair


def test_the_sql_proves_the_common_shapes(duck):
    samples = []
    for region in ("ID", "KR", "US", "GB", "AU", "DE", "SG", "IT", "JP", "BR"):
        for kind in ("MOBILE", "FIXED_LINE"):
            number = phonenumbers.example_number_for_type(region, getattr(phonenumbers.PhoneNumberType, kind))
            if number is None:
                continue
            for fmt in (phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL,
                        phonenumbers.PhoneNumberFormat.E164):
                samples.append((phonenumbers.format_number(number, fmt), region))
    proved = sql_proves(duck, samples)
    for pair, ok in zip(samples, proved):
        if ok:
            assert _old_phone_problem(pair) is None, pair
    # most of the libraries' own example numbers, in every format, need no Python
    assert sum(proved) >= 0.8 * len(samples), [p for p, ok in zip(samples, proved) if not ok]


# --------------------------------------------------------------------- international domains

LOCALS = ["budi", "Budi.Santoso+crm", "o'brien", "a/b=c?d^e{f}~g", "x" * 64, "y" * 70, "민준.김", "jürgen", "\"quoted\"",
          "a..b", ".a", "a.", "", "ab cd", "Name <a", "김"]
DOMAINS = [
    "회사.kr", "삼성전자.한국", "한국전자통신연구원.kr", "네이버.com", "bücher.de", "BÜCHER.DE", "münchen.de", "例え.jp",
    "пример.рф", "مثال.إختبار", "xn--bcher-kva.de", "XN--BCHER-KVA.DE", "xn--zz.com", "xn--a.com", "xn--3e0b707e.kr",
    "example.com", "EXAMPLE.COM", "Example.Co.Id", "example.com.", ".example.com", "example..com", "회사..kr",
    "회사.kr.", "-회사.kr", "회사-.kr", "ab--cd.kr", "under_score.com", "a" * 64 + ".com", "가" * 30 + ".kr",
    "가" * 60 + ".kr", ("가" * 20 + ".") * 6 + "kr", "회사.local", "localhost", "test", "회사", "회사。kr", "회사．kr",
    "ｅｘａｍｐｌｅ.com", "ﬁ.com", "😀.com", "[127.0.0.1]", "[IPv6:::1]", "", "x.c0m", "x.1", "회 사.kr",
    "e\u0301xample.com", "\u0301example.com", "ex\u200dample.com", "ⓧ.com", "a.b.c.d.e.f.g.h.회사.kr",
]


def _addresses(rng):
    out = [f"{local}@{domain}" for local in LOCALS[:6] for domain in DOMAINS]
    out += [f"{rng.choice(LOCALS)}@{rng.choice(DOMAINS)}" for _ in range(300)]
    # near the length limits, with domains that grow when encoded
    for domain in ("회사.kr", "가" * 20 + ".kr", "bücher.de", "example.com", "xn--3e0b707e.kr"):
        for total in (250, 253, 254, 255, 260):
            out.append("p" * max(1, total - len(domain.encode()) - 1) + "@" + domain)
    out += ["no-at-sign", "a@b@회사.kr", "@회사.kr", "two@@회사.kr", "Budi <budi@회사.kr>", "a@회사.kr@b.com"]
    return out


def test_tenants_full_of_international_domains_give_the_same_findings(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(contacts=1500, seed=29)
    rng = random.Random(3)
    values = _addresses(rng)
    n = tenant.tables["contacts"].num_rows
    # most rows get a Hangul domain (the case that used to validate every address whole)
    hangul = {i: f"user{i}@{rng.choice(['회사.kr', '삼성전자.한국', '네이버.com', '가' * 60 + '.kr'])}" for i in range(n)}
    positions = rng.sample(range(n), min(n, len(values)))
    hangul.update(dict(zip(positions, values)))
    changed = with_values(tenant, "contacts", {"email": hangul})
    result = assert_same_as_before("data.invalid-emails", changed, crm_audit_run_check)
    assert result.status == "fail" and len(result.affected.ids) > 100
    # each distinct domain once, not each address
    assert result.metrics["domains_validated"] < 200 and result.metrics["addresses_validated"] < len(values)


@settings(max_examples=200, deadline=None)
@given(local=st.sampled_from(LOCALS), domain=st.one_of(st.sampled_from(DOMAINS), st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "M", "Z", "Cf")), min_size=0, max_size=12)))
def test_each_address_gets_its_old_verdict(local, domain):
    """What the new path would say for one address (domain probe, length rule) is what email-validator says."""
    import re

    address = f"{local}@{domain}"
    expected = _old_email_problem(address)
    if "@" in local or not re.fullmatch(stale_data.PLAIN_LOCAL, local):
        return  # validated whole, as before
    problem, longest = stale_data.domain_verdict(domain)
    if problem is not None:
        assert expected == problem
    elif longest is not None and len(local) + 1 + longest <= stale_data.EMAIL_MAX:
        assert expected is None


@pytest.mark.parametrize("pattern,common", [(r"8[1-9]\d{6,10}", True), (r"(?:0(?:0[17-9]|10))", True), (r"([457]\d{6})$|1", True),
                                            (r"(?=1)\d+", False), (r"(\d)\1", False), (r"\d++", False), (r"(?>12)", False),
                                            (r"\w+", False), (r"(?P<x>1)", False),
                                            (r"1{,3}", False), (r"1{2,3}", True)])
def test_only_patterns_both_engines_read_alike_go_to_sql(duck, pattern, common):
    assert common_syntax(pattern) == common
    if common:  # and DuckDB takes them
        duck.execute("SELECT regexp_full_match('123', $p)", {"p": pattern}).fetchall()


def test_most_of_phonenumbers_metadata_is_in_the_common_syntax():
    patterns = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        m = phonenumbers.PhoneMetadata.metadata_for_region(region)
        descs = [m.general_desc] + [getattr(m, name) for name in ("fixed_line", "mobile", "toll_free")]
        patterns += [d.national_number_pattern for d in descs if d is not None and d.national_number_pattern]
    assert sum(map(common_syntax, patterns)) >= 0.99 * len(patterns)
