"""Comparable columns of contacts and companies, computed once per record in DuckDB.

:func:`contact_sql` and :func:`company_sql` select one row per record of table ``dup_source``
(the records to compare, chosen by :func:`.sqlscore.prepare`) with the columns
that :mod:`.sqlscore` compares: ``pg`` / ``pf`` (given and family name as
:func:`.names.person_name` makes them), ``email``, ``phone`` / ``country`` / ``tail``,
``company`` / ``cname`` (company key and normalised company name) / ``ed`` / ``cd``
(e-mail and company web domains), ``domain``, ``street`` / ``snums`` (its numbers),
``postal``, ``city``, ``state`` and ``i0``, ``i1``, ... (the named identifiers).

The values are those of :func:`.tenant.contact_record` / :func:`.tenant.company_record`:
plain ASCII text is normalised in SQL (the same rules as :func:`crm_audit_checks.matching.fold`
for ASCII); anything else (names, company names, other scripts, unusual e-mails) goes
through the Python normalisers once per *distinct value*, in the lookup tables of
:func:`name_map`, :func:`fold_map` and :func:`email_map`.
"""

from __future__ import annotations

import re

import pyarrow as pa

from .. import matching
from . import names, records

# Printable ASCII: the SQL normalisations below equal the Python ones on such text.
PRINTABLE = "'[ -~]*'"
WHITESPACE = "chr(32) || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)"
# Folded street, city or state of printable ASCII text: fold() keeps letters and digits only.
ASCII_KEY = "nullif(regexp_replace(lower({0}), '[^a-z0-9]', '', 'g'), '')"
POSTCODE_KEY = "nullif(upper(regexp_replace(CAST({0} AS VARCHAR), '[ ./-]+', '', 'g')), '')"


def _printable(value: str) -> str:
    return f"coalesce(regexp_full_match(CAST({value} AS VARCHAR), {PRINTABLE}), TRUE)"


def name_map(ctx, query: str) -> pa.Table:
    """Distinct raw name values of ``query``: blocking tokens (``norm``), the folded value
    (``pn``), its Hangul split (``hg`` / ``hf``) and its split into words (``wg`` / ``wf``)
    for a whole name in one field, as :func:`.names.person_name` splits it."""
    raw = [r[0] for r in ctx.sql(query).fetchall() if r[0] is not None]
    cols = {"raw": raw, "norm": [], "pn": [], "hg": [], "hf": [], "wg": [], "wf": []}
    for value in raw:
        cols["norm"].append(names.blocking_tokens(value))
        whole = matching.fold(value).replace(" ", "")
        cols["pn"].append(whole)
        split = names.person_name(value, None) if names.is_hangul(whole) and 2 <= len(whole) <= 5 else None
        cols["hg"].append(split.given if split else None)
        cols["hf"].append(split.family if split else None)
        words = matching.fold(value).split()
        cols["wg"].append("".join(words[:-1]) if len(words) >= 2 else None)
        cols["wf"].append(words[-1] if len(words) >= 2 else None)
    return pa.table({k: pa.array(v, pa.string()) for k, v in cols.items()})


def fold_map(ctx, table: str, columns: list[str], normalise=records.street_key) -> pa.Table:
    """``normalise`` (:func:`.records.street_key`, or :func:`.records.code_key` for postcodes) of the
    distinct values of ``columns`` that are not printable ASCII."""
    if not columns:
        raw = []
    else:
        union = " UNION ".join(f"SELECT {c} AS v FROM {table} WHERE NOT {_printable(c)}" for c in columns)
        raw = [r[0] for r in ctx.sql(union).fetchall() if r[0] is not None]
    return pa.table({"raw": pa.array(raw, pa.string()),
                     "key": pa.array([normalise(v) for v in raw], pa.string())})


def email_map(ctx, table: str) -> pa.Table:
    """:func:`crm_audit_checks.matching.normalise_email` of the e-mails the SQL key cannot take."""
    raw = [r[0] for r in ctx.sql(f"SELECT DISTINCT email FROM {table} WHERE {_unusual_email('email')}").fetchall()
           if r[0] is not None]
    return pa.table({"raw": pa.array(raw, pa.string()),
                     "key": pa.array([matching.normalise_email(v) for v in raw], pa.string())})


def _unusual_email(column: str) -> str:
    return (f"NOT (regexp_full_match({column}, '[!-~]*') AND NOT contains(lower({column}), 'mailto:') "
            f"AND NOT suffix({column}, '.'))")


def _text_key(column: str, alias: str) -> str:
    return f"(CASE WHEN {_printable(column)} THEN {ASCII_KEY.format(column)} ELSE {alias}.key END)"


def _place_columns(has: dict, alias: str) -> tuple[list[str], list[str], list[str]]:
    """(select items, joins, texts compared by similarity) of street, postcode, city and state."""
    items, joins, texts = [], [], []
    for column, short in (("street", "street"), ("city", "city"), ("state", "state")):
        if has.get(column):
            key = _text_key(f"{alias}.{column}", f"f_{short}")
            items.append(f"{key} AS {short}")
            joins.append(f"LEFT JOIN dup_fold f_{short} ON f_{short}.raw = {alias}.{column}")
            texts.append(short)
        else:
            items.append(f"NULL::VARCHAR AS {short}")
    if has.get("postal_code"):
        column = f"{alias}.postal_code"
        items.append(f"(CASE WHEN {_printable(column)} THEN {POSTCODE_KEY.format(column)} ELSE f_postal.key END) AS postal")
        joins.append(f"LEFT JOIN dup_codes f_postal ON f_postal.raw = CAST({column} AS VARCHAR)")
    else:
        items.append("NULL::VARCHAR AS postal")
    return items, joins, texts


def _identifier_columns(identifier_sql: str, identifiers: list[str], alias: str) -> tuple[list[str], list[str]]:
    items, joins = [], []
    for k, column in enumerate(identifiers):
        quoted = column.replace("'", "''")
        joins.append(f"LEFT JOIN (SELECT id, max(value) AS v FROM ({identifier_sql}) WHERE field = '{quoted}' "
                     f"GROUP BY id) id{k} ON id{k}.id = {alias}.id")
        items.append(f"id{k}.v AS i{k}")
    return items, joins


def _phone_columns(has: dict, alias: str, country: str) -> list[str]:
    if not has.get("phone"):
        return ["NULL::VARCHAR AS phone", "NULL::VARCHAR AS country", "NULL::VARCHAR AS tail"]
    phone = f"CAST({alias}.phone AS VARCHAR)"
    return [f"nullif(trim({phone}, {WHITESPACE}), '') AS phone", f"{country} AS country",
            re.sub(r"\bphone\b", phone, matching.PHONE_TAIL_SQL) + " AS tail"]


def _company_name_columns(cname: str) -> list[str]:
    return [f"{cname} AS cname", f"replace({cname}, ' ', '') AS cflat",
            f"array_to_string(list_sort(string_split({cname}, ' ')), ' ') AS csort"]


def _outer(inner: str) -> str:
    """The record row around ``inner``: the e-mail's company domain, the street's numbers."""
    free = ", ".join(f"'{d}'" for d in sorted(matching.FREE_MAIL_DOMAINS))
    domain = "regexp_extract(email, '@([^@]*)$', 1)"
    return f"""
        SELECT *, CASE WHEN NOT list_contains([{free}], {domain}) THEN nullif({domain}, '') END AS ed,
               regexp_extract_all(street, '[0-9]+') AS snums
        FROM ({inner})"""


def contact_sql(has: dict, identifiers: list[str], identifier_sql: str, company_domains: bool) -> str:
    """One row per contact with the comparable columns (see the module docstring); needs the
    tables of :func:`name_map` (``dup_names``), :func:`fold_map` (``dup_fold``),
    :func:`email_map` (``dup_emails``), ``dup_company_names`` and ``dup_domains``."""
    given0, family0 = "coalesce(fm.pn, '')", "coalesce(lm.pn, '')"
    one = f"(({given0} <> '') <> ({family0} <> ''))"
    hangul = "(CASE WHEN {g} <> '' THEN fm.{c} ELSE lm.{c} END)"
    words = "(CASE WHEN c.first_name IS NOT NULL AND c.first_name <> '' THEN fm.{c} ELSE lm.{c} END)"

    def part(column: str, plain: str) -> str:
        h, w = hangul.format(g=given0, c="h" + column), words.format(c="w" + column)
        return (f"CASE WHEN NOT {one} THEN {plain} WHEN {h} IS NOT NULL THEN {h} WHEN {w} IS NOT NULL THEN {w} "
                f"ELSE {plain} END")

    place, place_joins, texts = _place_columns(has, "c")
    ids, id_joins = _identifier_columns(identifier_sql, identifiers, "c")
    if has.get("email"):
        key = re.sub(r"\bemail\b", "c.email", matching.EMAIL_KEY_SQL)
        email = f"CASE WHEN c.email IS NULL THEN NULL WHEN {_unusual_email('c.email')} THEN em.key ELSE ({key}) END"
        email_join = "LEFT JOIN dup_emails em ON em.raw = c.email"
    else:
        email, email_join = "NULL::VARCHAR", ""
    company_id = "nullif(CAST(c.company_id AS VARCHAR), '')" if has.get("company_id") else "NULL::VARCHAR"
    cname = "nullif(cn.norm, '')" if has.get("company_name") else "NULL::VARCHAR"
    return _outer(f"""
        SELECT c.id, {part('g', given0)} AS pg, {part('f', family0)} AS pf, {email} AS email,
               {", ".join(_phone_columns(has, "c", "nullif(CAST(c.country AS VARCHAR), '')"
                                         if has.get("country") else "NULL::VARCHAR"))},
               coalesce({company_id}, 'name:' || {cname}) AS company, {", ".join(_company_name_columns(cname))},
               {"cd.norm" if company_domains else "NULL::VARCHAR"} AS cd, NULL::VARCHAR AS domain,
               {", ".join(place)}
               {"".join(", " + i for i in ids)}
        FROM dup_source c
        LEFT JOIN dup_names fm ON fm.raw = c.first_name
        LEFT JOIN dup_names lm ON lm.raw = c.last_name
        {email_join}
        {"LEFT JOIN dup_company_names cn ON cn.raw = c.company_name" if has.get("company_name") else ""}
        {"LEFT JOIN (SELECT id AS company_ref, domain FROM companies) co ON co.company_ref = c.company_id "
         "LEFT JOIN dup_domains cd ON cd.raw = co.domain" if company_domains else ""}
        {" ".join(place_joins)} {" ".join(id_joins)}""")


def company_sql(has: dict, identifiers: list[str], identifier_sql: str) -> str:
    """One row per company with the comparable columns; needs ``dup_names`` (company names),
    ``dup_domains`` and ``dup_fold``."""
    place, place_joins, texts = _place_columns(has, "c")
    ids, id_joins = _identifier_columns(identifier_sql, identifiers, "c")
    country = (f"nullif(upper(trim(CAST(c.country AS VARCHAR), {WHITESPACE})), '')" if has.get("country")
               else "NULL::VARCHAR")
    return _outer(f"""
        SELECT c.id, '' AS pg, '' AS pf, NULL::VARCHAR AS email, {", ".join(_phone_columns(has, "c", country))},
               NULL::VARCHAR AS company, {", ".join(_company_name_columns("nullif(n.norm, '')"))},
               NULL::VARCHAR AS cd, {"d.norm" if has.get("domain") else "NULL::VARCHAR"} AS domain,
               {", ".join(place)}
               {"".join(", " + i for i in ids)}
        FROM dup_source c
        LEFT JOIN dup_names n ON n.raw = c.name
        {"LEFT JOIN dup_domains d ON d.raw = c.domain" if has.get("domain") else ""}
        {" ".join(place_joins)} {" ".join(id_joins)}""")
