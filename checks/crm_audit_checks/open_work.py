"""Standard checks: unfinished tasks and deals (Part 1, step 4: "money left on the table").

A task is open when ``is_done`` is false (or unknown and it has no ``completed_at``); a
deal is open when ``is_closed`` is false. Every check reports the exact records to act on.
"""

from __future__ import annotations

from crm_audit_core import check

from .i18n import _, ngettext

OPEN_TASK = "lower(type) = 'task' AND NOT coalesce(is_done, completed_at IS NOT NULL)"
OPEN_DEAL = "is_closed IS NOT TRUE"


def _open_task(ctx) -> str:
    """OPEN_TASK, without completed_at when the connector does not supply it."""
    if ctx.supplied("activities", "completed_at"):
        return OPEN_TASK
    return OPEN_TASK.replace("completed_at IS NOT NULL", "FALSE")


def _simple(ctx, *, table: str, where: str, population_where: str, message, detail, columns: str = "", **params):
    """A result listing the ``table`` rows matching ``where`` among those matching ``population_where``.

    ``message(count, total)`` words the result; ``detail(row)`` the reason a row is listed.
    """
    select = "id" + (f", {columns}" if columns else "")
    rows = ctx.rows(f"SELECT {select} FROM {table} WHERE {population_where} AND ({where})", **params)
    ids = sorted(str(r["id"]) for r in rows)
    details = {str(r["id"]): detail(r) for r in rows}
    total = ctx.count(table, population_where)
    return ctx.result(ids=ids, population=total, details=details, message=message(len(ids), total))


AGE_BUCKETS = ((7, "1-7 days"), (30, "8-30 days"), (90, "31-90 days"), (365, "91-365 days"), (None, "over a year"))


def _age_label(bucket: str):
    """An ageing bucket as the chart shows it."""
    return {"1-7 days": _("1-7 days"), "8-30 days": _("8-30 days"), "31-90 days": _("31-90 days"),
            "91-365 days": _("91-365 days"), "over a year": _("over a year")}[bucket]


def _ageing_chart(ctx, *, table: str, where: str, column: str, chart_id: str, title) -> dict:
    """How long past ``column`` the matching records are, in buckets (for the ageing chart)."""
    cases = " ".join(f"WHEN date_diff('day', {column}, $as_of) <= {limit} THEN '{label}'" for limit, label in AGE_BUCKETS if limit)
    rows = ctx.rows(f"SELECT CASE {cases} ELSE 'over a year' END AS bucket, count(*) AS n FROM {table} "
                    f"WHERE {where} GROUP BY 1")
    counts = {r["bucket"]: int(r["n"]) for r in rows}
    buckets = [bucket for _limit, bucket in AGE_BUCKETS]
    return {"id": chart_id, "title": title, "kind": "bar", "x": [_age_label(b) for b in buckets],
            "series": {_("records"): [counts.get(b, 0) for b in buckets]}, "y_label": _("records")}


@check(
    id="open-work.overdue-tasks",
    title="Open tasks past their due date",
    step="open-work",
    area="usage",
    severity="medium",
    needs={"activities": ["id", "type", "is_done", "due_at"]},
    description="Tasks still open after their due date are promises to customers that were not kept.",
    remediation="Ask each owner to do, reschedule or close the tasks listed; review overdue tasks weekly.",
)
def overdue_tasks(ctx):
    result = _simple(ctx, table="activities", population_where=_open_task(ctx), where="due_at < $as_of",
                     columns="due_at",
                     message=lambda count, total: ngettext("{count} of {n} open task is past its due date",
                                                           "{count} of {n} open tasks are past their due date",
                                                           total, count=count),
                     detail=lambda r: _("due {date}, still open", date=r["due_at"]))
    result.metrics["charts"] = [_ageing_chart(ctx, table="activities", where=f"{_open_task(ctx)} AND due_at < $as_of",
                                              column="due_at", chart_id="open-work-ageing",
                                              title=_("Overdue open tasks by days overdue"))]
    return result


@check(
    id="open-work.tasks-without-due-date",
    title="Open tasks without a due date",
    step="open-work",
    area="usage",
    severity="low",
    needs={"activities": ["id", "type", "is_done", "due_at"]},
    description="A task without a due date is never overdue, so it is never done.",
    remediation="Give each task listed a due date, or close it when it is no longer needed.",
)
def tasks_without_due_date(ctx):
    return _simple(ctx, table="activities", population_where=_open_task(ctx), where="due_at IS NULL",
                   message=lambda count, total: ngettext("{count} of {n} open task has no due date",
                                                         "{count} of {n} open tasks have no due date", total, count=count),
                   detail=lambda r, same=_("open task with no due date"): same)


@check(
    id="open-work.tasks-without-owner",
    title="Open tasks nobody owns",
    step="open-work",
    area="usage",
    severity="medium",
    needs={"activities": ["id", "type", "is_done", "owner_id"]},
    description="A task without an owner is nobody's job.",
    remediation="Assign an owner to each task listed (the owner of the contact or deal), or close it.",
)
def tasks_without_owner(ctx):
    return _simple(ctx, table="activities", population_where=_open_task(ctx),
                   where="owner_id IS NULL OR trim(owner_id) = ''",
                   message=lambda count, total: ngettext("{count} of {n} open task has no owner",
                                                         "{count} of {n} open tasks have no owner", total, count=count),
                   detail=lambda r, same=_("open task with no owner"): same)


@check(
    id="open-work.deals-past-close-date",
    title="Open deals past their expected close date",
    step="open-work",
    area="usage",
    severity="medium",
    needs={"deals": ["id", "is_closed", "close_date"]},
    description="Open deals whose close date has passed inflate the forecast: they are lost or forgotten.",
    remediation="Ask each owner to close the deal (won or lost, with a reason) or move its close date.",
)
def deals_past_close_date(ctx):
    result = _simple(ctx, table="deals", population_where=OPEN_DEAL, where="close_date < $as_of",
                     columns="close_date",
                     message=lambda count, total: ngettext("{count} of {n} open deal is past its close date",
                                                           "{count} of {n} open deals are past their close date",
                                                           total, count=count),
                     detail=lambda r: _("close date {date} passed, deal still open", date=r["close_date"]))
    result.metrics["charts"] = [_ageing_chart(ctx, table="deals", where=f"{OPEN_DEAL} AND close_date < $as_of",
                                              column="close_date", chart_id="deals-ageing",
                                              title=_("Open deals by days past their close date"))]
    return result


@check(
    id="open-work.stalled-deals",
    title="Open deals with no recent activity",
    step="open-work",
    area="usage",
    severity="medium",
    needs={"deals": ["id", "is_closed"], "activities": ["id", "deal_id", "created_at"]},
    settings={"days": 30},
    settings_help={"days": "an open deal is stalled when no activity on it was created in this many days"},
    description="Open deals nobody has worked on for weeks are going cold while the forecast still counts them.",
    remediation="Ask each owner for a next step on the deals listed (call, meeting, task), or close them as lost.",
)
def stalled_deals(ctx):
    days = ctx.settings["days"]
    rows = ctx.rows(
        "WITH last AS (SELECT deal_id, max(created_at) AS last_at FROM activities WHERE deal_id IS NOT NULL GROUP BY 1) "
        f"SELECT d.id, l.last_at FROM deals d LEFT JOIN last l ON l.deal_id = d.id "
        f"WHERE d.{OPEN_DEAL} AND (l.last_at IS NULL OR l.last_at < $as_of - to_days($days))",
        days=days,
    )
    ids = sorted(str(r["id"]) for r in rows)
    details = {str(r["id"]): (_("last activity {date}", date=r["last_at"]) if r["last_at"] else _("no activity ever"))
               for r in rows}
    total = ctx.count("deals", OPEN_DEAL)
    metrics = {}
    if ctx.supplied("deals", "stage"):
        # The open pipeline by stage, stalled vs worked on (stage names when the stages table has them).
        label = "coalesce(s.name, d.stage, '(no stage)')" if ctx.supplied("stages", "name") else "coalesce(d.stage, '(no stage)')"
        join = "LEFT JOIN stages s ON s.id = d.stage" if ctx.supplied("stages", "name") else ""
        order = "min(s.position)" if ctx.supplied("stages", "position") else "1"
        stalled = set(ids)
        rows = ctx.rows(f"SELECT {label} AS stage, list(d.id) AS ids FROM deals d {join} WHERE d.{OPEN_DEAL} "
                        f"GROUP BY 1 ORDER BY {order}, 1")
        stages = [str(r["stage"]) for r in rows]
        metrics["open_deals_by_stage"] = {str(r["stage"]): len(r["ids"]) for r in rows}
        quiet = ngettext("no activity in {n} day", "no activity in {n} days", days)
        metrics["charts"] = [{
            "id": "pipeline-by-stage", "title": _("Open deals by stage"), "kind": "stacked-bar",
            "x": [_("(no stage)") if s == "(no stage)" else s for s in stages],
            "series": {_("worked on"): [sum(1 for i in r["ids"] if str(i) not in stalled) for r in rows],
                       quiet: [sum(1 for i in r["ids"] if str(i) in stalled) for r in rows]},
            "y_label": _("open deals"), "colors": ["#2563eb", "#f59e0b"]}]
    return ctx.result(ids=ids, population=total, details=details, metrics=metrics,
                      message=ngettext("{count} of {n} open deal has had no activity for {days} days",
                                       "{count} of {n} open deals have had no activity for {days} days",
                                       total, count=len(ids), days=days))


@check(
    id="open-work.lost-deals-without-reason",
    title="Lost deals without a reason",
    step="open-work",
    area="usage",
    severity="low",
    needs={"deals": ["id", "is_closed", "is_won", "lost_reason"]},
    description="Without the reason a deal was lost, the team cannot learn from it (price, product, timing).",
    remediation="Ask the owners to fill in the lost reason; make the field required when a deal is closed lost.",
)
def lost_deals_without_reason(ctx):
    return _simple(ctx, table="deals", population_where="is_closed AND is_won IS NOT TRUE",
                   where="lost_reason IS NULL OR trim(lost_reason) = ''",
                   message=lambda count, total: ngettext("{count} of {n} lost deal has no lost reason",
                                                         "{count} of {n} lost deals have no lost reason", total,
                                                         count=count),
                   detail=lambda r, same=_("closed lost without a reason"): same)


@check(
    id="open-work.deals-without-owner",
    title="Open deals nobody owns",
    step="open-work",
    area="usage",
    severity="high",
    needs={"deals": ["id", "is_closed", "owner_id"]},
    description="An open deal without an owner is not being sold.",
    remediation="Assign an owner to each deal listed (the account owner, or by round robin).",
)
def deals_without_owner(ctx):
    return _simple(ctx, table="deals", population_where=OPEN_DEAL, where="owner_id IS NULL OR trim(owner_id) = ''",
                   message=lambda count, total: ngettext("{count} of {n} open deal has no owner",
                                                         "{count} of {n} open deals have no owner", total, count=count),
                   detail=lambda r, same=_("open deal with no owner"): same)


CHECKS = (overdue_tasks, tasks_without_due_date, tasks_without_owner, deals_past_close_date, stalled_deals,
          lost_deals_without_reason, deals_without_owner)
