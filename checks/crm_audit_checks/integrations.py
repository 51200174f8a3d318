"""Standard checks: integrations (Part 1, step 2: "integrations work as expected").

Every connected system must serve a purpose, and counts show whether it does. The
records an integration created are the contacts, companies and deals whose ``source_detail``
names it (``integrations.name``); their ``created_at`` gives its flow over time.

* stopped-integrations: a steady flow that dried up;
* spiking-integrations: one day far above the usual (a loop, a re-import);
* stale-syncs: active integrations that have not synced for days;
* silent-integrations: no record created and no sync for longer than the integration's
  own usual gap between active days.

The checks that compare counts (campaign-count-sanity, sync-count-mismatch) are in
``integrations_counts.py``; they are registered with these, in this module's ``CHECKS``.

(Duplicates created by integrations are reported by ``integrations.duplicates-by-source``,
built with the duplicate matcher in ``duplicates.py``.)
"""

from __future__ import annotations

from datetime import timedelta

from crm_audit_core import Message, check

from .i18n import _, ngettext
from .integrations_counts import campaign_count_sanity, sync_count_mismatch

RECORD_TABLES = ("contacts", "companies", "deals")


def _records_sql(ctx) -> str | None:
    """SQL for (name, created_at) of every record an integration created, or None when unknown."""
    parts = [
        f"SELECT source_detail AS name, created_at FROM {t} WHERE source_detail IS NOT NULL AND source_detail <> ''"
        for t in RECORD_TABLES
        if ctx.supplied(t, "source_detail") and ctx.supplied(t, "created_at")
    ]
    return " UNION ALL ".join(parts) if parts else None


def _days(n: float):
    """A number of days (``1 day``, ``3 days``, ``4.5 days``) to use inside a sentence."""
    return ngettext("{days} day", "{days} days", 1 if n == 1 else 2, days=n)


def _sources_skip(ctx):
    return ctx.skip(_("no contacts, companies or deals with source_detail and created_at were supplied, "
                      "so the records integrations created cannot be counted"))


@check(
    id="integrations.stopped-integrations",
    title="Integrations that stopped creating records",
    step="integrations",
    area="usage",
    severity="high",
    needs={"integrations": ["id", "name"]},
    settings={"quiet_days": 30, "min_weeks": 8, "lookback_days": 365},
    settings_help={
        "quiet_days": "an integration has stopped when it created no record in this many days",
        "min_weeks": "...after creating at least one record a week for this many consecutive weeks",
        "lookback_days": "how far back (before the quiet window) to look for that steady flow",
    },
    description=(
        "An integration that created records every week and then nothing for a month has most likely broken "
        "(expired credentials, a changed field, a disconnected app) while everyone assumes it still works."
    ),
    remediation=(
        "Open the integration's settings and logs in the CRM and in the other system: reconnect it, renew its "
        "credentials or fix the mapping; if it was retired on purpose, uninstall it and remove its API user."
    ),
)
def stopped_integrations(ctx):
    records = _records_sql(ctx)
    if records is None:
        return _sources_skip(ctx)
    quiet, min_weeks, lookback = ctx.settings["quiet_days"], ctx.settings["min_weeks"], ctx.settings["lookback_days"]
    cut = ctx.as_of - timedelta(days=quiet)
    rows = ctx.rows(
        f"WITH recs AS ({records}), "
        # Weeks counted back from the quiet window, under each of the 7 ways to start a week
        # on a day boundary; the steadiest reading counts (a flow of one record a week is not
        # broken by where the calendar happens to cut it).
        "weeks AS (SELECT name, o, CAST(floor((date_diff('second', created_at, $cut) + o * 86400) / 604800) AS BIGINT) AS w "
        "          FROM recs, range(7) AS shift(o) "
        "          WHERE created_at < $cut AND created_at >= $cut - to_days($lookback) GROUP BY 1, 2, 3), "
        "runs AS (SELECT name, o, w - row_number() OVER (PARTITION BY name, o ORDER BY w) AS g FROM weeks), "
        "longest AS (SELECT name, max(n) AS run FROM (SELECT name, o, g, count(*) AS n FROM runs GROUP BY 1, 2, 3) GROUP BY 1), "
        "recent AS (SELECT name, count(*) AS n FROM recs WHERE created_at >= $cut GROUP BY 1), "
        "last_seen AS (SELECT name, max(created_at) AS last_at FROM recs GROUP BY 1) "
        "SELECT i.id, i.name, coalesce(l.run, 0) AS run, coalesce(r.n, 0) AS recent, s.last_at "
        "FROM integrations i LEFT JOIN longest l ON l.name = i.name LEFT JOIN recent r ON r.name = i.name "
        "LEFT JOIN last_seen s ON s.name = i.name",
        cut=cut, lookback=lookback,
    )
    ids, details = [], {}
    for r in rows:
        if r["run"] >= min_weeks and r["recent"] == 0:
            ids.append(str(r["id"]))
            details[str(r["id"])] = ngettext("{name}: created records every week for {n} week, none since {last}",
                                             "{name}: created records every week for {n} weeks, none since {last}",
                                             int(r["run"]), name=str(r["name"]), last=r["last_at"])
    weekly = ctx.rows(
        f"WITH recs AS ({records}) SELECT name, CAST(floor(date_diff('second', created_at, $as_of) / 604800) AS BIGINT) AS w, "
        "count(*) AS n FROM recs WHERE created_at >= $as_of - to_days(182) AND created_at < $as_of "
        "AND name IN (SELECT name FROM integrations) GROUP BY 1, 2"
    )
    series: dict[str, list[int]] = {}
    for r in weekly:
        w = int(r["w"])
        if 0 <= w < 26:
            series.setdefault(str(r["name"]), [0] * 26)[25 - w] += int(r["n"])
    metrics = {"weekly_records_last_26_weeks": series,
               "longest_steady_run_weeks": {str(r["name"]): int(r["run"]) for r in rows},
               "records_in_quiet_window": {str(r["name"]): int(r["recent"]) for r in rows}}
    return ctx.result(ids=ids, population=len(rows), metrics=metrics, details=details,
                      message=ngettext("{count} of {n} integration stopped creating records {days} days ago",
                                       "{count} of {n} integrations stopped creating records {days} days ago",
                                       len(rows), count=len(ids), days=quiet))


@check(
    id="integrations.spiking-integrations",
    title="Integrations with a sudden burst of new records",
    step="integrations",
    area="usage",
    severity="medium",
    needs={"integrations": ["id", "name"]},
    settings={"factor": 5.0, "min_records": 50, "days": 90, "baseline_days": 365},
    settings_help={
        "factor": "a day is a spike when the integration created more than this times its median daily count",
        "min_records": "...and at least this many records that day",
        "days": "spikes are looked for in this many days before the audit date",
        "baseline_days": "the median daily count is taken over the days with records in this many days",
    },
    description=(
        "A day on which an integration created many times its usual number of records is usually a sync loop, "
        "a re-import or a mapping error, and a main source of duplicates."
    ),
    remediation=(
        "Look at the records the integration created on the day named: merge or delete the duplicates, and fix "
        "the sync (matching rule, schedule, mapping) so it does not happen again."
    ),
)
def spiking_integrations(ctx):
    records = _records_sql(ctx)
    if records is None:
        return _sources_skip(ctx)
    s = ctx.settings
    rows = ctx.rows(
        f"WITH recs AS ({records}), "
        "daily AS (SELECT name, CAST(created_at AS DATE) AS day, count(*) AS n FROM recs "
        "          WHERE created_at >= $as_of - to_days($baseline) AND created_at < $as_of GROUP BY 1, 2), "
        "med AS (SELECT name, median(n) AS m FROM daily GROUP BY 1) "
        "SELECT i.id, i.name, d.day, d.n, m.m FROM integrations i JOIN daily d ON d.name = i.name "
        "JOIN med m ON m.name = i.name "
        "WHERE d.day >= CAST($as_of - to_days($days) AS DATE) AND d.n > $factor * m.m AND d.n >= $min_records "
        "ORDER BY i.id, d.n DESC",
        baseline=s["baseline_days"], days=s["days"], factor=float(s["factor"]), min_records=s["min_records"],
    )
    details: dict = {}
    spikes: dict[str, list] = {}
    for r in rows:
        rid = str(r["id"])
        spikes.setdefault(str(r["name"]), []).append({"day": r["day"].isoformat(), "records": int(r["n"]),
                                                      "median": float(r["m"])})
        if rid not in details:
            details[rid] = ngettext("{name}: {n} record on {day}, {ratio}x its median of {median} a day",
                                    "{name}: {n} records on {day}, {ratio}x its median of {median} a day",
                                    int(r["n"]), name=str(r["name"]), day=r["day"],
                                    ratio=round(r["n"] / max(float(r["m"]), 1)), median=float(r["m"]))
    ids = sorted(details)
    daily = ctx.rows(
        f"WITH recs AS ({records}) SELECT name, CAST(created_at AS DATE) AS day, count(*) AS n FROM recs "
        "WHERE created_at >= $as_of - to_days($days) AND created_at < $as_of GROUP BY 1, 2",
        days=s["days"],
    )
    start = (ctx.as_of - timedelta(days=s["days"])).date()
    dates = [start + timedelta(days=i) for i in range(s["days"])]
    index = {d: i for i, d in enumerate(dates)}
    series: dict[str, list[int]] = {}
    for r in daily:
        i = index.get(r["day"])
        if i is not None:
            series.setdefault(str(r["name"]), [0] * len(dates))[i] += int(r["n"])
    # Keep the chart readable: the 50 busiest sources.
    top = sorted(series, key=lambda k: -sum(series[k]))[:50]
    population = ctx.count("integrations")
    metrics = {"daily_records_by_source": {"dates": [d.isoformat() for d in dates], **{k: series[k] for k in top}},
               "spikes": spikes}
    return ctx.result(ids=ids, population=population, metrics=metrics, details=details,
                      message=ngettext("{count} of {n} integration had a spike of new records in {days} days",
                                       "{count} of {n} integrations had a spike of new records in {days} days",
                                       population, count=len(ids), days=s["days"]))


@check(
    id="integrations.stale-syncs",
    title="Active integrations that stopped syncing",
    step="integrations",
    area="usage",
    severity="high",
    needs={"integrations": ["id", "name", "status", "last_sync_at"]},
    settings={"days": 7},
    settings_help={"days": "an active integration is stale when its last sync is older than this many days"},
    description="An integration marked active whose last sync is days old is silently failing.",
    remediation=(
        "Open the integration in the CRM: check its error log, reconnect it or renew its credentials; if it is "
        "no longer used, switch it off and remove its API user."
    ),
)
def stale_syncs(ctx):
    days = ctx.settings["days"]
    rows = ctx.rows(
        "SELECT id, name, last_sync_at, date_diff('day', last_sync_at, $as_of) AS age FROM integrations "
        "WHERE lower(trim(status)) = 'active' AND last_sync_at < $as_of - to_days($days)",
        days=days,
    )
    ids = [str(r["id"]) for r in rows]
    details = {str(r["id"]): ngettext("{name}: last sync {last}, {n} day ago", "{name}: last sync {last}, {n} days ago",
                                      int(r["age"]), name=str(r["name"]), last=r["last_sync_at"]) for r in rows}
    ages = ctx.rows("SELECT name, date_diff('day', last_sync_at, $as_of) AS age FROM integrations "
                    "WHERE lower(trim(status)) = 'active' AND last_sync_at IS NOT NULL")
    population = ctx.count("integrations", "lower(trim(status)) = 'active'")
    return ctx.result(ids=ids, population=population, details=details,
                      metrics={"days_since_last_sync": {str(r["name"]): int(r["age"]) for r in ages}},
                      message=ngettext("{count} of {n} active integration has not synced for {days} days",
                                       "{count} of {n} active integrations have not synced for {days} days",
                                       population, count=len(ids), days=days))


@check(
    id="integrations.silent-integrations",
    title="Integrations silent for longer than their usual gap",
    step="integrations",
    area="usage",
    severity="high",
    needs={"integrations": ["id", "name"]},
    settings={"factor": 3.0, "min_days": 3, "lookback_days": 60, "min_active_days": 10},
    settings_help={
        "factor": "an integration is silent when its last activity is older than this many times its usual gap",
        "min_days": "...and older than this many days",
        "lookback_days": "its usual gap is the 90th percentile of the gaps between its active days in this many "
                         "days before its last activity",
        "min_active_days": "integrations with fewer active days than this in that window have no usual gap "
                           "and are not judged",
    },
    description=(
        "Every integration has its own rhythm: a form sync creates records every day, an accounting sync once "
        "a week. One that has created no record and not synced for several times its usual gap has most "
        "likely stopped, whatever its status says and long before a fixed threshold would notice."
    ),
    remediation=(
        "Open the integration in the CRM and in the other system: look at its error log, reconnect it or renew "
        "its credentials; if it was switched off on purpose, remove it and its API user."
    ),
)
def silent_integrations(ctx):
    records = _records_sql(ctx)
    has_sync = ctx.supplied("integrations", "last_sync_at")
    if records is None and not has_sync:
        return ctx.skip(_("neither integrations.last_sync_at nor contacts, companies or deals with source_detail "
                          "and created_at were supplied, so no activity of any integration can be seen"))
    s = ctx.settings
    factor, min_days = float(s["factor"]), float(s["min_days"])
    lookback, min_active = int(s["lookback_days"]), int(s["min_active_days"])
    parts = []
    if records is not None:
        parts.append("SELECT lower(trim(r.name)) AS key, r.created_at AS ts, 'record' AS kind FROM recs r")
    if has_sync:
        parts.append("SELECT lower(trim(name)) AS key, last_sync_at AS ts, 'sync' AS kind FROM integrations "
                     "WHERE last_sync_at IS NOT NULL")
    rows = ctx.rows(
        f"WITH {'recs AS (' + records + '), ' if records is not None else ''}"
        f"acts AS (SELECT * FROM ({' UNION ALL '.join(parts)}) WHERE ts <= $as_of), "
        "last AS (SELECT key, max(ts) AS last_at, max(ts) FILTER (WHERE kind = 'record') AS last_record, "
        "         max(ts) FILTER (WHERE kind = 'sync') AS last_sync FROM acts GROUP BY 1), "
        "days AS (SELECT DISTINCT a.key, CAST(a.ts AS DATE) AS day FROM acts a JOIN last l ON l.key = a.key "
        "         WHERE a.ts >= l.last_at - to_days($lookback)), "
        "gaps AS (SELECT key, date_diff('day', lag(day) OVER (PARTITION BY key ORDER BY day), day) AS gap FROM days), "
        "usual AS (SELECT key, quantile_disc(gap, 0.9) AS p90 FROM gaps WHERE gap IS NOT NULL GROUP BY 1), "
        "active AS (SELECT key, count(*) AS n FROM days GROUP BY 1) "
        "SELECT i.id, i.name, l.last_at, l.last_record, l.last_sync, coalesce(a.n, 0) AS active_days, u.p90, "
        "       date_diff('second', l.last_at, $as_of) / 86400.0 AS silent_days "
        "FROM integrations i LEFT JOIN last l ON l.key = lower(trim(i.name)) "
        "LEFT JOIN active a ON a.key = l.key LEFT JOIN usual u ON u.key = l.key ORDER BY i.id",
        lookback=lookback,
    )
    ids, details, judged, unjudged = [], {}, {}, []
    for r in rows:
        rid, name = str(r["id"]), str(r["name"])
        if r["last_at"] is None or r["p90"] is None or r["active_days"] < min_active:
            unjudged.append(name)
            continue
        usual, silent = int(r["p90"]), float(r["silent_days"])
        limit = max(factor * usual, min_days)
        judged[name] = {"days_silent": round(silent, 1), "usual_gap_days": usual, "silent_after_days": limit,
                        "active_days": int(r["active_days"])}
        if silent > limit:
            ids.append(rid)
            values = dict(name=name, silent=_days(round(silent)), last=r["last_at"], usual=_days(usual),
                          active=int(r["active_days"]), lookback=lookback, limit=_days(limit))
            if r["last_at"] == r["last_sync"]:
                details[rid] = _("{name}: no record created and no sync for {silent} (its last activity, {last}, was a "
                                 "sync); its usual gap is {usual} (90th percentile over its {active} active days in the "
                                 "{lookback} days before), so more than {limit} of silence is unusual", **values)
            else:
                details[rid] = _("{name}: no record created and no sync for {silent} (its last activity, {last}, was a "
                                 "record it created); its usual gap is {usual} (90th percentile over its {active} active "
                                 "days in the {lookback} days before), so more than {limit} of silence is unusual",
                                 **values)
    if not judged:
        # no integration has history enough to know its rhythm: nothing was judged, so no pass
        return ctx.skip(ngettext("no integration had at least {min_active} active days in the {lookback} days before "
                                 "its last activity, so none has a usual gap to compare its silence with "
                                 "({n} integration not judged)",
                                 "no integration had at least {min_active} active days in the {lookback} days before "
                                 "its last activity, so none has a usual gap to compare its silence with "
                                 "({n} integrations not judged)",
                                 len(unjudged), min_active=min_active, lookback=lookback))
    metrics = {"integrations": judged, "not_judged": sorted(unjudged)}
    message = ngettext("{count} of {n} integration with a known rhythm has been silent for longer than {factor} "
                       "times its usual gap",
                       "{count} of {n} integrations with a known rhythm have been silent for longer than {factor} "
                       "times their usual gap",
                       len(judged), count=len(ids), factor=factor)
    if unjudged:
        not_judged = ngettext("{n} integration had fewer than {min_active} active days in the {lookback} days before "
                              "its last activity and was not judged",
                              "{n} integrations had fewer than {min_active} active days in the {lookback} days before "
                              "their last activity and were not judged",
                              len(unjudged), min_active=min_active, lookback=lookback)
        message = Message.join([message, not_judged], "; ")
    return ctx.result(ids=ids, population=len(judged), metrics=metrics, details=details, message=message)


CHECKS = (stopped_integrations, spiking_integrations, stale_syncs, silent_integrations, campaign_count_sanity,
          sync_count_mismatch)
