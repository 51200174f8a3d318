"""Standard checks: usage review (Part 1, before step 1).

How the team uses the CRM: who logs in, who logs activities, which deals were won
without a trace in the CRM, and the daily activity over the audit year.

"Active human users" are active users whose role is not ``integration`` or ``guest`` (API and sync
accounts log in by token and log no sales activity of their own).
"""

from __future__ import annotations

from datetime import date, timedelta

from crm_audit_core import Percent, check

from .i18n import _, ngettext


def human(alias: str = "") -> str:
    """SQL: an active user whose role is not ``integration`` or ``guest``."""
    a = f"{alias}." if alias else ""
    return f"{a}is_active AND coalesce(lower({a}role), '') NOT IN ('integration', 'guest')"


HUMAN = human()
LOGGED_TYPES = ("call", "sms", "email", "meeting")
ALL_TYPES = ("call", "sms", "email", "meeting", "note", "task")


def type_label(kind: str):
    """The name a chart's legend shows for an activity type (the CRM's own word for other types)."""
    labels = {"call": _("calls"), "sms": _("SMS"), "email": _("emails"), "meeting": _("meetings"),
              "note": _("notes"), "task": _("tasks"), "unknown": _("type not given")}
    return labels.get(kind, kind)


RECENCY = ("within 7 days", "8-30 days", "31-90 days", "over 90 days", "never")


def recency_label(bucket: str):
    """A last-login bucket as the chart shows it."""
    labels = {"within 7 days": _("within 7 days"), "8-30 days": _("8-30 days"), "31-90 days": _("31-90 days"),
              "over 90 days": _("over 90 days"), "never": _("never logged in")}
    return labels[bucket]


def working_days(start: date, end: date) -> int:
    """Monday-to-Friday days in [start, end)."""
    days = (end - start).days
    if days <= 0:
        return 0
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for i in range(rest):
        if (start + timedelta(days=weeks * 7 + i)).weekday() < 5:
            count += 1
    return count


@check(
    id="usage.login-adoption",
    title="Licensed users who do not log in",
    step="usage-review",
    area="usage",
    severity="high",
    needs={"users": ["id", "is_active", "role", "last_login_at"]},
    settings={"days": 30, "min_share": 0.8},
    settings_help={
        "days": "a user counts as logging in when their last login is within this many days",
        "min_share": "the check fails when fewer than this share (0-1) of active human users logged in",
    },
    description=(
        "Counts the share of active human users (licences) who logged in recently. When only half of the "
        "team logs in, half of the customer work is not in the CRM and its data is worth far less."
    ),
    remediation=(
        "Talk to the users listed: find out why they do not use the CRM (training, missing features, a "
        "parallel spreadsheet), fix it, or free their licence."
    ),
)
def login_adoption(ctx):
    days, min_share = ctx.settings["days"], float(ctx.settings["min_share"])
    rows = ctx.rows(
        f"SELECT id, last_login_at FROM users WHERE {HUMAN} AND "
        "(last_login_at IS NULL OR last_login_at < $as_of - to_days($days))",
        days=days,
    )
    ids = sorted(str(r["id"]) for r in rows)
    total = ctx.count("users", HUMAN)
    logged_in = total - len(ids)
    share = logged_in / total if total else 1.0
    details = {
        str(r["id"]): (_("never logged in") if r["last_login_at"] is None
                       else ngettext("last login {date}, more than {n} day ago", "last login {date}, more than {n} days ago",
                                     days, date=r["last_login_at"]))
        for r in rows
    }
    metrics = {"active_users": total, "logged_in": logged_in, "not_logged_in": len(ids),
               "share_logged_in": round(share, 4), "min_share": min_share, "days": days}
    if ctx.supplied("login_events", "at") and ctx.supplied("login_events", "user_id"):
        # Distinct users with a successful login per day over the window: the adoption timeline.
        daily = ctx.rows(
            "SELECT CAST(\"at\" AS DATE) AS day, count(DISTINCT user_id) AS n FROM login_events "
            "WHERE \"at\" >= $as_of - to_days($days) AND \"at\" < $as_of "
            "AND coalesce(lower(status), 'success') IN ('success', 'succeeded', 'ok') "
            "GROUP BY 1 ORDER BY 1",
            days=max(days, 90),
        )
        metrics["daily_users_logging_in"] = {str(r["day"]): int(r["n"]) for r in daily}
    buckets = ctx.rows(
        f"SELECT CASE WHEN last_login_at IS NULL THEN 'never' "
        "WHEN last_login_at >= $as_of - to_days(7) THEN 'within 7 days' "
        "WHEN last_login_at >= $as_of - to_days(30) THEN '8-30 days' "
        "WHEN last_login_at >= $as_of - to_days(90) THEN '31-90 days' ELSE 'over 90 days' END AS bucket, "
        f"count(*) AS n FROM users WHERE {HUMAN} GROUP BY 1"
    )
    counts = {r["bucket"]: int(r["n"]) for r in buckets}
    metrics["last_login_recency"] = {b: counts.get(b, 0) for b in RECENCY}
    metrics["charts"] = [{
        "id": "login-adoption", "title": _("Active users by last login"), "kind": "barh",
        "x": [recency_label(b) for b in RECENCY], "series": {_("users"): [counts.get(b, 0) for b in RECENCY]},
        "x_label": _("active users"),
    }]
    if metrics.get("daily_users_logging_in"):
        metrics["charts"].append({
            "id": "daily-logins", "title": _("Users logging in per day"), "kind": "line",
            "x": list(metrics["daily_users_logging_in"]),
            "series": {_("users"): list(metrics["daily_users_logging_in"].values())}, "y_label": _("users"),
        })
    failed = share < min_share
    message = ngettext("{logged_in} of {n} active user ({share}) logged in within {days} days (minimum {min_share}); "
                       "{not_logged_in} did not",
                       "{logged_in} of {n} active users ({share}) logged in within {days} days (minimum {min_share}); "
                       "{not_logged_in} did not",
                       total, logged_in=logged_in, share=Percent(share, 0), days=days,
                       min_share=Percent(min_share, 0), not_logged_in=len(ids))
    return ctx.result(ids=ids, population=total, metrics=metrics, details=details, failed=failed, message=message)


@check(
    id="usage.inactive-users",
    title="Users who log no sales activity",
    step="usage-review",
    area="usage",
    severity="medium",
    needs={"users": ["id", "is_active", "role"], "activities": ["id", "type", "owner_id", "created_at"]},
    settings={"days": 90},
    settings_help={"days": "the window (days before the audit date) in which a user must own at least one activity"},
    description=(
        "Measures calls, SMS, emails and meetings logged per user per working day and lists active users "
        "who own no activity at all in the window: their customer work happens outside the CRM."
    ),
    remediation=(
        "Ask the users listed how they track their customer work; log calls, emails and meetings in the CRM "
        "(email and calendar sync, the mobile app), or free the licence."
    ),
)
def inactive_users(ctx):
    days = ctx.settings["days"]
    per_user = ctx.rows(
        f"SELECT u.id AS user_id, a.type, count(a.id) AS n FROM users u "
        "LEFT JOIN activities a ON a.owner_id = u.id AND a.created_at >= $as_of - to_days($days) "
        "AND a.created_at < $as_of "
        f"WHERE {human('u')} "
        "GROUP BY 1, 2",
        days=days,
    )
    end = ctx.as_of.date()
    workdays = max(working_days(end - timedelta(days=days), end), 1)
    counts: dict[str, dict[str, int]] = {}
    for r in per_user:
        user = str(r["user_id"])
        counts.setdefault(user, {})
        if r["type"] is not None:
            counts[user][str(r["type"]).lower()] = counts[user].get(str(r["type"]).lower(), 0) + int(r["n"])
    ids = sorted(u for u, c in counts.items() if sum(c.values()) == 0)
    rates = {
        u: {t: round(c.get(t, 0) / workdays, 3) for t in ALL_TYPES}
        for u, c in sorted(counts.items())
    }
    team = {t: round(sum(c.get(t, 0) for c in counts.values()) / workdays / max(len(counts), 1), 3) for t in ALL_TYPES}
    detail = ngettext("owns no activity created in the last {n} day", "owns no activity created in the last {n} days", days)
    details = {u: detail for u in ids}
    metrics = {"days": days, "working_days": workdays, "active_users": len(counts),
               "per_user_per_working_day": rates, "team_average_per_user_per_working_day": team}
    return ctx.result(ids=ids, population=len(counts), metrics=metrics, details=details,
                      message=ngettext("{count} of {n} active user logged no activity in {days} days",
                                       "{count} of {n} active users logged no activity in {days} days",
                                       len(counts), count=len(ids), days=days))


@check(
    id="usage.won-deals-without-activity",
    title="Won deals with no activity in the CRM",
    step="usage-review",
    area="usage",
    severity="medium",
    needs={"deals": ["id", "is_won"], "activities": ["id", "deal_id"]},
    description=(
        "Won deals with no call, email, meeting, note or task linked to them were closed outside the CRM: "
        "the CRM cannot tell how they were won, and the win rate of the CRM's pipeline is understated."
    ),
    remediation=(
        "Ask the owners of the deals listed to log the key activities (or attach the email thread), and "
        "agree that deals are worked in the CRM from the first contact."
    ),
)
def won_deals_without_activity(ctx):
    ids = ctx.ids(
        "SELECT d.id FROM deals d WHERE d.is_won "
        "AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.deal_id = d.id)"
    )
    total = ctx.count("deals", "is_won")
    return ctx.result(ids=ids, population=total,
                      metrics={"won_deals": total, "won_without_activity": len(ids),
                               "won_through_crm": total - len(ids)},
                      details=dict.fromkeys(ids, _("won deal with no activity linked")),
                      message=ngettext("{count} of {n} won deal has no activity linked (closed outside the CRM)",
                                       "{count} of {n} won deals have no activity linked (closed outside the CRM)",
                                       total, count=len(ids)))


@check(
    id="usage.activity-timeline",
    title="Sales activity over the audit year",
    step="usage-review",
    area="usage",
    severity="info",
    needs={"activities": ["id", "type", "created_at"]},
    settings={"days": 365},
    settings_help={"days": "the audit year: this many days before the audit date"},
    description=(
        "The daily sales activity by type (calls, SMS, emails, meetings, notes, tasks) over the audit year, "
        "the activities logged, and the deals closed through the CRM. Information for the usage review; "
        "it never fails."
    ),
    remediation="Review the timeline with the sales team: gaps and drops show when work left the CRM.",
)
def activity_timeline(ctx):
    days = ctx.settings["days"]
    rows = ctx.rows(
        "SELECT CAST(created_at AS DATE) AS day, lower(type) AS type, count(*) AS n FROM activities "
        "WHERE created_at >= $as_of - to_days($days) AND created_at < $as_of GROUP BY 1, 2",
        days=days,
    )
    end = ctx.as_of.date()
    start = end - timedelta(days=days)
    dates = [start + timedelta(days=i) for i in range(days)]
    index = {d: i for i, d in enumerate(dates)}
    types = sorted({str(r["type"]) for r in rows if r["type"] is not None} | set(ALL_TYPES),
                   key=lambda t: (ALL_TYPES.index(t) if t in ALL_TYPES else len(ALL_TYPES), t))
    series = {t: [0] * len(dates) for t in types}
    totals = {t: 0 for t in types}
    for r in rows:
        t = str(r["type"]) if r["type"] is not None else "unknown"
        series.setdefault(t, [0] * len(dates))
        totals[t] = totals.get(t, 0) + int(r["n"])
        i = index.get(r["day"])
        if i is not None:
            series[t][i] += int(r["n"])
    weekly = {t: [sum(v[i:i + 7]) for i in range(0, len(v), 7)] for t, v in series.items()}
    metrics = {
        "days": days,
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "logged": {t: totals.get(t, 0) for t in LOGGED_TYPES},
        "activities_by_type": totals,
        "daily": {"dates": [d.isoformat() for d in dates], **series},
        "weekly": weekly,
        "charts": [
            {"id": "activity-timeline", "title": _("Daily activity by type (last 90 days)"), "kind": "line",
             "x": [d.isoformat() for d in dates[-90:]],
             "series": {type_label(t): v[-90:] for t, v in series.items() if any(v[-90:])},
             "y_label": _("activities")},
            {"id": "activity-weekly", "kind": "stacked-bar",
             "title": ngettext("Weekly activity by type (last {n} day)", "Weekly activity by type (last {n} days)", days),
             "x": [dates[i].isoformat() for i in range(0, len(dates), 7)],
             "series": {type_label(t): v for t, v in weekly.items() if any(v)}, "y_label": _("activities")},
        ],
    }
    logged = {"calls": totals.get("call", 0), "sms": totals.get("sms", 0), "emails": totals.get("email", 0),
              "meetings": totals.get("meeting", 0)}
    if ctx.supplied("deals", "is_won") and ctx.supplied("deals", "close_date"):
        through = "FALSE"
        if ctx.supplied("activities", "deal_id"):
            through = "EXISTS (SELECT 1 FROM activities a WHERE a.deal_id = d.id)"
        amount = "coalesce(sum(d.amount) FILTER (WHERE {t}), 0)" if ctx.supplied("deals", "amount") else "NULL"
        won = ctx.rows(
            f"SELECT count(*) AS won, count(*) FILTER (WHERE {through}) AS through_crm, "
            f"{amount.format(t=through)} AS amount_through_crm FROM deals d "
            "WHERE d.is_won AND d.close_date >= $as_of - to_days($days) AND d.close_date < $as_of",
            days=days,
        )[0]
        metrics["deals_won"] = int(won["won"])
        metrics["deals_won_through_crm"] = int(won["through_crm"])
        if won["amount_through_crm"] is not None:
            metrics["amount_won_through_crm"] = float(won["amount_through_crm"] or 0)
        message = ngettext("last {days} days: calls {calls}, SMS {sms}, emails {emails}, meetings {meetings}; "
                           "{through} of {n} deal won was worked in the CRM",
                           "last {days} days: calls {calls}, SMS {sms}, emails {emails}, meetings {meetings}; "
                           "{through} of {n} deals won were worked in the CRM",
                           int(won["won"]), days=days, through=int(won["through_crm"]), **logged)
    else:
        message = _("last {days} days: calls {calls}, SMS {sms}, emails {emails}, meetings {meetings}",
                    days=days, **logged)
    return ctx.result(ids=[], metrics=metrics, population=sum(totals.values()), message=message)


CHECKS = (login_adoption, inactive_users, won_deals_without_activity, activity_timeline)
