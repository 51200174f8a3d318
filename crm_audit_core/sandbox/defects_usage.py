"""Planted defects for Part 1 of the audit: usage, updates, integrations, open work, security.

Each planter is a small function ``plant_x(b: Build) -> None`` that edits the frames,
records the ids the matching check must report (``b.record(check_id, ids)``) and marks
the records it used (``b.pick`` / ``b.mark``) so that families stay disjoint. They run
in the order of :data:`PLANTERS`; add a family by appending a function.
"""

from __future__ import annotations

import numpy as np

from ..model import TABLES
from .build import HOUR, Build, add_activities, add_login_events, drop_login_events, reassign_activities, weekday_of
from .frame import DAY, NULL_ID, NULL_TS, Frame, obj
from .people import gen_companies, gen_contacts
from .work import make_activities


def _users_per_family(b: Build) -> int:
    return max(2, len(b.frames["users"]) // 60)


def _active_humans(b: Build) -> np.ndarray:
    u = b.frames["users"]
    return u["is_active"] & (u["role"] != "integration")


def _free_base_contact(b: Build, n: int = 1) -> np.ndarray:
    """Row positions of base contacts to hang a planted activity on (marked taken)."""
    con = b.frames["contacts"]
    base = np.arange(len(con)) < b.n_base_contacts
    return b.pick("contacts", n, base)


def _activity(b: Build, owner: int, created: int, type_: str = "note", deal: int = NULL_ID) -> Frame:
    con = b.frames["contacts"]
    r = _free_base_contact(b)
    fr = make_activities(b, b.defect_rng, obj([type_]), np.array([created]), np.array([owner]),
                         con["id"][r], con["company_id"][r], np.array([deal]))
    add_activities(b, fr)
    return fr


# --------------------------------------------------------------------------- updates


def plant_platform_versions(b: Build) -> None:
    p = b.frames["platform"]
    p["api_version_used"][0] = "2.4"
    p["api_versions_deprecated"][0] = "1.0;2.0;2.4"
    b.record("updates.outdated-api-version", ["sandbox"])
    b.record("updates.deprecated-api-version", ["sandbox"])


# --------------------------------------------------------------------------- usage & security (users)


def plant_login_adoption(b: Build) -> None:
    """Active users whose last login is 35-80 days old (they still logged work back then)."""
    u, rng = b.frames["users"], b.defect_rng
    rows = b.pick("users", _users_per_family(b), _active_humans(b))
    for r in rows:
        uid = int(u["id"][r])
        last = b.T - int(rng.integers(35, 80)) * DAY - int(rng.integers(0, 8)) * HOUR
        drop_login_events(b, uid, after=last - 1)
        add_login_events(b, uid, [last], [u["_ip_office"][r]], ["success"], ["Web"])
        reassign_activities(b, [uid], after=last)
        _activity(b, uid, last - 2 * HOUR)
    b.record("usage.login-adoption", u["id"][rows])


def plant_dormant_users(b: Build) -> None:
    """Active users who never logged in, or not for 120+ days; they log no work either."""
    u, rng = b.frames["users"], b.defect_rng
    rows = b.pick("users", _users_per_family(b), _active_humans(b))
    for i, r in enumerate(rows):
        uid = int(u["id"][r])
        drop_login_events(b, uid)
        if i % 2 == 0:  # never logged in: an account created for someone who never started
            u["created_at"][r] = b.T - int(rng.integers(60, 200)) * DAY
            b.last_login_override[uid] = NULL_TS
            reassign_activities(b, [uid], after=NULL_TS)
        else:
            last = b.T - int(rng.integers(120, 400)) * DAY
            u["created_at"][r] = min(int(u["created_at"][r]), last - 60 * DAY)
            b.last_login_override[uid] = last
            reassign_activities(b, [uid], after=last)
    ids = u["id"][rows]
    b.record("security.dormant-users", ids)
    b.record("usage.login-adoption", ids)
    b.record("usage.inactive-users", ids)


def plant_inactive_users(b: Build) -> None:
    """Users who log in every day but have logged no activity for 90+ days."""
    u = b.frames["users"]
    rows = b.pick("users", _users_per_family(b), _active_humans(b))
    reassign_activities(b, u["id"][rows].tolist(), after=b.T - 120 * DAY)
    b.record("usage.inactive-users", u["id"][rows])


def plant_departed_users_owning_work(b: Build) -> None:
    """Deactivated users who still own open deals and open tasks."""
    u, rng = b.frames["users"], b.defect_rng
    d = b.frames["deals"]
    rows = b.pick("users", _users_per_family(b), _active_humans(b))
    for r in rows:
        uid = int(u["id"][r])
        left = b.T - int(rng.integers(20, 60)) * DAY
        u["is_active"][r] = False
        u["_departed_at"][r] = left
        drop_login_events(b, uid, after=left)
        reassign_activities(b, [uid], after=left)
        deals = b.pick("deals", int(rng.integers(1, 3)), ~d["is_closed"] & (d["created_at"] < left))
        d["owner_id"][deals] = uid
        _open_tasks(b, 1, [left - 5 * DAY], [b.T + int(rng.integers(3, 20)) * DAY], [uid])
    b.record("security.departed-users-owning-work", u["id"][rows])


def plant_users_without_mfa(b: Build) -> None:
    u = b.frames["users"]
    rows = b.pick("users", _users_per_family(b), _active_humans(b))
    u["mfa_enabled"][rows] = False
    b.record("security.users-without-mfa", u["id"][rows])


def plant_failed_login_bursts(b: Build) -> None:
    """6-8 failed logins within 40 minutes (password guessing), then a success."""
    u, rng = b.frames["users"], b.defect_rng
    rows = b.pick("users", _users_per_family(b), _active_humans(b))
    for r in rows:
        uid = int(u["id"][r])
        start = b.T - int(rng.integers(2, 25)) * DAY + 2 * HOUR
        k = int(rng.integers(6, 9))
        at = np.sort(start + rng.integers(0, 40 * 60, size=k))
        ip = f"45.{int(rng.integers(10, 250))}.{int(rng.integers(0, 250))}.{int(rng.integers(2, 250))}"
        add_login_events(b, uid, at, [ip] * k, ["failure"] * k, ["Web"] * k)
        add_login_events(b, uid, [start + 45 * 60], [u["_ip_office"][r]], ["success"], ["Web"])
    b.record("security.failed-login-bursts", u["id"][rows])


def plant_logins_from_many_ips(b: Build) -> None:
    """Successful logins from 6-8 distinct addresses in the last 25 days."""
    u, rng = b.frames["users"], b.defect_rng
    rows = b.pick("users", _users_per_family(b), _active_humans(b))
    for j, r in enumerate(rows):
        uid = int(u["id"][r])
        k = int(rng.integers(6, 9))
        at = b.T - rng.integers(1, 25, size=k) * DAY + rng.integers(HOUR, 10 * HOUR, size=k)
        ips = [f"185.{100 + j}.{i * 17 % 250}.{10 + i}" for i in range(k)]
        add_login_events(b, uid, at, ips, ["success"] * k, ["Web"] * k)
    b.record("security.logins-from-many-ips", u["id"][rows])


def plant_integration_user_with_admin(b: Build) -> None:
    u = b.frames["users"]
    r = np.nonzero(u["role"] == "integration")[0][:1]
    u["is_admin"][r] = True
    b.mark("users", u["id"][r])
    b.record("security.integration-users-with-admin", u["id"][r])


def plant_too_many_admins(b: Build) -> None:
    """Promote users until active admins exceed 18% of active humans (default limit 10%)."""
    u = b.frames["users"]
    humans = _active_humans(b)
    target = int(0.18 * humans.sum()) + 1
    admins = u["is_active"] & u["is_admin"]
    need = target - int(admins.sum())
    if need > 0:
        rows = b.pick("users", need, humans & ~u["is_admin"])
        u["is_admin"][rows] = True
        u["role"][rows] = "admin"
    admins = u["is_active"] & u["is_admin"]
    b.record("security.too-many-admins", u["id"][admins])
    b.notes["security.too-many-admins"] = (
        "all active users with is_admin (humans and integration users) while they exceed 10% of active human users")


# --------------------------------------------------------------------------- integrations


def _integration_row(b: Build, name: str) -> int:
    i = b.frames["integrations"]
    r = int(np.nonzero(i["name"] == name)[0][0])
    b.mark("integrations", [i["id"][r]])
    return r


def _record_columns(b: Build):
    cols = [("contacts", "source_detail"), ("companies", "source_detail")]
    if "source_detail" in TABLES["deals"].column_names:
        cols.append(("deals", "_source_detail"))
    return cols


def plant_stale_sync(b: Build) -> None:
    """Accounting Sync: still 'active' but its last sync is 10-15 days old."""
    i, rng = b.frames["integrations"], b.defect_rng
    name = "Accounting Sync"
    r = _integration_row(b, name)
    last = b.T - int(rng.integers(10, 16)) * DAY - int(rng.integers(0, 6)) * HOUR
    i["last_sync_at"][r] = last
    lo, _ = b.integration_window[name]
    b.integration_window[name] = (lo, last)
    window_lo = b.T - 29 * DAY
    in_window = 0
    for table, col in _record_columns(b):
        fr = b.frames[table]
        mine = fr[col] == name
        late = np.nonzero(mine & (fr["created_at"] > last))[0]
        fr["created_at"][late] = b.ts(rng, window_lo, last - HOUR, len(late))
        in_window += int((mine & (fr["created_at"] > window_lo)).sum())
        fr["updated_at"][late] = np.maximum(fr["updated_at"][late], fr["created_at"][late])
    if in_window == 0:  # it must not look stopped: it still created records until the last sync
        fr = b.frames["companies"]
        rows = np.nonzero(fr["source_detail"] == name)[0]
        if len(rows):
            fr["created_at"][rows[-1]] = last - DAY
            fr["updated_at"][rows[-1]] = max(int(fr["updated_at"][rows[-1]]), last - DAY)
    b.record("integrations.stale-syncs", [i["id"][r]])


def plant_stopped_integration(b: Build) -> None:
    """Typeform: created contacts every week, then nothing for the last 36-45 days."""
    i, rng = b.frames["integrations"], b.defect_rng
    name = "Typeform"
    r = _integration_row(b, name)
    stop = b.T - int(rng.integers(36, 46)) * DAY
    lo, _ = b.integration_window[name]
    b.integration_window[name] = (lo, stop)
    for table, col in _record_columns(b):
        fr = b.frames[table]
        late = np.nonzero((fr[col] == name) & (fr["created_at"] > stop))[0]
        fr["created_at"][late] = b.ts(rng, stop - 70 * DAY, stop, len(late))
        fr["updated_at"][late] = np.maximum(fr["updated_at"][late], fr["created_at"][late])
    con = b.frames["contacts"]
    mine = con["created_at"][con["source_detail"] == name]
    # one at least every three days for the twelve weeks before it stopped, so that any
    # weekly bucketing sees a steady flow
    for w in range(28):
        hi, lo_w = stop - w * 3 * DAY, stop - (w + 1) * 3 * DAY
        if ((mine > lo_w) & (mine <= hi)).any():
            continue
        new = gen_contacts(b, rng, 1, created=np.array([lo_w + DAY + 3 * HOUR]), source=obj(["integration"]),
                           source_detail=obj([name]))
        b.pending["contacts"].append(new)
        b.mark("contacts", new["id"])
    b.record("integrations.stopped-integrations", [i["id"][r]])


def plant_spiking_integration(b: Build) -> None:
    """Zapier: one day with far more than 5x its median daily count (and >= 50 records)."""
    i, rng = b.frames["integrations"], b.defect_rng
    name = "Zapier"
    r = _integration_row(b, name)
    day0 = b.T - 90 * DAY
    daily = np.zeros(90, dtype=np.int64)
    for table, col in _record_columns(b):
        fr = b.frames[table]
        t = fr["created_at"][(fr[col] == name) & (fr["created_at"] >= day0)]
        np.add.at(daily, np.clip((t - day0) // DAY, 0, 89), 1)
    size = max(60, int(6 * np.median(daily)) + 15)
    day = b.T - int(rng.integers(10, 40)) * DAY
    while weekday_of(day) >= 5:
        day -= DAY
    created = day + 2 * HOUR + rng.integers(0, 3 * HOUR, size=size)
    new = gen_contacts(b, rng, size, created=created, source=obj(["integration"] * size),
                       source_detail=obj([name] * size))
    b.frames["contacts"].extend(new)
    b.mark("contacts", new["id"])
    b.record("integrations.spiking-integrations", [i["id"][r]])


def plant_sync_count_mismatch(b: Build) -> None:
    """Mailchimp reports 30% more records than the CRM holds for it."""
    i = b.frames["integrations"]
    r = _integration_row(b, "Mailchimp")
    b.records_reported_skew["Mailchimp"] = 1.3
    b.record("integrations.sync-count-mismatch", [i["id"][r]])


def _active_days(b: Build, name: str) -> set[int]:
    """Days (as day numbers) on which ``name`` created a record."""
    days: set[int] = set()
    for table, col in _record_columns(b):
        fr = b.frames[table]
        days.update((fr["created_at"][fr[col] == name] // DAY).tolist())
    return days


def _fill_flow(b: Build, rng, name: str, table: str, first_day: int, last_day: int, max_gap: int) -> None:
    """Add records of ``name`` to ``table`` so that no two consecutive active days of it between
    ``first_day`` and ``last_day`` (day numbers, ``last_day`` itself counting as active)
    are more than ``max_gap`` days apart."""
    have = _active_days(b, name) | {last_day}
    add, prev = [], None
    for day in range(first_day, last_day + 1):
        if day in have or (prev is not None and day - prev < max_gap):
            prev = day if day in have else prev
            continue
        add.append(day * DAY + 8 * HOUR + int(rng.integers(0, 9 * HOUR)))
        prev = day
    if not add:
        return
    n = len(add)
    created, source, detail = np.array(add, dtype=np.int64), obj(["integration"] * n), obj([name] * n)
    if table == "contacts":
        new = gen_contacts(b, rng, n, created=created, source=source, source_detail=detail)
        b.pending["contacts"].append(new)
    else:
        new = gen_companies(b, rng, n, created=created, source=source, source_detail=detail)
        b.frames["companies"].extend(new)
    b.mark(table, new["id"])


def plant_silent_integrations(b: Build) -> None:
    """Integrations silent for far longer than their usual gap (integrations.silent-integrations:
    factor 3 x the 90th percentile of the gaps between active days in the 60 days before the
    last activity, at least 3 days).

    * LinkedIn Lead Gen created contacts every day for 61 days, then nothing and no sync for
      the last 4-6 days: under stale-syncs' 7 days and stopped-integrations' 30.
    * Accounting Sync (stale for 10-15 days, see :func:`plant_stale_sync`) gets a company at
      least every third day in the 61 days before its last sync (a usual gap of 3 days at
      most, so silent after 9), so it is silent at every size.

    It draws from its own random stream and marks the rows it adds taken, so the other usage
    planters pick what they picked before it was added. (The duplicate planters do not all:
    the copies LinkedIn Lead Gen creates now fall before its silence.)
    """
    i, rng = b.frames["integrations"], np.random.default_rng([b.seed, 3])
    name = "LinkedIn Lead Gen"
    r = _integration_row(b, name)
    quiet = b.T - int(rng.integers(4, 7)) * DAY - int(rng.integers(0, 11)) * HOUR
    i["last_sync_at"][r] = quiet
    lo, _ = b.integration_window[name]
    b.integration_window[name] = (lo, quiet)
    for table, col in _record_columns(b):
        fr = b.frames[table]
        late = np.nonzero((fr[col] == name) & (fr["created_at"] > quiet))[0]
        fr["created_at"][late] = b.ts(rng, quiet - 30 * DAY, quiet - HOUR, len(late))
        fr["updated_at"][late] = np.maximum(fr["updated_at"][late], fr["created_at"][late])
    _fill_flow(b, rng, name, "contacts", quiet // DAY - 61, quiet // DAY, 1)
    accounting = _integration_row(b, "Accounting Sync")
    last = int(i["last_sync_at"][accounting])
    _fill_flow(b, rng, "Accounting Sync", "companies", last // DAY - 61, last // DAY, 3)
    b.record("integrations.silent-integrations", [i["id"][r], i["id"][accounting]])


def plant_campaign_count_sanity(b: Build) -> None:
    c, rng = b.frames["campaigns"], b.defect_rng
    rows = b.pick("campaigns", max(3, len(c) // 15))
    for j, r in enumerate(rows):
        if j % 3 == 0:  # a survey with more responses than people asked
            c["responses"][r] = c["sent"][r] + int(rng.integers(5, 60))
        elif j % 3 == 1:
            c["opened"][r] = c["delivered"][r] + int(rng.integers(10, 120))
        else:
            c["delivered"][r] = c["sent"][r] + int(rng.integers(1, 40))
    b.record("integrations.campaign-count-sanity", c["id"][rows])


# --------------------------------------------------------------------------- open work: tasks


def _open_tasks(b: Build, n: int, created, due, owners) -> Frame:
    con = b.frames["contacts"]
    rows = _free_base_contact(b, n)
    n = len(rows)
    fr = make_activities(b, b.defect_rng, obj(["task"] * n), np.asarray(created)[:n], np.asarray(owners)[:n],
                         con["id"][rows], con["company_id"][rows], np.full(n, NULL_ID, dtype=np.int64))
    fr["is_done"][:] = False
    fr["completed_at"][:] = NULL_TS
    fr["due_at"] = np.asarray(due, dtype=np.int64)[:n]
    add_activities(b, fr)
    b.mark("activities", fr["id"])
    return fr


def _owners(b: Build, n: int) -> np.ndarray:
    pool = b.clean_owner_ids()
    return pool[b.defect_rng.integers(0, len(pool), size=n)]


def plant_overdue_tasks(b: Build) -> None:
    rng = b.defect_rng
    n = b.scaled(200)
    created = b.T - rng.integers(20, 90, size=n) * DAY + 3 * HOUR
    due = np.minimum(created + rng.integers(3, 15, size=n) * DAY, b.T - DAY)
    fr = _open_tasks(b, n, created, due, _owners(b, n))
    b.record("open-work.overdue-tasks", fr["id"])


def plant_tasks_without_due_date(b: Build) -> None:
    rng = b.defect_rng
    n = b.scaled(250)
    created = b.T - rng.integers(1, 20, size=n) * DAY + 3 * HOUR
    fr = _open_tasks(b, n, created, np.full(n, NULL_TS, dtype=np.int64), _owners(b, n))
    b.record("open-work.tasks-without-due-date", fr["id"])


def plant_tasks_without_owner(b: Build) -> None:
    rng = b.defect_rng
    n = b.scaled(250)
    created = b.T - rng.integers(1, 20, size=n) * DAY + 3 * HOUR
    due = b.T + rng.integers(2, 20, size=n) * DAY
    fr = _open_tasks(b, n, created, due, np.full(n, NULL_ID, dtype=np.int64))
    b.record("open-work.tasks-without-owner", fr["id"])


# --------------------------------------------------------------------------- open work: deals


def _open_deals(b: Build) -> np.ndarray:
    d = b.frames["deals"]
    return ~d["is_closed"] & (d["owner_id"] >= 0)


def plant_deals_past_close_date(b: Build) -> None:
    d, rng = b.frames["deals"], b.defect_rng
    rows = b.pick("deals", b.scaled(300), _open_deals(b) & (d["created_at"] < b.T - 70 * DAY))
    d["close_date"][rows] = (b.T - rng.integers(3, 60, size=len(rows)) * DAY) // DAY * DAY
    b.record("open-work.deals-past-close-date", d["id"][rows])


def plant_stalled_deals(b: Build) -> None:
    """Open deals whose last activity is 50+ days old."""
    d, rng = b.frames["deals"], b.defect_rng
    rows = b.pick("deals", b.scaled(300), _open_deals(b) & (d["created_at"] < b.T - 60 * DAY))
    ids = d["id"][rows]
    a = b.frames["activities"]
    b.frames["activities"] = a.take(~(np.isin(a["deal_id"], ids) & (a["created_at"] >= b.T - 50 * DAY)))
    a = b.frames["activities"]
    has = set(a["deal_id"][np.isin(a["deal_id"], ids)].tolist())
    for r in rows:
        if int(d["id"][r]) in has:
            continue
        created = max(int(d["created_at"][r]) + HOUR, b.T - int(rng.integers(50, 60)) * DAY)
        fr = make_activities(b, rng, obj(["call"]), np.array([created]), _owners(b, 1), d["contact_id"][r:r + 1],
                             d["company_id"][r:r + 1], d["id"][r:r + 1])
        add_activities(b, fr)
    d["updated_at"][rows] = np.minimum(d["updated_at"][rows], b.T - 50 * DAY)
    b.record("open-work.stalled-deals", ids)


def plant_lost_deals_without_reason(b: Build) -> None:
    d = b.frames["deals"]
    rows = b.pick("deals", b.scaled(250), d["is_closed"] & ~d["is_won"])
    for j, r in enumerate(rows):
        d["lost_reason"][r] = (None, "", "  ")[j % 3]
    b.record("open-work.lost-deals-without-reason", d["id"][rows])


def plant_deals_without_owner(b: Build) -> None:
    d = b.frames["deals"]
    rows = b.pick("deals", b.scaled(300), _open_deals(b))
    d["owner_id"][rows] = NULL_ID
    b.record("open-work.deals-without-owner", d["id"][rows])


def plant_won_deals_without_activity(b: Build) -> None:
    d = b.frames["deals"]
    rows = b.pick("deals", b.scaled(300), d["is_won"])
    ids = d["id"][rows]
    a = b.frames["activities"]
    b.frames["activities"] = a.take(~np.isin(a["deal_id"], ids))
    b.record("usage.won-deals-without-activity", ids)


def plant_incomplete_deals(b: Build) -> None:
    d = b.frames["deals"]
    st = b.frames["stages"]
    counts = {int(s): int((d["stage"] == s).sum()) for s in st["id"].tolist()}
    crowded = np.array([counts.get(int(s), 0) >= 3 for s in d["stage"].tolist()])
    rows = b.pick("deals", b.scaled(300), _open_deals(b) & crowded)
    for j, r in enumerate(rows):
        kind = j % 3
        if kind == 0:
            d["amount"][r] = np.nan
        elif kind == 1:
            d["close_date"][r] = NULL_TS
        elif counts[int(d["stage"][r])] >= 2:
            counts[int(d["stage"][r])] -= 1
            d["stage"][r] = NULL_ID
        else:
            d["amount"][r] = np.nan
    b.record("data.incomplete-deals", d["id"][rows])


PLANTERS = [
    plant_platform_versions,
    plant_login_adoption,
    plant_dormant_users,
    plant_inactive_users,
    plant_departed_users_owning_work,
    plant_users_without_mfa,
    plant_failed_login_bursts,
    plant_logins_from_many_ips,
    plant_integration_user_with_admin,
    plant_too_many_admins,
    plant_stale_sync,
    plant_stopped_integration,
    plant_spiking_integration,
    plant_sync_count_mismatch,
    plant_silent_integrations,
    plant_campaign_count_sanity,
    plant_overdue_tasks,
    plant_tasks_without_due_date,
    plant_tasks_without_owner,
    plant_deals_past_close_date,
    plant_stalled_deals,
    plant_lost_deals_without_reason,
    plant_deals_without_owner,
    plant_won_deals_without_activity,
    plant_incomplete_deals,
]
