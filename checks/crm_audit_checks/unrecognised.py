"""Standard checks: values the audit does not understand (Part 2, step 4: find missing data).

Enumerated columns (an integration's status, a login's outcome, a record's source, an
activity's type) have a vocabulary (``model.VOCABULARIES``); common synonyms such as
``connected`` or ``failed`` are mapped to it before the checks run. A value still outside
the vocabulary cannot be judged: the checks that need the column say so instead of
passing, and this check lists every such value with its counts, so the admin can map or
fix it.
"""

from __future__ import annotations

from crm_audit_core import Message, check, model

from .i18n import _, ngettext

SHOWN = 5


def _read_as_empty(column: str, cells: int, expected: str, examples: str) -> Message:
    """What the connector could not read in ``column`` (``expected``: the connector's words
    for the column's type, e.g. files_connector.TYPE_WORDS)."""
    values = dict(column=column, examples=examples)
    if expected == "a whole number":
        return ngettext("{column}: {n} cell is not a whole number and was read as empty, e.g. {examples}",
                        "{column}: {n} cells are not a whole number and were read as empty, e.g. {examples}",
                        cells, **values)
    if expected == "a number":
        return ngettext("{column}: {n} cell is not a number and was read as empty, e.g. {examples}",
                        "{column}: {n} cells are not a number and were read as empty, e.g. {examples}",
                        cells, **values)
    if expected == "true or false":
        return ngettext("{column}: {n} cell is not true or false and was read as empty, e.g. {examples}",
                        "{column}: {n} cells are not true or false and were read as empty, e.g. {examples}",
                        cells, **values)
    if expected == "an ISO-8601 date or timestamp":
        return ngettext("{column}: {n} cell is not an ISO-8601 date or timestamp and was read as empty, e.g. "
                        "{examples}",
                        "{column}: {n} cells are not an ISO-8601 date or timestamp and were read as empty, e.g. "
                        "{examples}", cells, **values)
    return ngettext("{column}: {n} cell is not {expected} and was read as empty, e.g. {examples}",
                    "{column}: {n} cells are not {expected} and were read as empty, e.g. {examples}",
                    cells, expected=expected, **values)


@check(
    id="data.unrecognised-values",
    title="Values the audit does not understand",
    step="missing-data",
    area="data",
    severity="medium",
    needs={},
    object="records",
    description=(
        "Lists the values of enumerated columns (integration status, login outcome, record source, activity "
        "type) that are neither a known value nor a known synonym of one, and the cells the connector could not "
        "read at all (a date that is no date, a number that is no number: read as empty). Rows with such "
        "values cannot be judged: the checks that read the column are skipped or leave them out instead of "
        "passing."
    ),
    remediation=(
        "Map each value to one the audit understands (see the vocabulary reference), either in the CRM (use "
        "the standard picklist value) or in the export you audit; then run the audit again."
    ),
)
def unrecognised_values(ctx):
    ids, details, found, population = [], {}, {}, 0
    for (table, column), allowed in model.VOCABULARIES.items():
        if not ctx.supplied(table, column):
            continue
        key = model.table(table).key
        population += ctx.count(table, f'"{column}" IS NOT NULL')
        values = ctx.rows(
            f'SELECT "{column}" AS v, count(*) AS n FROM {table} WHERE "{column}" IS NOT NULL AND trim("{column}") <> \'\' '
            f'AND "{column}" NOT IN (SELECT unnest($allowed)) GROUP BY 1 ORDER BY 2 DESC, 1',
            allowed=list(allowed),
        )
        if not values:
            continue
        found[f"{table}.{column}"] = {"rows": sum(int(v["n"]) for v in values),
                                      "values": {str(v["v"]): int(v["n"]) for v in values[:50]},
                                      "understood": list(allowed)}
        if key != "id":
            continue
        for r in ctx.rows(f'SELECT id, "{column}" AS v FROM {table} WHERE "{column}" IS NOT NULL AND trim("{column}") <> \'\' '
                          f'AND "{column}" NOT IN (SELECT unnest($allowed)) ORDER BY id', allowed=list(allowed)):
            rid = f"{table}:{r['id']}"
            ids.append(rid)
            details[rid] = _("{column} is {value}, which is not one of {allowed}", column=table + "." + column,
                             value=repr(r["v"]), allowed=", ".join(allowed))
    unreadable = ctx.unreadable()
    for u in unreadable:
        key = f"{u['table']}.{u['column']}"
        found[key] = {"rows": u["cells"], "values": {v: 1 for v in u["examples"]},
                      "understood": [u["expected"]], "read_as_empty": True}
        population += ctx.count(u["table"]) if ctx.supplied(u["table"]) else u["cells"]
    if population == 0:
        return ctx.skip(_("no enumerated column (integrations.status, login_events.status, source, activities.type) "
                          "was supplied"))
    rows = sum(f["rows"] for f in found.values())
    parts = []
    for col, f in found.items():
        if f.get("read_as_empty"):
            shown = ", ".join(repr(v) for v in list(f["values"])[:SHOWN])
            parts.append(_read_as_empty(col, f["rows"], f["understood"][0], shown))
        else:  # CRM values and their counts: data, shown as they are
            parts.append(f"{col}: " + ", ".join(f"{v!r} ({n})" for v, n in list(f["values"].items())[:SHOWN]))
    if parts:
        message = ngettext("{n} of {total} values in enumerated columns is not understood ({columns})",
                           "{n} of {total} values in enumerated columns are not understood ({columns})",
                           rows, total=population, columns=Message.join(parts, "; "))
    else:
        message = ngettext("{n} of {total} values in enumerated columns is not understood",
                           "{n} of {total} values in enumerated columns are not understood", rows, total=population)
    return ctx.result(ids=ids, object="records", population=population, details=details,
                      metrics={"unrecognised": found}, message=message, failed=bool(found))


CHECKS = (unrecognised_values,)
