"""Base generation of the sales work: pipeline stages, deals and activities.

Deals hang on contacts and companies (``people``); activities follow deals from creation
to close and contacts over two years with a working-day rhythm, so that clean data is
far from every open-work and usage threshold. ``make_activities`` is also how planters
build the activities they add.
"""

from __future__ import annotations

import numpy as np

from . import pools
from .build import HOUR, Build, rhythm_times, working_hours
from .frame import DAY, NULL_ID, NULL_TS, Frame, nones, obj
from .integrations import integration_detail
from .vocabulary import ACTIVITY_TYPES_ORDER, CURRENCY_RANGE, LOST_REASONS, PIPELINES, PRODUCTS, SUBJECTS


# --------------------------------------------------------------------------- deals & stages


def gen_stages(b: Build) -> None:
    pipe, name, pos, closed, won = [], [], [], [], []
    for p, stages in PIPELINES.items():
        for i, s in enumerate(stages):
            pipe.append(p)
            name.append(s)
            pos.append(i + 1)
            closed.append(s.startswith("Closed"))
            won.append(s == "Closed Won")
    b.frames["stages"] = Frame({
        "id": b.new_ids(len(name)),
        "pipeline": obj(pipe),
        "name": obj(name),
        "position": np.array(pos, dtype=np.int64),
        "is_closed": np.array(closed),
        "is_won": np.array(won),
    })


def stage_id(b: Build, pipeline: str, name: str) -> int:
    st = b.frames["stages"]
    m = (st["pipeline"] == pipeline) & (st["name"] == name)
    return int(st["id"][np.nonzero(m)[0][0]])


def deal_amounts(rng, currencies: np.ndarray) -> np.ndarray:
    out = np.zeros(len(currencies))
    for cur, (median, rnd) in CURRENCY_RANGE.items():
        m = currencies == cur
        if m.any():
            v = median * rng.lognormal(0, 0.8, size=int(m.sum()))
            out[m] = np.maximum(np.round(v / rnd), 1) * rnd
    return out


def gen_deals(b: Build) -> None:
    rng = b.rng
    n = max(40, int(round(0.3 * b.n_contacts)))
    con = b.frames["contacts"]
    comp = b.frames["companies"]
    crow = rng.integers(0, b.n_base_contacts, size=n)
    comp_rows = con["_company_row"][crow]
    country = comp["country"][comp_rows]
    created = b.T - rng.integers(DAY, 760 * DAY, size=n)
    age = (b.T - created) / DAY
    closed = (age > 120) | ((age > 14) & (rng.random(n) < 0.25))
    won = closed & (rng.random(n) < 0.4)
    # enough long-open deals for small tenants (open-work planters need some to pick from)
    need = 24 - int((~closed & (created < b.T - 70 * DAY)).sum())
    if need > 0:
        conv = rng.choice(np.nonzero(closed)[0], size=min(need, int(closed.sum()) - 10), replace=False)
        closed[conv] = False
        won[conv] = False
        created[conv] = b.T - rng.integers(75, 300, size=len(conv)) * DAY
        age = (b.T - created) / DAY
    pipeline = np.where(rng.random(n) < 0.7, "Sales Pipeline", "Partnerships").astype(object)
    stage = np.zeros(n, dtype=np.int64)
    for p, stages in PIPELINES.items():
        opens = [stage_id(b, p, s) for s in stages if not s.startswith("Closed")]
        m = pipeline == p
        o = m & ~closed
        stage[o] = np.array(opens)[rng.integers(0, len(opens), size=int(o.sum()))]
        stage[m & won] = stage_id(b, p, "Closed Won")
        stage[m & closed & ~won] = stage_id(b, p, "Closed Lost")
    cycle = (rng.random(n) * np.minimum(np.maximum(age - 1, 1), 120) * DAY).astype(np.int64) + 3 * DAY
    close_date = np.where(closed, np.minimum(created + cycle, b.T - DAY), b.T + rng.integers(7, 180, size=n) * DAY)
    close_date = (close_date // DAY) * DAY  # close dates are dates
    close_date = np.where(closed, np.minimum(close_date, b.T - DAY), close_date)
    currency = obj([pools.BY_CODE[c].currency for c in country.tolist()])
    usd = rng.random(n) < 0.15
    currency[usd] = "USD"
    lost = closed & ~won
    reason = nones(n)
    reason[lost] = rng.choice(np.array(LOST_REASONS, dtype=object), size=int(lost.sum()))
    owners = con["owner_id"][crow].copy()
    cl = b.clean_owner_ids()
    other = rng.random(n) < 0.2
    owners[other] = cl[rng.integers(0, len(cl), size=int(other.sum()))]
    # one product per deal and company, so clean deal names never repeat within a company
    order = np.argsort(comp_rows, kind="stable")
    rank = np.zeros(n, dtype=np.int64)
    sorted_c = comp_rows[order]
    starts = np.r_[0, np.nonzero(np.diff(sorted_c))[0] + 1]
    run = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    rank[order] = run
    prod = (comp_rows * 7 + rank) % len(PRODUCTS)
    names = obj([f"{comp['_bare'][c]} - {PRODUCTS[p]}" + (f" #{r // len(PRODUCTS) + 1}" if r >= len(PRODUCTS) else "")
                 for c, p, r in zip(comp_rows.tolist(), prod.tolist(), rank.tolist())])
    source = rng.choice(np.array(["ui", "import", "api", "integration"], dtype=object), size=n, p=[0.6, 0.1, 0.1, 0.2])
    detail = nones(n)
    integ = source == "integration"
    detail[integ] = integration_detail(b, rng, int(integ.sum()), 5)
    for name, (lo, hi) in b.integration_window.items():
        m = detail == name
        created[m] = np.clip(created[m], lo, hi)
    updated = np.where(closed, np.minimum(close_date + rng.integers(0, 2 * DAY, size=n), b.T - 60),
                       b.T - rng.integers(60, 10 * DAY, size=n))
    updated = np.maximum(updated, created)
    b.frames["deals"] = Frame({
        "id": b.new_ids(n),
        "name": names,
        "amount": deal_amounts(rng, currency),
        "currency": currency,
        "pipeline": pipeline,
        "stage": stage,
        "is_closed": closed,
        "is_won": won,
        "close_date": close_date.astype(np.int64),
        "lost_reason": reason,
        "owner_id": owners,
        "company_id": comp["id"][comp_rows],
        "contact_id": con["id"][crow],
        "source": source,
        "created_at": created.astype(np.int64),
        "updated_at": updated.astype(np.int64),
        "last_activity_at": np.full(n, NULL_TS, dtype=np.int64),
        "_source_detail": detail,
        "deal_type": np.where(rng.random(n) < 0.9, rng.choice(np.array(["New Business", "Renewal", "Upsell"], dtype=object), size=n), None),
        "forecast_category": np.where(rng.random(n) < 0.6, rng.choice(np.array(["Pipeline", "Best Case", "Commit"], dtype=object), size=n), None),
    })
    _use_every_stage(b, rng)


def _use_every_stage(b: Build, rng) -> None:
    d = b.frames["deals"]
    st = b.frames["stages"]
    for sid, p, closed, won in zip(st["id"].tolist(), st["pipeline"].tolist(), st["is_closed"].tolist(), st["is_won"].tolist()):
        if (d["stage"] == sid).any():
            continue
        counts = {s: int((d["stage"] == s).sum()) for s in st["id"].tolist()}
        ok = (d["is_closed"] == closed) & (d["is_won"] == won) & np.array([counts[s] >= 2 for s in d["stage"].tolist()])
        rows = np.nonzero(ok)[0]
        if not len(rows):
            continue
        r = rows[rng.integers(0, len(rows))]
        d["stage"][r] = sid
        d["pipeline"][r] = p


# --------------------------------------------------------------------------- activities


def make_activities(b: Build, rng, types, created, owner, contact, company, deal) -> Frame:
    """Activities with consistent task/meeting state for the given creation times."""
    n = len(types)
    types = np.asarray(types, dtype=object)
    created = np.asarray(created, dtype=np.int64)
    due = np.full(n, NULL_TS, dtype=np.int64)
    done = np.ones(n, dtype=bool)
    completed = created.copy()
    task = types == "task"
    recent = created >= b.T - 14 * DAY
    open_task = task & recent & (rng.random(n) < 0.5)
    due[open_task] = b.T + rng.integers(1, 30, size=int(open_task.sum())) * DAY + 9 * HOUR
    done[open_task] = False
    completed[open_task] = NULL_TS
    done_task = task & ~open_task
    due[done_task] = created[done_task] + rng.integers(HOUR, 5 * DAY, size=int(done_task.sum()))
    completed[done_task] = np.minimum(created[done_task] + rng.integers(60, 3 * DAY, size=int(done_task.sum())), b.T - 60)
    meeting = types == "meeting"
    due[meeting] = created[meeting] + rng.integers(DAY, 10 * DAY, size=int(meeting.sum()))
    future = meeting & (due >= b.T)
    done[future] = False
    completed[future] = NULL_TS
    completed[meeting & ~future] = due[meeting & ~future]
    subj = nones(n)
    for t, pool in SUBJECTS.items():
        m = types == t
        if m.any():
            subj[m] = np.array(pool, dtype=object)[rng.integers(0, len(pool), size=int(m.sum()))]
    return Frame({
        "id": b.new_ids(n),
        "type": types,
        "subject": subj,
        "owner_id": np.asarray(owner, dtype=np.int64),
        "contact_id": np.asarray(contact, dtype=np.int64),
        "company_id": np.asarray(company, dtype=np.int64),
        "deal_id": np.asarray(deal, dtype=np.int64),
        "due_at": due,
        "is_done": done,
        "completed_at": completed,
        "created_at": created,
    })


def gen_activities(b: Build) -> None:
    rng = b.rng
    d = b.frames["deals"]
    con = b.frames["contacts"]
    types_arr = np.array(ACTIVITY_TYPES_ORDER, dtype=object)
    # activity on deals, between creation and close (or now)
    per = 1 + rng.poisson(1.8, size=len(d))
    drow = np.repeat(np.arange(len(d)), per)
    end = np.where(d["is_closed"], np.minimum(d["close_date"], b.T - 60), b.T - 60)
    lo = d["created_at"][drow]
    t1 = lo + (rng.random(len(drow)) * np.maximum(end[drow] - lo, 60)).astype(np.int64)
    # every open deal was touched in the last 10 days
    open_rows = np.nonzero(~d["is_closed"])[0]
    t2 = np.maximum(b.T - (rng.random(len(open_rows)) * 9.5 * DAY).astype(np.int64) - 12 * HOUR,
                    d["created_at"][open_rows] + 60)
    t2 = np.minimum(t2, b.T - 60)
    drows = np.concatenate([drow, open_rows])
    dt = working_hours(b, rng, np.concatenate([t1, t2]), d["created_at"][drows])
    dtypes = rng.choice(types_arr, size=len(drows), p=[0.28, 0.3, 0.17, 0.03, 0.1, 0.12])
    acts = make_activities(b, rng, dtypes, dt, d["owner_id"][drows], d["contact_id"][drows],
                           d["company_id"][drows], d["id"][drows])
    # activity on contacts over two years with a working-day rhythm
    n_c = max(2 * b.n_contacts - len(acts), b.n_contacts // 2)
    crow = rng.integers(0, b.n_base_contacts, size=n_c)
    ct = rhythm_times(b, rng, n_c, 730)
    ccreated = con["created_at"][crow]
    late = ct < ccreated
    ct[late] = b.ts(rng, ccreated[late], b.T - 60, int(late.sum()))
    ctypes = rng.choice(types_arr, size=n_c, p=[0.22, 0.32, 0.08, 0.08, 0.15, 0.15])
    acts.extend(make_activities(b, rng, ctypes, ct, con["owner_id"][crow], con["id"][crow],
                                con["company_id"][crow], np.full(n_c, NULL_ID, dtype=np.int64)))
    # every active salesperson logged something in the last week
    owners = b.clean_owner_ids()
    k = len(owners)
    recent_days = rng.integers(1, 6, size=k)
    ut = b.T - recent_days * DAY + HOUR + rng.integers(0, 9 * HOUR, size=k)
    urow = rng.integers(0, b.n_base_contacts, size=k)
    acts.extend(make_activities(b, rng, rng.choice(np.array(["call", "email", "meeting"], dtype=object), size=k), ut,
                                owners, con["id"][urow], con["company_id"][urow], np.full(k, NULL_ID, dtype=np.int64)))
    # ids follow creation time, as in a real CRM
    order = np.argsort(acts["created_at"], kind="stable")
    acts = acts.take(order)
    acts["id"] = np.sort(acts["id"])
    b.frames["activities"] = acts
