"""Read one tenant for linkage: blocking keys in DuckDB, term frequencies, samples.

For contacts and for companies, :func:`contact_spec` / :func:`company_spec` build the
blocking keys in SQL over whatever columns the tenant supplied (normalised e-mail, the
last 8 digits of the phone, company or work domain + name prefix, street + name prefix,
postcode + name prefix, each named identifier) and pair the records sharing a key
(blocks larger than ``max_block`` say nothing about identity and are skipped) into a
temporary DuckDB table; they count the term frequencies of repeated values and say which
comparisons the columns allow and how each record's comparable columns are computed
(:mod:`.columns`). :func:`contact_linkage` / :func:`company_linkage` hand that, with a
seeded sample of random pairs, to :func:`.sqlscore.link`. :func:`contact_record` /
:func:`company_record` are the same comparable records in Python (the reference the SQL
columns are tested against).
"""

from __future__ import annotations

import pyarrow as pa

from .. import matching
from . import columns, engine, names, records, sqlscore

RANDOM_RECORDS = 3000  # records sampled for u
# Blocking keys made of a name and a place, or of a name or place alone: their blocks
# hold look-alikes more than duplicates, so only small ones are compared (a key shared
# by more than WEAK_BLOCK records is skipped, whatever max_block says), and only records
# without an e-mail or phone get them (the others meet through those, their company or
# their street).
WEAK_KEYS = frozenset({"n", "y", "z", "zs", "pc", "st", "hn", "sw"})
WEAK_BLOCK = 30
RANDOM_PAIRS = 60_000  # random pairs among them


def _empty_map() -> pa.Table:
    return pa.table({"raw": pa.array([], pa.string()), "norm": pa.array([], pa.string())})


def _fold_map(ctx, query: str, normalise) -> pa.Table:
    """Distinct raw values of ``query`` and their normalised form (Python, once per value)."""
    raw = [r[0] for r in ctx.sql(query).fetchall() if r[0] is not None]
    return pa.table({"raw": pa.array(raw, pa.string()), "norm": pa.array([normalise(v) for v in raw], pa.string())})


def keys_table_sql(keys_sql: str, grouped: bool = False) -> str:
    """SQL of the distinct ``(id, key, grp)`` of ``keys_sql`` (``'<kind>:<value>'`` keys).

    With ``grouped``, ``keys_sql`` gives a third column ``grp``: two records of one
    (non-null) ``grp`` are not paired through that key (they meet through another one)."""
    grp = "grp" if grouped else "NULL::VARCHAR AS grp"
    return f"SELECT DISTINCT CAST(id AS VARCHAR) AS id, key, {grp} FROM ({keys_sql}) WHERE key IS NOT NULL"


def _pairs_from(keys: str) -> str:
    """CTEs and SELECT of the candidate pairs of the key table or CTE ``keys`` (see :func:`candidate_pairs_sql`)."""
    return f"""
             blocks AS (SELECT key FROM {keys} GROUP BY key
                        HAVING count(*) BETWEEN 2 AND (CASE WHEN list_contains($weak, split_part(key, ':', 1))
                                                            THEN least($max_block, $weak_block) ELSE $max_block END)),
             members AS (SELECT k.id, k.key, k.grp FROM {keys} k JOIN blocks USING (key))
        SELECT DISTINCT x.id AS a, y.id AS b FROM members x JOIN members y ON x.key = y.key AND x.id < y.id
        WHERE x.grp IS NULL OR y.grp IS NULL OR x.grp <> y.grp
        """


def pairs_from_keys_sql(keys: str) -> str:
    """SQL of the candidate pairs of a table of :func:`keys_table_sql` rows (see :func:`candidate_pairs_sql`)."""
    return "WITH " + _pairs_from(keys)


def candidate_pairs_sql(keys_sql: str, grouped: bool = False) -> str:
    """SQL of the distinct pairs ``(a, b)``, a < b, of records sharing a blocking key of
    ``keys_sql`` (``'<kind>:<value>'``; with ``grouped``, also ``grp``: see
    :func:`keys_table_sql`); blocks larger than ``$max_block`` (``$weak_block`` for the
    kinds in ``$weak``) are skipped. Parameters: :func:`blocking_params`."""
    return f"WITH keys AS ({keys_table_sql(keys_sql, grouped)}), {_pairs_from('keys')}"


def key_counts(ctx, kind: str) -> dict[str, int]:
    """Term frequencies read from the blocking keys (table ``dup_keys``): how many records
    have each value of the keys of ``kind`` (``e`` e-mail, ``p`` phone tail), for the values
    more than one record has. The same counts as counting the column itself, without
    normalising every record's value a second time."""
    return _tf(ctx, f"SELECT substr(key, {len(kind) + 2}) AS v, count(*) FROM dup_keys "
                    f"WHERE starts_with(key, '{kind}:') GROUP BY key HAVING count(*) > 1")


def blocking_params(max_block: int) -> dict:
    return {"max_block": max_block, "weak": sorted(WEAK_KEYS), "weak_block": WEAK_BLOCK}


def candidate_pairs(ctx, keys_sql: str, max_block: int, **params) -> list[tuple[str, str]]:
    """The pairs of :func:`candidate_pairs_sql` as (a, b) tuples, ordered."""
    rows = ctx.sql(candidate_pairs_sql(keys_sql) + " ORDER BY 1, 2", **blocking_params(max_block), **params).fetchall()
    return [(str(a), str(b)) for a, b in rows]


def _rows(ctx, table: str, columns: list[str], ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    cursor = ctx.sql(f"SELECT {', '.join(columns)} FROM {table} WHERE id IN (SELECT unnest($ids)) ORDER BY id", ids=ids)
    names_ = [d[0] for d in cursor.description]
    return {str(r[0]): dict(zip(names_, r)) for r in cursor.fetchall()}


def _sample_ids(ctx, table: str) -> list[str]:
    """A seeded sample of record ids (the same on every run of the same snapshot)."""
    return [str(r[0]) for r in ctx.sql(
        f"SELECT id FROM {table} ORDER BY hash(id || 'crm-audit'), id LIMIT $n", n=RANDOM_RECORDS).fetchall()]


def identifier_columns(ctx, table: str, identifiers: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(canonical columns, custom fields, missing) among the identifiers named for ``table``."""
    canonical, custom, missing = [], [], []
    known_custom = set()
    if identifiers and ctx.supplied("custom_values"):
        known_custom = {r[0] for r in ctx.sql("SELECT DISTINCT field FROM custom_values WHERE object = $o AND field IN "
                                              "(SELECT unnest($f))", o=table, f=list(identifiers)).fetchall()}
    for name in identifiers:
        if ctx.supplied(table, name):
            canonical.append(name)
        elif name in known_custom:
            custom.append(name)
        else:
            missing.append(name)
    return canonical, custom, missing


def _identifier_sql(table: str, canonical: list[str], custom: list[str]) -> str:
    """(id, field, value) of every named identifier, normalised like records.code_key."""
    norm = "nullif(upper(regexp_replace(CAST({} AS VARCHAR), '[\\s.\\-/]+', '', 'g')), '')"
    parts = [f"SELECT id, '{c}' AS field, {norm.format(c)} AS value FROM {table}" for c in canonical]
    if custom:
        quoted = ", ".join("'" + c.replace("'", "''") + "'" for c in custom)
        parts.append(f"SELECT record_id AS id, field, {norm.format('value')} AS value FROM custom_values "
                     f"WHERE object = '{table}' AND field IN ({quoted})")
    return " UNION ALL ".join(parts)


def _identifier_values(ctx, table, canonical, custom, ids) -> dict[str, dict[str, str]]:
    if not (canonical or custom) or not ids:
        return {}
    out: dict[str, dict[str, str]] = {}
    for rid, fieldname, value in ctx.sql(f"SELECT * FROM ({_identifier_sql(table, canonical, custom)}) "
                                         f"WHERE value IS NOT NULL AND id IN (SELECT unnest($ids))", ids=ids).fetchall():
        out.setdefault(str(rid), {})[f"id:{fieldname}"] = value
    return out


def _tf(ctx, query: str, normalise=None) -> dict[str, int]:
    """Counts of repeated values (count >= 2) of ``query`` (value, count), normalised in Python."""
    out: dict[str, int] = {}
    for value, count in ctx.sql(query).fetchall():
        key = normalise(value) if normalise else value
        if key:
            out[key] = out.get(key, 0) + int(count)
    return out


def _repeated(column: str, table: str) -> str:
    return f"SELECT {column} AS v, count(*) FROM {table} WHERE {column} IS NOT NULL GROUP BY 1 HAVING count(*) > 1"


def _nonnull(ctx, table: str, column: str) -> int:
    return int(ctx.sql(f"SELECT count({column}) FROM {table}").fetchall()[0][0] or 0)


def _count(ctx, table: str) -> int:
    """Rows of ``table``, with the result read to its end (DuckDB refuses to register a
    temporary table while a result is still open on the connection)."""
    return int(ctx.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0])


# --------------------------------------------------------------------------- contacts


def contact_record(row: dict) -> dict:
    email = matching.normalise_email(row.get("email"))
    company = str(row["company_id"]) if row.get("company_id") not in (None, "") else None
    company_name = matching.normalise_company(row.get("company_name"))
    if company is None and company_name:
        company = f"name:{company_name}"
    phone = str(row["phone"]).strip() if row.get("phone") else None
    return {
        "person": names.person_name(row.get("first_name"), row.get("last_name")),
        "email": email,
        "phone": phone or None,
        "phone_tail": matching.phone_tail(phone),
        "country": row.get("country") or None,
        "company": company,
        "company_name": company_name or None,
        "domains": frozenset(d for d in (matching.email_domain(email), matching.normalise_domain(row.get("company_domain")))
                             if d),
        "street": records.street_key(row.get("street")),
        "postal_code": records.code_key(row.get("postal_code")),
        "city": records.street_key(row.get("city")),
        "state": records.street_key(row.get("state")),
        **{k: v for k, v in row.items() if k.startswith("id:")},
    }


# Street and city blocking keys: lower case, accents, ASCII punctuation and spaces dropped.
STREET_KEY_SQL = "nullif(regexp_replace(lower(strip_accents(street)), '[[:punct:][:space:]]+', '', 'g'), '')"
DOMAIN_KEY_SQL = "nullif(d.norm, '')"
CITY_KEY_SQL = "nullif(regexp_replace(lower(strip_accents(city)), '[[:punct:][:space:]]+', '', 'g'), '')"
POSTCODE_BLOCK_SQL = "upper(regexp_replace(postal_code, '[[:space:]]+', '', 'g'))"


def _company_key_sql(has: dict) -> str:
    by_name = "'name:' || nullif(cn.norm, '')"
    if has["company_id"] and has["company_name"]:
        return f"coalesce(nullif(trim(CAST(c.company_id AS VARCHAR)), ''), {by_name})"
    if has["company_id"]:
        return "nullif(trim(CAST(c.company_id AS VARCHAR)), '')"
    return by_name if has["company_name"] else "NULL"


def _key_columns(has: dict) -> str:
    """The blocking-key columns contacts and companies share: phone tail, street, postcode."""
    return (f"{matching.PHONE_TAIL_SQL if has['phone'] else 'NULL'} AS phone_tail, "
            f"{STREET_KEY_SQL if has['street'] else 'NULL'} AS street_key, "
            f"{POSTCODE_BLOCK_SQL if has['postal_code'] else 'NULL'} AS postcode_key")


# The keys both tables block on: the phone's last digits, and the street with the name's
# first two letters (``tokens``: one row per word of the name).
SHARED_KEYS = """UNION ALL SELECT id, 'p:' || phone_tail FROM base
            UNION ALL SELECT id, 's:' || street_key || ':' || left(token, 2) FROM tokens
                      WHERE street_key IS NOT NULL AND token <> ''"""


# Contacts: the street with the first two letters of two different name words (in either
# order), for every contact, grouped by company: colleagues sharing those letters already
# meet through their company's key. One prefix alone ("sw", a weak key) paired a building's
# every Jo and John: at 1M generated contacts (87 contacts an address) it made 12 of the 14
# million candidate pairs, and no true pair was found through it alone.
STREET_TWO_PREFIXES = """UNION ALL SELECT x.id, 's2:' || x.street_key || ':' || least(left(x.token, 3), left(y.token, 3))
                             || greatest(left(x.token, 3), left(y.token, 3)), x.company_key
                      FROM tokens x JOIN tokens y ON x.id = y.id AND x.token < y.token
                      WHERE x.street_key IS NOT NULL AND length(x.token) > 1 AND length(y.token) > 1"""


def _identifier_keys(table: str, canonical: list[str], custom: list[str]) -> str:
    if not (canonical or custom):
        return ""
    return f"UNION ALL SELECT id, 'i:' || field || ':' || value FROM ({_identifier_sql(table, canonical, custom)})"


def _linkage(ctx, settings: dict, table: str, make_spec) -> tuple[engine.Linkage, dict]:
    """Learn and apply ``table``'s model (its spec from ``make_spec``); returns the linkage and
    what evidence was available."""
    with sqlscore.Scratch(ctx) as scratch:
        spec, evidence = make_spec(ctx, settings, scratch)
        linked = sqlscore.link(ctx, scratch, spec, _random_pairs(ctx, table), _count(ctx, table),
                               float(settings["threshold"]))
    return linked, {"compared": linked.comparisons, **evidence}


def contact_linkage(ctx, settings: dict) -> tuple[engine.Linkage, dict]:
    """Learn and apply the contact model; returns the linkage and what evidence was available."""
    return _linkage(ctx, settings, "contacts", contact_spec)


def contact_spec(ctx, settings: dict, scratch) -> tuple[sqlscore.Spec, dict]:
    """The contacts' comparisons and comparable columns, and their candidate pairs in
    ``scratch`` (``dup_pair_ids``); with the identifiers used and missing."""
    cols = ("email", "phone", "company_id", "company_name", "country", "street", "postal_code", "city", "state")
    has = {c: ctx.supplied("contacts", c) for c in cols}
    canonical, custom, missing = identifier_columns(ctx, "contacts", list(settings.get("identifiers") or []))
    identifiers = canonical + custom
    company_domains = has["company_id"] and ctx.supplied("companies", "domain")
    name_map = columns.name_map(ctx, "SELECT first_name FROM contacts UNION SELECT last_name FROM contacts")
    companies = _fold_map(ctx, "SELECT DISTINCT company_name FROM contacts", matching.normalise_company) \
        if has["company_name"] else _empty_map()
    domains = _fold_map(ctx, "SELECT DISTINCT domain FROM companies", matching.normalise_domain) \
        if company_domains else _empty_map()
    with ctx.temporary_tables(dup_names=name_map, dup_company_names=companies, dup_domains=domains):
        base = f"""
            SELECT c.id,
                   {matching.EMAIL_KEY_SQL if has['email'] else 'NULL'} AS email_key, {_key_columns(has)},
                   {CITY_KEY_SQL if has['city'] else 'NULL'} AS city_key,
                   {_company_key_sql(has)} AS company_key,
                   trim(coalesce(f.norm, '') || ' ' || coalesce(l.norm, '')) AS name_norm,
                   {'cd.norm' if company_domains else 'NULL'} AS company_domain
            FROM (SELECT * FROM contacts) c
            LEFT JOIN dup_names f ON f.raw = c.first_name
            LEFT JOIN dup_names l ON l.raw = c.last_name
            {"LEFT JOIN dup_company_names cn ON cn.raw = c.company_name" if has['company_name'] else ""}
            {"LEFT JOIN (SELECT id AS company_ref, domain FROM companies) co ON co.company_ref = c.company_id "
             "LEFT JOIN dup_domains cd ON cd.raw = co.domain" if company_domains else ""}
        """
        keys_sql = f"""
            -- the weak keys (name or place alone, name + place) only for contacts
            -- without an e-mail or a phone: the others meet through those
            WITH base AS (SELECT *, email_key IS NULL AND phone_tail IS NULL AS weak_ok FROM ({base})),
                 tokens AS (SELECT id, company_key, email_key, street_key, city_key, postcode_key, company_domain,
                                   weak_ok, unnest(string_split(name_norm, ' ')) AS token
                            FROM base WHERE name_norm <> ''),
                 work AS (SELECT id, token, split_part(email_key, '@', 2) AS domain FROM tokens
                          WHERE email_key IS NOT NULL AND NOT list_contains($free_mail, split_part(email_key, '@', 2))
                          UNION SELECT id, token, company_domain FROM tokens WHERE company_domain IS NOT NULL)
            , plain AS (
            SELECT id, 'e:' || email_key AS key FROM base
            UNION ALL SELECT id, 'p:' || phone_tail FROM base
            UNION ALL SELECT id, 'sw:' || street_key || ':' || left(token, 2) FROM tokens
                      WHERE street_key IS NOT NULL AND token <> '' AND weak_ok
            UNION ALL SELECT id, 'n:' || array_to_string(list_sort(string_split(name_norm, ' ')), ' ') FROM base
                      WHERE name_norm LIKE '% %' AND weak_ok
            UNION ALL SELECT id, 'c:' || company_key || ':' || left(token, 2) FROM tokens
                      WHERE company_key IS NOT NULL AND token <> ''
            UNION ALL SELECT id, 'd:' || domain || ':' || left(token, 2) FROM work WHERE token <> ''
            UNION ALL SELECT id, 'y:' || city_key || ':' || token FROM tokens
                      WHERE city_key IS NOT NULL AND length(token) > 1 AND weak_ok
            UNION ALL SELECT id, 'pc:' || postcode_key FROM base WHERE weak_ok
            UNION ALL SELECT id, 'zs:' || array_to_string(list_sort(string_split(postcode_key, '')), '') || ':'
                      || left(token, 3) FROM tokens WHERE postcode_key IS NOT NULL AND length(token) > 1 AND weak_ok
            UNION ALL SELECT id, 'st:' || street_key FROM base WHERE regexp_matches(street_key, '[0-9]') AND weak_ok
            UNION ALL SELECT id, 'hn:' || regexp_extract(street_key, '[0-9]+') || ':' || left(token, 3) FROM tokens
                      WHERE regexp_matches(street_key, '[0-9]') AND length(token) > 1 AND weak_ok
            UNION ALL SELECT id, 'z:' || postcode_key || ':' || left(token, 3) FROM tokens
                      WHERE postcode_key IS NOT NULL AND token <> '' AND weak_ok
            {_identifier_keys('contacts', canonical, custom)})
            SELECT id, key, NULL::VARCHAR AS grp FROM plain
            {STREET_TWO_PREFIXES}
        """
        scratch.create("dup_keys", keys_table_sql(keys_sql, grouped=True), free_mail=sorted(matching.FREE_MAIL_DOMAINS))
    scratch.create("dup_pair_ids", pairs_from_keys_sql("dup_keys"), **blocking_params(int(settings["max_block"])))
    tf, totals = _contact_tf(ctx, has, canonical, custom, _count(ctx, "contacts"))
    scratch.drop("dup_keys")
    spec = sqlscore.Spec(
        table="contacts", rules=records.contact_comparisons(has, identifiers),
        records_sql=columns.contact_sql(has, identifiers, _identifier_sql("contacts", canonical, custom), company_domains),
        maps={"dup_names": name_map, "dup_company_names": companies, "dup_domains": domains,
              "dup_fold": columns.fold_map(ctx, "contacts", [c for c in ("street", "city", "state") if has[c]]),
              "dup_codes": columns.fold_map(ctx, "contacts", ["postal_code"] if has["postal_code"] else [],
                                            records.code_key),
              "dup_emails": columns.email_map(ctx, "contacts") if has["email"] else _empty_map()},
        tf=tf, totals=totals, identifiers=identifiers)
    return spec, {"identifiers": identifiers, "identifiers_missing": missing}


def _random_pairs(ctx, table: str) -> pa.Table:
    """Seeded random pairs among a seeded sample of ``table``'s records (for u)."""
    chosen = engine.random_pairs(_sample_ids(ctx, table), RANDOM_PAIRS)
    return pa.table({"a": pa.array([p[0] for p in chosen], pa.string()),
                     "b": pa.array([p[1] for p in chosen], pa.string())})


def _contact_tf(ctx, has, canonical, custom, population):
    tf, totals = {}, {}
    both = ("SELECT v, count(*) FROM (SELECT first_name AS v FROM contacts UNION ALL SELECT last_name FROM contacts) "
            "WHERE v IS NOT NULL GROUP BY 1 HAVING count(*) > 1")
    name_tf = _tf(ctx, both, lambda v: matching.fold(v).replace(" ", ""))
    for key in ("given", "family"):
        tf[key], totals[key] = name_tf, max(2 * population, 1)
    if has["email"]:
        tf["email"] = key_counts(ctx, "e")
        totals["email"] = _nonnull(ctx, "contacts", "email")
    if has["company_id"]:
        tf["company"] = _tf(ctx, _repeated("CAST(company_id AS VARCHAR)", "contacts"))
        totals["company"] = _nonnull(ctx, "contacts", "company_id")
    elif has["company_name"]:
        tf["company"] = _tf(ctx, _repeated("company_name", "contacts"),
                            lambda v: "name:" + matching.normalise_company(v))
        totals["company"] = _nonnull(ctx, "contacts", "company_name")
    _shared_tf(ctx, "contacts", has, tf, totals)
    _identifier_tf(ctx, "contacts", canonical, custom, tf, totals)
    return tf, totals


def _shared_tf(ctx, table: str, has: dict, tf: dict, totals: dict) -> None:
    """Term frequencies of the phone tail, street, postcode and city of ``table``."""
    if has["phone"]:
        tf["phone_tail"] = key_counts(ctx, "p")
        totals["phone_tail"] = _nonnull(ctx, table, "phone")
    for column, normalise in (("street", records.street_key), ("postal_code", records.code_key),
                              ("city", records.street_key)):
        if has[column]:
            tf[column] = _tf(ctx, _repeated(column, table), normalise)
            totals[column] = _nonnull(ctx, table, column)


def _identifier_tf(ctx, table, canonical, custom, tf, totals):
    if not (canonical or custom):
        return
    for fieldname, value, count in ctx.sql(
            f"SELECT field, value, count(*) FROM ({_identifier_sql(table, canonical, custom)}) WHERE value IS NOT NULL "
            "GROUP BY 1, 2 HAVING count(*) > 1").fetchall():
        tf.setdefault(f"id:{fieldname}", {})[value] = int(count)
    for fieldname, count in ctx.sql(f"SELECT field, count(value) FROM ({_identifier_sql(table, canonical, custom)}) "
                                    "GROUP BY 1").fetchall():
        totals[f"id:{fieldname}"] = int(count)


# --------------------------------------------------------------------------- companies


def company_record(row: dict) -> dict:
    phone = str(row["phone"]).strip() if row.get("phone") else None
    return {
        "name": matching.normalise_company(row.get("name")) or None,
        "domain": matching.normalise_domain(row.get("domain")),
        "phone": phone or None,
        "phone_tail": matching.phone_tail(phone),
        "country": (row.get("country") or "").strip().upper() or None,
        "street": records.street_key(row.get("street")),
        "postal_code": records.code_key(row.get("postal_code")),
        "city": records.street_key(row.get("city")),
        "state": records.street_key(row.get("state")),
        **{k: v for k, v in row.items() if k.startswith("id:")},
    }


def company_linkage(ctx, settings: dict) -> tuple[engine.Linkage, dict]:
    """Learn and apply the company model; returns the linkage and what evidence was available."""
    return _linkage(ctx, settings, "companies", company_spec)


def company_spec(ctx, settings: dict, scratch) -> tuple[sqlscore.Spec, dict]:
    """The companies' comparisons and comparable columns, and their candidate pairs in ``scratch``."""
    cols = ("domain", "phone", "country", "street", "postal_code", "city", "state")
    has = {c: ctx.supplied("companies", c) for c in cols}
    canonical, custom, missing = identifier_columns(ctx, "companies", list(settings.get("identifiers") or []))
    identifiers = canonical + custom
    name_map = _fold_map(ctx, "SELECT DISTINCT name FROM companies", matching.normalise_company)
    domains = _fold_map(ctx, "SELECT DISTINCT domain FROM companies", matching.normalise_domain) \
        if has["domain"] else _empty_map()
    with ctx.temporary_tables(dup_names=name_map, dup_domains=domains):
        keys_sql = f"""
            WITH base AS (
                SELECT c.id, nullif(n.norm, '') AS name_key, {DOMAIN_KEY_SQL if has["domain"] else "NULL"} AS domain_key,
                       {_key_columns(has)}
                FROM companies c
                LEFT JOIN dup_names n ON n.raw = c.name
                {"LEFT JOIN dup_domains d ON d.raw = c.domain" if has['domain'] else ""}),
                 tokens AS (SELECT id, street_key, postcode_key, domain_key, phone_tail,
                                   unnest(string_split(name_key, ' ')) AS token
                            FROM base WHERE name_key IS NOT NULL)
            SELECT id, 'n:' || replace(name_key, ' ', '') AS key FROM base
            UNION ALL SELECT id, 'd:' || domain_key FROM base
            {SHARED_KEYS}
            UNION ALL SELECT id, 'z:' || postcode_key || ':' || left(token, 3) FROM tokens
                      WHERE postcode_key IS NOT NULL AND length(token) > 1 AND domain_key IS NULL AND phone_tail IS NULL
            {_identifier_keys('companies', canonical, custom)}
        """
        scratch.create("dup_keys", keys_table_sql(keys_sql))
    scratch.create("dup_pair_ids", pairs_from_keys_sql("dup_keys"), **blocking_params(int(settings["max_block"])))

    tf, totals = {}, {}
    tf["name"] = _tf(ctx, _repeated("name", "companies"), matching.normalise_company)
    totals["name"] = _nonnull(ctx, "companies", "name")
    if has["domain"]:
        tf["domain"] = _tf(ctx, _repeated("domain", "companies"), matching.normalise_domain)
        totals["domain"] = _nonnull(ctx, "companies", "domain")
    _shared_tf(ctx, "companies", has, tf, totals)
    scratch.drop("dup_keys")
    _identifier_tf(ctx, "companies", canonical, custom, tf, totals)
    spec = sqlscore.Spec(
        table="companies", rules=records.company_comparisons(has, identifiers),
        records_sql=columns.company_sql(has, identifiers, _identifier_sql("companies", canonical, custom)),
        maps={"dup_names": name_map, "dup_domains": domains,
              "dup_fold": columns.fold_map(ctx, "companies", [c for c in ("street", "city", "state") if has[c]]),
              "dup_codes": columns.fold_map(ctx, "companies", ["postal_code"] if has["postal_code"] else [],
                                            records.code_key)},
        tf=tf, totals=totals, identifiers=identifiers)
    return spec, {"identifiers": identifiers, "identifiers_missing": missing}
