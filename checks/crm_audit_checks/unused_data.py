"""Standard checks: unused data (Part 2, step 1: fields nobody fills, records nobody touches).

Custom fields are measured from ``custom_values`` (one row a filled value), so a portal
with thousands of sparse custom properties costs one group-by, not one scan a field.
"""

from __future__ import annotations

from crm_audit_core import Message, Percent, check, model

from .i18n import _, ngettext
from .missing_data import object_table, percent, present

DAYS_A_YEAR = 365
CUTOFF = "($as_of - to_days($days))"


def custom_fill(ctx) -> dict:
    """{"<table>.<field>": (filled records, records in table)} for every custom field (memoised)."""
    memo = ctx.shared.get("data.custom-fill")
    if memo is not None:
        return memo
    filled = {
        (obj, name): int(n)
        for obj, name, n in ctx.sql(
            "SELECT object, field, count(DISTINCT record_id) FROM custom_values "
            f"WHERE {present('value')} GROUP BY ALL"
        ).fetchall()
    }
    totals: dict[str, int] = {}
    memo = {}
    for obj, name in ctx.sql("SELECT DISTINCT object, name FROM fields WHERE coalesce(is_custom, false) ORDER BY 1, 2").fetchall():
        table = object_table(obj)
        if not name or table not in model.CUSTOM_FIELD_TABLES or not ctx.supplied(table):
            continue  # no records to measure the field against
        if table not in totals:
            totals[table] = ctx.count(table)
        if totals[table]:
            memo[f"{table}.{name}"] = (filled.get((table, name), 0), totals[table])
    ctx.shared["data.custom-fill"] = memo
    return memo


@check(
    id="data.sparse-custom-fields",
    title="Custom fields hardly anybody fills",
    step="unused-data",
    area="data",
    severity="low",
    needs={"fields": ["object", "name", "is_custom"], "custom_values": ["object", "record_id", "field", "value"]},
    settings={"min_fill_percent": 5.0},
    settings_help={"min_fill_percent": "a custom field filled on fewer of its object's records than this (in %) is sparse"},
    description="Custom fields filled on only a few records clutter every form and export, and whatever "
    "they were meant to hold is not being captured.",
    remediation="For each field listed, ask its owner whether it is still needed: delete or hide it, or make "
    "it part of the process (a required field in the right form) and back-fill it.",
)
def sparse_custom_fields(ctx):
    floor = float(ctx.settings["min_fill_percent"])
    fill = custom_fill(ctx)
    ids, details = [], {}
    for key, (n, total) in fill.items():
        share = 100.0 * n / total
        if 0 < n and share < floor:
            ids.append(key)
            details[key] = _("filled on {filled} of {total} records ({share})", filled=n, total=total,
                             share=Percent(n / total, 2))
    metrics = {"fill_percent": {k: percent(n, t) for k, (n, t) in sorted(fill.items())}}
    return ctx.result(ids=ids, population=len(fill), details=details, metrics=metrics,
                      message=ngettext("{n} of {total} custom fields is filled on fewer than {floor} of records",
                                       "{n} of {total} custom fields are filled on fewer than {floor} of records",
                                       len(ids), total=len(fill), floor=Percent(floor / 100, 2)))


@check(
    id="data.empty-custom-fields",
    title="Custom fields nobody has ever filled",
    step="unused-data",
    area="data",
    severity="low",
    needs={"fields": ["object", "name", "is_custom"], "custom_values": ["object", "record_id", "field", "value"]},
    description="A custom field with no value on any record is dead weight in every form, list view and export.",
    remediation="Delete (or archive) the fields listed after checking no workflow, report or integration refers to them.",
)
def empty_custom_fields(ctx):
    fill = custom_fill(ctx)
    ids = [key for key, (n, _total) in fill.items() if n == 0]
    details = {key: _("empty on all {total} records", total=fill[key][1]) for key in ids}
    by_object: dict[str, int] = {}
    for key in ids:
        table = key.split(".", 1)[0]
        by_object[table] = by_object.get(table, 0) + 1
    return ctx.result(ids=ids, population=len(fill), details=details, metrics={"empty_by_object": by_object},
                      message=ngettext("{n} of {total} custom fields is empty on every record",
                                       "{n} of {total} custom fields are empty on every record",
                                       len(ids), total=len(fill)))


def _touch_year_metrics(ctx, table: str, touched: str) -> dict:
    rows = ctx.sql(f"SELECT CAST(year({touched}) AS VARCHAR) AS y, count(*) FROM {table} t GROUP BY 1 ORDER BY 1").fetchall()
    return {("never" if y is None else y): int(n) for y, n in rows}


def _untouched(ctx, table: str, fk: str, texts: dict):
    """Records of ``table`` with no update and no activity for ``years``; ``texts``: the
    check's own sentences ("skip", "message"), each a function of the values."""
    years = ctx.settings["years"]
    days = int(round(float(years) * DAYS_A_YEAR))
    updated = "coalesce(t.updated_at, t.created_at)" if ctx.supplied(table, "created_at") else "t.updated_at"
    last_activity = ctx.supplied(table, "last_activity_at")
    conditions = [f"{updated} < $cutoff"]
    if last_activity:
        conditions.append("(t.last_activity_at IS NULL OR t.last_activity_at < $cutoff)")
    judged_on = None
    if ctx.supplied("activities", fk) and ctx.supplied("activities", "created_at"):
        done = "OR a.completed_at >= $cutoff" if ctx.supplied("activities", "completed_at") else ""
        conditions.append(
            f"NOT EXISTS (SELECT 1 FROM activities a WHERE a.{fk} = t.id AND (a.created_at >= $cutoff {done}))"
        )
    elif not last_activity:
        return ctx.skip(texts["skip"](activities=f"activities.{fk}", last_activity=f"{table}.last_activity_at"))
    else:
        judged_on = _("{missing} not supplied: judged on {column}", missing="activities." + fk,
                      column=table + ".last_activity_at")
    query = f"SELECT t.id FROM {table} t WHERE " + " AND ".join(conditions)
    ids = ctx.ids(query.replace("$cutoff", CUTOFF), days=days)
    total = ctx.count(table)
    touched = [updated]
    if last_activity:
        touched.append("t.last_activity_at")
    last_touch = touched[0] if len(touched) == 1 else f"greatest({', '.join(touched)})"
    metrics = {"last_touched_by_year": _touch_year_metrics(ctx, table, last_touch), "years": years}
    message = texts["message"](len(ids), total=total, years=float(years))
    if judged_on:
        message = Message.join([message, judged_on], "; ")
    return ctx.result(ids=ids, population=total, metrics=metrics, message=message)


@check(
    id="data.untouched-contacts",
    title="Contacts nobody has touched for years",
    step="unused-data",
    area="data",
    severity="low",
    needs={"contacts": ["id", "updated_at"]},
    settings={"years": 2},
    settings_help={"years": "a contact with no update and no activity for this many years (of 365 days) is untouched"},
    description="Contacts with no update and no call, email, meeting or task for years are expired data: they "
    "inflate contact-based licence costs, skew every report and are often no longer valid.",
    remediation="Review the contacts listed with their owners: archive or delete those nobody will work again, "
    "or put the rest in a re-engagement campaign.",
)
def untouched_contacts(ctx):
    return _untouched(ctx, "contacts", "contact_id", {
        "skip": lambda **v: _("neither {activities} nor {last_activity} was supplied: cannot tell whether contacts "
                              "were touched", **v),
        "message": lambda n, **v: ngettext("{n} of {total} contacts has had no update and no activity for {years} years",
                                           "{n} of {total} contacts have had no update and no activity for {years} years",
                                           n, **v),
    })


@check(
    id="data.untouched-companies",
    title="Companies nobody has touched for years",
    step="unused-data",
    area="data",
    severity="low",
    needs={"companies": ["id", "updated_at"]},
    settings={"years": 2},
    settings_help={"years": "a company with no update and no activity for this many years (of 365 days) is untouched"},
    description="Companies with no update and no activity for years clutter account lists and territory reports.",
    remediation="Archive or delete the companies listed, after checking they hold no open deal or active contact.",
)
def untouched_companies(ctx):
    return _untouched(ctx, "companies", "company_id", {
        "skip": lambda **v: _("neither {activities} nor {last_activity} was supplied: cannot tell whether companies "
                              "were touched", **v),
        "message": lambda n, **v: ngettext("{n} of {total} companies has had no update and no activity for {years} "
                                           "years",
                                           "{n} of {total} companies have had no update and no activity for {years} "
                                           "years", n, **v),
    })


@check(
    id="data.empty-stages",
    title="Pipeline stages no deal uses",
    step="unused-data",
    area="data",
    severity="low",
    needs={"stages": ["id", "pipeline", "name"], "deals": ["id", "stage"]},
    description="Stages (and whole pipelines) no deal has ever been in are clutter in the deal board and a sign "
    "the pipeline no longer matches how the team sells.",
    remediation="Delete or merge the stages listed (and pipelines whose every stage is listed), or start using them.",
)
def empty_stages(ctx):
    # deals.stage holds a stage id or, for some CRMs, its name (then the pipeline tells which one).
    pipeline_match = "(d.pipeline IS NULL OR d.pipeline = s.pipeline)" if ctx.supplied("deals", "pipeline") else "TRUE"
    rows = ctx.sql(
        "WITH used AS ("
        "  SELECT s.id, count(d.id) AS deals FROM stages s LEFT JOIN deals d"
        f"   ON d.stage = s.id OR (d.stage = s.name AND {pipeline_match})"
        "  GROUP BY s.id)"
        " SELECT s.id, s.pipeline, s.name, u.deals, sum(u.deals) OVER (PARTITION BY s.pipeline) AS in_pipeline"
        " FROM stages s JOIN used u ON u.id = s.id"
        + (" ORDER BY s.pipeline, s.position, s.id" if ctx.supplied("stages", "position") else " ORDER BY s.pipeline, s.id")
    ).fetchall()
    ids, details, per_pipeline = [], {}, {}
    for sid, pipeline, name, deals, in_pipeline in rows:
        label = str(pipeline) if pipeline is not None else "(no pipeline)"
        stages = per_pipeline.setdefault(label, {})
        shown = str(name if name is not None else sid)
        stages[shown if shown not in stages else f"{shown} ({sid})"] = int(deals)  # two stages, one name
        if deals == 0 and sid is not None:
            ids.append(str(sid))
            if pipeline is None:
                details[str(sid)] = _("stage '{stage}' (in no pipeline): no deals", stage=shown)
            elif in_pipeline:
                details[str(sid)] = _("stage '{stage}' of pipeline '{pipeline}': no deals", stage=shown, pipeline=label)
            else:
                details[str(sid)] = _("stage '{stage}' of pipeline '{pipeline}': no deals; the whole pipeline has no "
                                      "deals", stage=shown, pipeline=label)
    empty_pipelines = sorted(p for p, stages in per_pipeline.items() if not any(stages.values()))
    metrics = {"deals_per_stage": per_pipeline, "empty_pipelines": empty_pipelines}
    message = ngettext("{n} of {total} stages holds no deal", "{n} of {total} stages hold no deal", len(ids),
                       total=len(rows))
    if empty_pipelines:
        message = Message.join([message, ngettext("{n} pipeline has no deals at all", "{n} pipelines have no deals at all",
                                                  len(empty_pipelines))], "; ")
    return ctx.result(ids=ids, population=len(rows), details=details, metrics=metrics, message=message)


CHECKS = (sparse_custom_fields, empty_custom_fields, untouched_contacts, untouched_companies, empty_stages)
