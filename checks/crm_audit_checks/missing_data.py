"""Standard checks: missing data (Part 2, step 4: "a prospect without contact details is useless").

Also home of the small SQL helpers the data steps share (what "filled" means for a
column of each type, fill counts per field): data_policy.py reads fields the same way,
so "required" in a policy and "complete" here never disagree.
"""

from __future__ import annotations

from crm_audit_core import Message, Percent, check, model

from .i18n import _, ngettext

FIELD_SEPARATOR = "|"
# What "blank" strips: ASCII whitespace plus the no-break, ideographic (full-width) and
# zero-width spaces that pasted Korean or Office text brings along.
WHITESPACE = " \t\n\r\x0b\x0c\u00a0\u2007\u202f\u3000\ufeff\u200b"


def stripped(expr: str) -> str:
    """SQL: ``expr`` without surrounding whitespace (of any kind in WHITESPACE)."""
    return f"trim({expr}, '{WHITESPACE}')"


# Any character that is not whitespace (RE2 syntax; a regex is ~10x faster than trim with a set).
NOT_BLANK = r"[^\s\x{000b}\x{00a0}\x{2007}\x{202f}\x{3000}\x{feff}\x{200b}]"


def present(expr: str) -> str:
    """SQL: true when the text ``expr`` is not null and not blank (never NULL itself)."""
    return f"coalesce(regexp_matches({expr}, '{NOT_BLANK}'), false)"


def quote(name: str) -> str:
    """A SQL identifier; only ever called with names checked against the canonical schema."""
    return '"' + name.replace('"', '""') + '"'


def filled_sql(table: str, column: str, alias: str = "") -> str:
    """SQL that is true when ``table.column`` holds a value (blank text and empty lists are empty)."""
    col = (alias + "." if alias else "") + quote(column)
    typ = model.TABLES[table].column(column).type
    if typ == "str":
        return present(col)
    if typ == "list":
        return f"(coalesce(len(list_filter({col}, lambda x: {present('x')})), 0) > 0)"
    return f"({col} IS NOT NULL)"


def is_canonical(table: str, column: str) -> bool:
    return table in model.TABLES and column in model.TABLES[table].column_names


def custom_fields(ctx, table: str) -> set[str]:
    """Names of the custom fields declared for ``table`` (empty when fields is not supplied)."""
    if not ctx.supplied("fields"):
        return set()
    memo = ctx.shared.setdefault("data.custom-fields", {})
    if table not in memo:
        names = set()
        for obj, name in ctx.sql("SELECT object, name FROM fields WHERE coalesce(is_custom, false)").fetchall():
            if object_table(obj) == table and name:
                names.add(name)
        memo[table] = names
    return memo[table]


def known_custom_fields(ctx, table: str) -> set[str]:
    """Custom fields of ``table``: those declared in ``fields`` plus any holding values (memoised)."""
    memo = ctx.shared.setdefault("data.known-custom-fields", {})
    if table not in memo:
        names = set(custom_fields(ctx, table))
        if ctx.supplied("custom_values"):
            names |= {f for (f,) in ctx.sql("SELECT DISTINCT field FROM custom_values WHERE object = $o", o=table).fetchall()}
        memo[table] = names
    return memo[table]


OBJECT_ALIASES = {
    "contact": "contacts", "person": "contacts", "persons": "contacts", "people": "contacts", "lead": "contacts",
    "company": "companies", "account": "companies", "accounts": "companies", "organization": "companies",
    "organizations": "companies", "org": "companies",
    "deal": "deals", "opportunity": "deals", "opportunities": "deals",
    "activity": "activities", "engagement": "activities", "engagements": "activities", "task": "activities",
}


def object_table(obj) -> str:
    """The canonical table a ``fields.object`` value names (connectors say 'contact' or 'contacts')."""
    text = str(obj or "").strip().lower()
    return OBJECT_ALIASES.get(text, text)


def fill_counts(ctx, table: str, fields: list[str]) -> tuple[int, dict[str, int | None]]:
    """(records in ``table``, {field: records with a value}) in one scan.

    A field is a canonical column, a custom field (declared in ``fields`` or holding values),
    or ``a|b`` (filled when either is).
    ``None`` for a field this tenant does not supply.
    """
    exprs: dict[str, str] = {}
    custom: dict[str, list[str]] = {}
    declared = known_custom_fields(ctx, table)
    for name in fields:
        parts = [p.strip() for p in name.split(FIELD_SEPARATOR) if p.strip()]
        canonical = [p for p in parts if is_canonical(table, p) and ctx.supplied(table, p)]
        extra = [p for p in parts if not is_canonical(table, p) and p in declared]
        if not canonical and not extra:
            continue
        if extra:
            custom[name] = extra
        if canonical:
            exprs[name] = " OR ".join(filled_sql(table, p, "t") for p in canonical)
    counts: dict[str, int | None] = {name: None for name in fields}
    key = quote(model.TABLES[table].key)
    if not custom:
        select = ", ".join(["count(*)"] + [f"count_if({e})" for e in exprs.values()])
        row = ctx.sql(f"SELECT {select} FROM {table} t").fetchone()
        for name, n in zip(exprs, row[1:]):
            counts[name] = int(n)
        return int(row[0]), counts
    # Custom parts: one anti-join per field would rescan custom_values; instead collect the
    # records that have any of the needed custom fields filled, once, as a small pivot.
    wanted = sorted({p for parts in custom.values() for p in parts})
    pivot = (
        "SELECT record_id, list(DISTINCT field) AS filled FROM custom_values "
        f"WHERE object = $object AND list_contains($wanted, field) AND {present('value')} "
        "GROUP BY record_id"
    )
    terms = []
    for name in fields:
        pieces = []
        if name in exprs:
            pieces.append(exprs[name])
        for p in custom.get(name, []):
            pieces.append(f"coalesce(list_contains(cv.filled, $c_{wanted.index(p)}), false)")
        if pieces:
            terms.append((name, " OR ".join(pieces)))
    params = {f"c_{i}": p for i, p in enumerate(wanted)}
    select = ", ".join(["count(*)"] + [f"count_if({t})" for _name, t in terms])
    row = ctx.sql(
        f"SELECT {select} FROM {table} t LEFT JOIN ({pivot}) cv ON cv.record_id = CAST(t.{key} AS VARCHAR)",
        object=table, wanted=wanted, **params,
    ).fetchone()
    for (name, _term), n in zip(terms, row[1:]):
        counts[name] = int(n)
    return int(row[0]), counts


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


# ---------------------------------------------------------------------------------- checks


@check(
    id="data.unreachable-contacts",
    title="Contacts with neither email nor phone",
    step="missing-data",
    area="data",
    severity="medium",
    needs={"contacts": ["id", "email", "phone"]},
    description="A prospect without contact details is useless: nobody can reach them.",
    remediation="Find an email or phone for each contact listed (enrichment, the owner's notes), or delete the record.",
)
def unreachable_contacts(ctx):
    email, phone = filled_sql("contacts", "email"), filled_sql("contacts", "phone")
    ids = ctx.ids(f"SELECT id FROM contacts WHERE NOT {email} AND NOT {phone}")
    both, email_only, phone_only, total = ctx.sql(
        f"SELECT count_if({email} AND {phone}), count_if({email} AND NOT {phone}), "
        f"count_if(NOT {email} AND {phone}), count(*) FROM contacts"
    ).fetchone()
    metrics = {"reachability": {"email and phone": int(both), "email only": int(email_only),
                                "phone only": int(phone_only), "neither": len(ids)}}
    return ctx.result(ids=ids, population=total, metrics=metrics,
                      message=ngettext("{n} of {total} contacts has neither email nor phone",
                                       "{n} of {total} contacts have neither email nor phone", len(ids), total=total))


@check(
    id="data.companies-without-domain",
    title="Companies without a website domain",
    step="missing-data",
    area="data",
    severity="low",
    needs={"companies": ["id", "domain"]},
    description="The domain is how a CRM ties people to their company, enriches records and spots duplicates; "
    "a company without one stays an island.",
    remediation="Add the company's website domain (from its contacts' email addresses or its website), "
    "or delete companies that are no longer relevant.",
)
def companies_without_domain(ctx):
    ids = ctx.ids(f"SELECT id FROM companies WHERE NOT {filled_sql('companies', 'domain')}")
    total = ctx.count("companies")
    return ctx.result(ids=ids, population=total, metrics={"with domain": total - len(ids), "without domain": len(ids)},
                      message=ngettext("{n} of {total} companies has no domain",
                                       "{n} of {total} companies have no domain", len(ids), total=total))


DEAL_PARTS = (("amount", "amount"), ("close_date", "close date"), ("stage", "stage"))


def _deal_gaps() -> dict[tuple[bool, bool, bool], Message]:
    """What a deal lacks, by (no amount, no close date, no stage)."""
    return {
        (True, False, False): _("missing amount"),
        (False, True, False): _("missing close date"),
        (False, False, True): _("missing stage"),
        (True, True, False): _("missing amount, close date"),
        (True, False, True): _("missing amount, stage"),
        (False, True, True): _("missing close date, stage"),
        (True, True, True): _("missing amount, close date, stage"),
    }


@check(
    id="data.incomplete-deals",
    title="Deals without amount, close date or stage",
    step="missing-data",
    area="data",
    severity="medium",
    needs={"deals": ["id", "amount", "close_date", "stage"]},
    description="A deal without an amount, a close date or a stage cannot be forecast or reported on: "
    "the pipeline numbers are wrong by exactly those deals.",
    remediation="Ask each deal's owner to fill in what the fix-list says is missing; close deals that are dead.",
)
def incomplete_deals(ctx):
    empty = {col: f"NOT {filled_sql('deals', col)}" for col, _label in DEAL_PARTS}
    which = ", ".join(empty[col] for col, _label in DEAL_PARTS)
    rows = ctx.sql(f"SELECT id, {which} FROM deals WHERE {' OR '.join(empty.values())}").fetchall()
    gaps = _deal_gaps()
    details = {str(r[0]): gaps[(bool(r[1]), bool(r[2]), bool(r[3]))] for r in rows if r[0] is not None}
    counts = ctx.sql(
        "SELECT " + ", ".join(f"count_if({empty[col]})" for col, _label in DEAL_PARTS) + ", count(*) FROM deals"
    ).fetchone()
    total = int(counts[-1])
    metrics = {"missing": {label: int(n) for (_col, label), n in zip(DEAL_PARTS, counts)}}
    return ctx.result(ids=sorted(details), population=total, details=details, metrics=metrics,
                      message=ngettext("{n} of {total} deals lacks an amount, a close date or a stage",
                                       "{n} of {total} deals lack an amount, a close date or a stage",
                                       len(details), total=total))


@check(
    id="data.contacts-without-company-or-stage",
    title="Contacts without a company or a lifecycle stage",
    step="missing-data",
    area="data",
    severity="low",
    needs={"contacts": ["id", "company_id", "company_name", "lifecycle_stage"]},
    description="A contact without a sales stage is as useless as one without contact details: nobody knows "
    "whether to sell to them, and without a company they drop out of every account view.",
    remediation="Link each contact listed to its company (the email domain usually tells) and set its lifecycle stage.",
)
def contacts_without_company_or_stage(ctx):
    no_company = f"(NOT {filled_sql('contacts', 'company_id')} AND NOT {filled_sql('contacts', 'company_name')})"
    no_stage = f"(NOT {filled_sql('contacts', 'lifecycle_stage')})"
    rows = ctx.sql(
        f"SELECT id, {no_company} AS nc, {no_stage} AS ns FROM contacts WHERE {no_company} OR {no_stage}"
    ).fetchall()
    labels = {(True, False): _("no company"), (False, True): _("no lifecycle stage"),
              (True, True): _("no company and no lifecycle stage")}
    details = {str(r[0]): labels[(bool(r[1]), bool(r[2]))] for r in rows if r[0] is not None}
    total = ctx.count("contacts")
    metrics = {"without company": sum(1 for r in rows if r[1]), "without lifecycle stage": sum(1 for r in rows if r[2])}
    return ctx.result(ids=sorted(details), population=total, details=details, metrics=metrics,
                      message=ngettext("{n} of {total} contacts has no company or no lifecycle stage",
                                       "{n} of {total} contacts have no company or no lifecycle stage",
                                       len(details), total=total))


KEY_FIELDS = {
    "contacts": ["first_name", "last_name", "email", "phone", "company_id|company_name", "lifecycle_stage",
                 "owner_id", "country"],
    "companies": ["name", "domain", "industry", "country", "owner_id"],
    "deals": ["name", "amount", "close_date", "stage", "owner_id"],
}


@check(
    id="data.key-field-completeness",
    title="Completeness of the key fields",
    step="missing-data",
    area="data",
    severity="low",
    object="fields",
    settings={"key_fields": KEY_FIELDS, "floor_percent": 50.0},
    settings_help={
        "key_fields": "per object, the fields to measure (canonical columns or custom fields; 'a|b' counts "
        "a record as complete when either is filled)",
        "floor_percent": "a key field filled on fewer records than this (in %) fails the check",
    },
    description="How complete each key field is, object by object: the matrix shows where the data is thin "
    "before any single record is looked at.",
    remediation="For each field under the floor, decide whether it is still key: if it is, make it required "
    "in forms and imports (see the data policy) and back-fill it; if not, drop it from key_fields.",
)
def key_field_completeness(ctx):
    floor = float(ctx.settings["floor_percent"])
    wanted = ctx.settings["key_fields"] or {}
    matrix: dict[str, dict[str, float]] = {}
    records: dict[str, int] = {}
    unsupplied = []
    ids, details = [], {}
    for table, fields in wanted.items():
        if table not in model.TABLES:
            return ctx.skip(_("key_fields names {table}, which is not a canonical table", table=repr(table)))
        if not ctx.supplied(table):
            unsupplied.append(table)
            continue
        total, counts = fill_counts(ctx, table, [str(f) for f in fields])
        records[table] = total
        matrix[table] = {}
        for name, n in counts.items():
            if n is None:
                unsupplied.append(f"{table}.{name}")
                continue
            share = percent(n, total)
            matrix[table][name] = share
            if total and share < floor:
                ids.append(f"{table}.{name}")
                details[f"{table}.{name}"] = _("filled on {filled} of {total} records ({share}), under the floor of "
                                               "{floor}", filled=n, total=total, share=Percent(n / total, 2),
                                               floor=Percent(floor / 100, 2))
    if not matrix:
        return ctx.skip(_("none of the key fields' tables was supplied: {tables}", tables=unsupplied))
    measured = sum(len(v) for v in matrix.values())
    columns = sorted({f for fields in matrix.values() for f in fields})
    chart = {"id": "completeness", "title": _("Completeness of key fields (object x field)"), "kind": "heatmap",
             "x": columns, "y": list(matrix), "vmin": 0, "vmax": 1,
             "values": [[(matrix[t][f] / 100 if f in matrix[t] else None) for f in columns] for t in matrix]}
    message = ngettext("{n} of {total} key fields is filled on fewer than {floor} of records",
                       "{n} of {total} key fields are filled on fewer than {floor} of records",
                       len(ids), total=measured, floor=Percent(floor / 100, 2))
    if unsupplied:
        message = Message.join([message, _("not supplied: {fields}", fields=unsupplied)], "; ")
    return ctx.result(ids=ids, population=measured, details=details, message=message,
                      metrics={"completeness_percent": matrix, "records": records, "floor_percent": floor,
                               "charts": [chart]})


CHECKS = (unreachable_contacts, companies_without_domain, incomplete_deals, contacts_without_company_or_stage,
          key_field_completeness)
