"""Standard checks: stale and invalid data (Part 2, step 5: people change jobs, phones and addresses).

E-mail and phone validation use the libraries that know the rules (email-validator,
phonenumbers), but never once a contact: a million contacts share a few thousand e-mail
domains, so the local part is checked in SQL and each distinct domain (Unicode or not)
is validated once; only addresses with odd local parts are validated whole. Phones of
the common shapes are proved valid in SQL from phonenumbers' own metadata
(``phone_rules``); the rest are validated once per distinct (number, region) pair, in
worker processes when there are many.
(Open deals with past close dates are ``open-work.deals-past-close-date``.)
"""

from __future__ import annotations

import os

from crm_audit_core import check

from .i18n import _, ngettext
from .missing_data import filled_sql, percent
from .phone_rules import MAX_CODE_DIGITS, PhoneRules
from .validation_text import email_problem_text, invalid_number_text, no_region_text, phone_unreadable_text

EMAIL_MAX = 254
# A (lower-cased) ASCII domain of this shape passes every rule email-validator applies to
# domains (labels of 1-63 letters, digits and inner hyphens, at most 253 characters,
# a last label ending in a letter, no "ab--" label (Punycode goes to Python), not a
# special-use name), so it needs no Python at all. tests/test_stale_data.py holds
# email-validator to that promise.
LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
SAFE_DOMAIN = rf"^({LABEL}\.)+{LABEL}$"
NOT_SAFE_DOMAIN = r"(^|\.)[a-z0-9-]{2}--"
DOMAIN_MAX = 253
SHOWN = 80  # characters of a bad value quoted in the fix-list


def special_use_domains() -> str:
    """A regex for the special-use names email-validator rejects (arpa, invalid, local, ...)."""
    import re

    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    return r"^(.*\.)?(" + "|".join(re.escape(d) for d in SPECIAL_USE_DOMAIN_NAMES) + r")$"


def safe_domain_sql(domain: str) -> str:
    """SQL: true when the lower-cased ``domain`` is certainly valid (see SAFE_DOMAIN)."""
    return (f"(length({domain}) <= {DOMAIN_MAX} AND regexp_full_match({domain}, $safe_domain) "
            f"AND regexp_matches({domain}, '[a-z]$') AND NOT regexp_matches({domain}, $not_safe_domain) "
            f"AND NOT regexp_full_match({domain}, $special_domain))")


def _shown(value: str) -> str:
    return repr(value if len(value) <= SHOWN else value[:SHOWN] + "…")


# ------------------------------------------------------------------------------- stale


@check(
    id="data.stale-contacts",
    title="Contacts not updated for a year",
    step="stale-data",
    area="data",
    severity="low",
    needs={"contacts": ["id", "updated_at"]},
    settings={"days": 365},
    settings_help={"days": "a contact not updated for this many days is stale"},
    description="People change jobs, phones and addresses; a contact nobody has updated for a year is "
    "likely out of date. (Open deals whose close date has passed are reported by open-work.deals-past-close-date.)",
    remediation="Re-verify the contacts listed (enrichment, a confirmation email, the owner's knowledge) and "
    "update or archive them.",
)
def stale_contacts(ctx):
    days = ctx.settings["days"]
    updated = "coalesce(updated_at, created_at)" if ctx.supplied("contacts", "created_at") else "updated_at"
    ids = ctx.ids(f"SELECT id FROM contacts WHERE {updated} < $as_of - to_days($days)", days=days)
    age = f"datediff('day', {updated}, $as_of)"
    buckets = ctx.sql(
        f"SELECT count_if({updated} IS NULL), count_if({age} < 90), count_if({age} >= 90 AND {age} < 180), "
        f"count_if({age} >= 180 AND {age} < 365), count_if({age} >= 365 AND {age} < 730), "
        f"count_if({age} >= 730 AND {age} < 1825), count_if({age} >= 1825), count(*) FROM contacts"
    ).fetchone()
    labels = ("unknown", "< 90 days", "90-179 days", "180-364 days", "1-2 years", "2-5 years", "5+ years")
    total = int(buckets[-1])
    return ctx.result(ids=ids, population=total,
                      metrics={"last_update_age": {k: int(v) for k, v in zip(labels, buckets)}},
                      message=ngettext("{n} of {total} contacts has not been updated for {days} days",
                                       "{n} of {total} contacts have not been updated for {days} days",
                                       len(ids), total=total, days=days))


# ------------------------------------------------------------------------------ e-mail

# A local part email-validator accepts as it is (its DOT_ATOM_TEXT: RFC 5322 atext
# separated by single dots, ASCII only). Such a local part is valid whatever follows
# the @, so the address's verdict is its domain's, plus the total length.
ATEXT = r"A-Za-z0-9_!#$%&'*+/=?^`{|}~-"
PLAIN_LOCAL = rf"[{ATEXT}]+(\.[{ATEXT}]+)*"
ASCII_DOMAIN = r"[A-Za-z0-9.-]+"


def _email_problem(address: str) -> str | None:
    """Why ``address`` is not a valid e-mail address (syntax only, no DNS), or None."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def domain_verdict(domain: str) -> tuple[str | None, int | None]:
    """What a plain local part ``@domain`` gets from email-validator: (problem, longest form).

    ``problem`` is the domain's own error (the same for every plain local part, since
    email-validator checks the domain before the lengths and independently of the local
    part). Otherwise the domain is valid and ``longest`` is the byte length of its longest
    form (as written, normalised, IDNA-encoded): an address ``local@domain`` is then valid
    exactly when ``len(local) + 1 + longest <= 254``. (None, None) when the probe itself
    is too long to tell: those addresses are validated whole.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        valid = validate_email("a@" + domain, check_deliverability=False)
    except EmailNotValidError as exc:
        first = str(exc)
    else:
        return None, max(len(domain.encode("utf8")), len(valid.domain.encode("utf8")), len(valid.ascii_domain))
    # A length error names how many characters are too many, so it changes with the local
    # part; a domain error does not. The same message twice is the domain's.
    second = _email_problem("ab@" + domain)
    return (first, None) if second == first else (None, None)


_HANGUL_LABEL = None


def hangul_domain_verdict(domain: str) -> tuple[None, int] | None:
    """:func:`domain_verdict` of a domain whose labels are Hangul syllables or ASCII, without
    email-validator's IDNA round trips (a quarter of a millisecond a domain: seconds for the
    tens of thousands of Korean companies' Hangul domains of a big tenant); None when it
    cannot tell, and the caller asks :func:`domain_verdict`.

    Precomposed Hangul syllables (U+AC00-U+D7A3) are valid in IDNA 2008 and UTS 46, are
    unchanged by normalisation and bring no bidi or context rule: such a label is valid
    exactly when its A-label (``xn--`` + Punycode) has at most 63 characters. What is left
    to judge is the rest of the domain (the ASCII labels, the TLD, special-use names), the
    same with the Hangul labels replaced by the letters ``ab``: that stand-in domain is
    asked of email-validator once (cached), and only a valid one is answered here, with
    the longest form's length: the A-label form (the Unicode forms' byte lengths are the
    domain's own). tests/test_stale_data.py holds it to domain_verdict's answers.
    """
    global _HANGUL_LABEL
    import re

    if _HANGUL_LABEL is None:
        _HANGUL_LABEL = re.compile("[\uac00-\ud7a3]+")
    ascii_form, stand_in = [], []
    for label in domain.split("."):
        if label.isascii():
            ascii_form.append(label)
            stand_in.append(label)
        elif _HANGUL_LABEL.fullmatch(label):
            a_label = 4 + punycode_length(label)  # "xn--" + the Punycode digits
            if a_label > 63:
                return None
            ascii_form.append(a_label)
            stand_in.append("ab")
        else:
            return None
    ascii_domain = sum(n if isinstance(n, int) else len(n) for n in ascii_form) + len(ascii_form) - 1
    longest = max(len(domain.encode("utf8")), ascii_domain)
    if ascii_domain > DOMAIN_MAX or len("a@") + longest > 254:
        return None  # too long for the probe address: domain_verdict cannot tell either
    if _stand_in_verdict(".".join(stand_in))[0] is not None:
        return None
    return None, longest


def punycode_length(label: str) -> int:
    """``len(label.encode("punycode"))`` for a label without ASCII characters, counted
    rather than built (RFC 3492's encoder, a third of the standard codec's time)."""
    points = [ord(c) for c in label]
    n, delta, bias, done, length = 128, 0, 72, 0, 0
    for m in sorted(set(points)):
        delta += (m - n) * (done + 1)
        n = m
        for c in points:
            if c < n:
                delta += 1
            elif c == n:
                q, k = delta, 36
                while True:  # the digits of the variable-length integer q
                    t = 1 if k <= bias else 26 if k >= bias + 26 else k - bias
                    if q < t:
                        break
                    length += 1
                    q = (q - t) // (36 - t)
                    k += 36
                length += 1
                d = delta // 700 if done == 0 else delta // 2  # bias adaptation
                d += d // (done + 1)
                k = 0
                while d > 455:
                    d //= 35
                    k += 36
                bias = k + (36 * d) // (d + 38)
                delta = 0
                done += 1
        delta += 1
        n += 1
    return length


def _stand_in_verdict(domain: str):
    cache = _stand_in_verdict.cache
    if domain not in cache:
        if len(cache) > 10_000:
            cache.clear()
        problem, longest = domain_verdict(domain)
        cache[domain] = (problem if longest is not None or problem else "unknown", longest)
    return cache[domain]


_stand_in_verdict.cache = {}


@check(
    id="data.invalid-emails",
    title="Contacts with an invalid email address",
    step="stale-data",
    area="data",
    severity="medium",
    needs={"contacts": ["id", "email"]},
    description="An address that is not even syntactically valid bounces every email, hurts the sender "
    "reputation of every campaign, and usually hides a typo that is easy to fix.",
    remediation="Correct the addresses listed (the fix-list says what is wrong: a missing dot, a space, "
    "two @ signs, ...) or clear them and ask the contact's owner for the right one.",
)
def invalid_emails(ctx):
    import pyarrow as pa

    filled = filled_sql("contacts", "email")
    local, domain = "split_part(email, '@', 1)", "substr(email, strpos(email, '@') + 1)"
    plain = f"(strpos(email, '@') > 0 AND regexp_full_match({local}, $plain_local))"
    safe = f"(regexp_full_match({domain}, $ascii_domain) AND {safe_domain_sql(f'lower({domain})')})"
    patterns = dict(plain_local=PLAIN_LOCAL, ascii_domain=ASCII_DOMAIN, safe_domain=SAFE_DOMAIN,
                    not_safe_domain=NOT_SAFE_DOMAIN, special_domain=special_use_domains())
    # 1. plain local parts: each distinct domain the SQL cannot vouch for, once
    domains = [d for (d,) in ctx.sql(
        f"SELECT DISTINCT {domain} FROM contacts WHERE {filled} AND {plain} AND NOT {safe}", **patterns).fetchall()]
    verdicts = [hangul_domain_verdict(d) or domain_verdict(d) for d in domains]
    table = pa.table({"domain": pa.array(domains, pa.string()),
                      "problem": pa.array([p for p, _n in verdicts], pa.string()),
                      "longest": pa.array([n for _p, n in verdicts], pa.int64())})
    # 2. what each address needs: nothing, its domain's verdict, or validating whole
    # (odd local parts, addresses that may be too long, domains the probe could not tell)
    with ctx.temporary_tables(email_domains=table):
        rows = ctx.sql(
            f"SELECT c.id, c.email, v.problem, "
            f"  NOT {plain} OR (v.domain IS NULL AND strlen(c.email) > {EMAIL_MAX}) "
            f"  OR (v.domain IS NOT NULL AND v.problem IS NULL AND (v.longest IS NULL "
            f"      OR strlen({local}) + 1 + v.longest > {EMAIL_MAX})) AS whole "
            f"FROM contacts c LEFT JOIN email_domains v ON {plain} AND v.domain = {domain} "
            f"WHERE {filled} AND (v.problem IS NOT NULL OR NOT {plain} "
            f"  OR (v.domain IS NULL AND strlen(c.email) > {EMAIL_MAX}) "
            f"  OR (v.domain IS NOT NULL AND (v.longest IS NULL OR strlen({local}) + 1 + v.longest > {EMAIL_MAX})))",
            **patterns,
        ).fetchall()
    odd = sorted({email for _rid, email, _problem, whole in rows if whole})
    bad_emails = {}
    for address in odd:
        problem = _email_problem(address)
        if problem:
            bad_emails[address] = problem
    details = {}
    for rid, email, problem, whole in rows:
        why = bad_emails.get(email) if whole else problem
        if why:
            # TRANSLATORS: the address as the CRM holds it, quoted, then why it is not valid
            details[str(rid)] = _("{email}: {problem}", email=_shown(email), problem=email_problem_text(why))
    with_email = ctx.count("contacts", filled)
    metrics = {"contacts_with_email": with_email, "invalid": len(details), "domains_validated": len(domains),
               "addresses_validated": len(odd), "invalid_domains": sum(1 for p, _n in verdicts if p)}
    return ctx.result(ids=sorted(details), population=with_email, details=details, metrics=metrics,
                      message=ngettext("{n} of {total} email addresses is not valid",
                                       "{n} of {total} email addresses are not valid", len(details), total=with_email))


# ------------------------------------------------------------------------------- phones

# Country names CRMs store instead of ISO codes (the codes themselves pass through).
COUNTRY_NAMES = {
    "indonesia": "ID", "south korea": "KR", "korea": "KR", "republic of korea": "KR", "korea, republic of": "KR",
    "대한민국": "KR", "한국": "KR", "united states": "US", "united states of america": "US", "usa": "US",
    "u.s.": "US", "u.s.a.": "US", "america": "US", "united kingdom": "GB", "uk": "GB", "great britain": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "australia": "AU", "singapore": "SG", "germany": "DE",
    "deutschland": "DE", "malaysia": "MY", "japan": "JP", "china": "CN", "india": "IN", "france": "FR",
    "netherlands": "NL", "canada": "CA", "philippines": "PH", "thailand": "TH", "vietnam": "VN", "viet nam": "VN",
    "new zealand": "NZ", "spain": "ES", "italy": "IT", "brazil": "BR", "mexico": "MX", "hong kong": "HK",
    "taiwan": "TW", "ireland": "IE", "switzerland": "CH", "austria": "AT", "sweden": "SE", "norway": "NO",
    "denmark": "DK", "finland": "FI", "belgium": "BE", "poland": "PL", "portugal": "PT",
}


def region_for(country, default: str | None) -> str | None:
    """The phonenumbers region for a contact's country (ISO code or common name), else ``default``."""
    import phonenumbers

    text = str(country or "").strip()
    if text:
        code = text.upper() if len(text) == 2 else COUNTRY_NAMES.get(text.lower())
        if code and code in phonenumbers.SUPPORTED_REGIONS:
            return code
    return default or None


def phone_problem(pair: tuple[str, str | None]):
    """Why ``phone`` is not a valid number for ``region``, a Message (None when it is valid)."""
    import phonenumbers

    phone, region = pair
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and region is None:
            return no_region_text()
        return phone_unreadable_text(str(exc._msg))
    if phonenumbers.is_valid_number(number):
        return None
    where = region or phonenumbers.region_code_for_country_code(number.country_code)
    return invalid_number_text(where if where and where != "ZZ" else None)


PARALLEL_FROM = 50_000  # below this, starting processes costs more than it saves


def _problems_chunk(pairs):
    return [phone_problem(p) for p in pairs]


def validate_phones(pairs: list, workers: int) -> list:
    """``phone_problem`` for each pair, in ``workers`` processes when it pays off."""
    if workers <= 1 or len(pairs) < PARALLEL_FROM:
        return [phone_problem(p) for p in pairs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    if "fork" not in multiprocessing.get_all_start_methods():
        return [phone_problem(p) for p in pairs]
    size = max(1, min(20_000, len(pairs) // (workers * 8)))
    chunks = [pairs[i:i + size] for i in range(0, len(pairs), size)]
    # fork: the workers only run phonenumbers on the lists they are handed (no store access),
    # and fork needs no importable __main__, unlike spawn.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        out = []
        for part in pool.map(_problems_chunk, chunks):
            out.extend(part)
    return out


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@check(
    id="data.invalid-phones",
    title="Contacts with an invalid phone number",
    step="stale-data",
    area="data",
    severity="low",
    needs={"contacts": ["id", "phone"]},
    settings={"default_region": "", "workers": 0},
    settings_help={
        "default_region": "ISO country code (e.g. 'ID') to read national numbers of contacts without a country",
        "workers": "processes validating numbers (0: one per CPU core, at most 4; 1: none)",
    },
    description="A phone number that cannot be dialled (wrong length, unknown prefix, letters) wastes the sales "
    "team's time and breaks calling and SMS integrations. Numbers are read in the contact's country.",
    remediation="Correct the numbers listed (prefer international format, +<country code>...), or clear them; "
    "set the contact's country so national numbers can be read.",
)
def invalid_phones(ctx):
    import phonenumbers
    import pyarrow as pa

    default = str(ctx.settings.get("default_region") or "").strip().upper() or None
    if default and default not in phonenumbers.SUPPORTED_REGIONS:
        return ctx.skip(_("default_region {region} is not a country code phonenumbers knows", region=repr(default)))
    workers = int(ctx.settings.get("workers") or 0) or min(4, _cores())
    filled = filled_sql("contacts", "phone")
    has_country = ctx.supplied("contacts", "country")
    country = "country" if has_country else "NULL::VARCHAR"
    regions: dict = {cty: region_for(cty, default)
                     for (cty,) in ctx.sql(f"SELECT DISTINCT {country} FROM contacts WHERE {filled}").fetchall()}
    # 1. the common shapes, proved valid in SQL from phonenumbers' metadata (phone_rules)
    digits = "regexp_replace(phone, '[^0-9]', '', 'g')"
    prefixes = [p for (p,) in ctx.sql(
        f"SELECT DISTINCT left({digits}, {MAX_CODE_DIGITS}) FROM contacts WHERE {filled} AND starts_with(phone, '+')"
    ).fetchall() if p]
    rules = PhoneRules()
    proved = rules.proof("phone", "d", "region", regions.values(), prefixes)
    known = pa.table({"country": pa.array(list(regions), pa.string()),
                      "region": pa.array(list(regions.values()), pa.string())})
    # 2. the rest: phonenumbers, once per distinct (number, region)
    with ctx.temporary_tables(phone_regions=known):
        rows = ctx.sql(
            f"SELECT phone, country FROM (SELECT p.phone, p.country, r.region, {digits} AS d "
            f"FROM (SELECT DISTINCT phone, {country} AS country FROM contacts WHERE {filled}) p "
            f"LEFT JOIN phone_regions r ON p.country IS NOT DISTINCT FROM r.country) WHERE NOT {proved}",
            **rules.params,
        ).fetchall()
    pairs = [(phone, regions[cty]) for phone, cty in rows]
    unique = list(dict.fromkeys(pairs))  # rows differing only in how the country is spelt
    verdict = dict(zip(unique, validate_phones(unique, workers)))
    bad = [(phone, cty, verdict[pair]) for (phone, cty), pair in zip(rows, pairs) if verdict[pair]]
    validated = len(unique)
    del rows, pairs, unique, verdict
    details = {}
    if bad:
        why = {(p, c): w for p, c, w in bad}
        for rid, phone, cty in ctx.sql(
            f"SELECT c.id, c.phone, b.country FROM contacts c JOIN "
            f"(SELECT unnest($phones) AS phone, unnest($countries) AS country) b "
            f"ON c.phone = b.phone AND {'c.country' if has_country else 'NULL'} IS NOT DISTINCT FROM b.country",
            phones=[b[0] for b in bad], countries=[b[1] for b in bad],
        ).fetchall():
            # TRANSLATORS: the number as the CRM holds it, quoted, then why it is not valid
            details[str(rid)] = _("{phone}: {problem}", phone=_shown(phone), problem=why[(phone, cty)])
    with_phone = ctx.count("contacts", filled)
    by_region: dict[str, int] = {}
    for _phone, cty, _why in bad:
        key = regions.get(cty) or "(no country)"
        by_region[key] = by_region.get(key, 0) + 1
    return ctx.result(ids=sorted(details), population=with_phone, details=details,
                      metrics={"contacts_with_phone": with_phone, "invalid_by_region": by_region,
                               "numbers_validated": validated},
                      message=ngettext("{n} of {total} phone numbers is not valid",
                                       "{n} of {total} phone numbers are not valid", len(details), total=with_phone))


# ------------------------------------------------------------------------------ bounces


@check(
    id="data.bounced-emails",
    title="Contacts whose email bounced",
    step="stale-data",
    area="data",
    severity="low",
    needs={"contacts": ["id", "email_bounced"]},
    description="A hard bounce means the address is dead (the person usually left the company); mailing it "
    "again hurts deliverability for everybody else.",
    remediation="Find the contact's new address (or new employer) and update the record, or archive it; "
    "make sure bounced contacts are excluded from marketing sends.",
)
def bounced_emails(ctx):
    ids = ctx.ids("SELECT id FROM contacts WHERE email_bounced")
    population = ctx.count("contacts", filled_sql("contacts", "email")) if ctx.supplied("contacts", "email") else ctx.count("contacts")
    return ctx.result(ids=ids, population=population,
                      metrics={"bounce_percent": percent(len(ids), population)},
                      message=ngettext("{n} of {total} contacts with an email address has bounced",
                                       "{n} of {total} contacts with an email address have bounced",
                                       len(ids), total=population))


CHECKS = (stale_contacts, invalid_emails, invalid_phones, bounced_emails)
