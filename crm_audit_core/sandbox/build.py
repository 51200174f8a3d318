"""The shared state of one tenant build and the editing helpers planters share.

:class:`Build` holds the frames being built, the two random streams (base data and
planting), the ids handed out and the planted ground truth. The helpers below it
(timestamps with a working rhythm; queueing or dropping activities and login events)
are used by base generation (``people``, ``work``) and by the defect planters
(``defects_usage``, ``defects_data``) alike, so both import this module and neither
imports the other.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone

import numpy as np

from . import pools
from .frame import DAY, NULL_ID, Frame, concat, obj
from .manifest import CHECK_IDS
from .vocabulary import PIPELINES

UTC = timezone.utc
HOUR = 3600
FIRST_ID = 1_000_001


# --------------------------------------------------------------------------- shared state


class Build:
    """Mutable state shared by base generation, defect planters and finalisation."""

    def __init__(self, contacts: int, seed: int, defects: bool, name: str, as_of: datetime, shape=None) -> None:
        from .shape import DEFAULT

        self.shape = shape or DEFAULT
        self.country_weights = self.shape.country_weights()
        self.n_contacts = int(contacts)
        self.seed = int(seed)
        self.defects = bool(defects)
        self.name = name
        self.as_of = as_of
        self.T = int(as_of.timestamp())
        self.rng = np.random.default_rng([self.seed, 1])
        self.defect_rng = np.random.default_rng([self.seed, 2])
        self.rng_shape = np.random.default_rng([self.seed, 4])  # draws only a non-default shape makes
        self._next_id = FIRST_ID
        self.frames: dict[str, Frame] = {}
        self.planted: dict[str, set] = {cid: set() for cid in CHECK_IDS}
        self.notes: dict[str, str] = {}
        self.taken: dict[str, set] = defaultdict(set)
        self.duplicates: dict[str, list] = {"contacts": [], "companies": [], "deals": []}
        self.duplicate_sources: dict[str, str] = {}
        self.common_names: list[list[int]] = []
        self.email_used: dict[str, int] = {}
        self.phone_cursor: dict[str, int] = defaultdict(int)
        self.landline_cursor: dict[str, int] = defaultdict(int)
        self.company_cursor: dict[str, int] = defaultdict(int)
        self.integration_window: dict[str, tuple[int, int]] = {}
        self.records_reported_skew: dict[str, float] = {}
        self.last_login_override: dict[int, int] = {}
        self.custom_fields: list[tuple[str, str, str, str, int]] = []
        self.stage_names: dict[str, list[str]] = {p: list(s) for p, s in PIPELINES.items()}
        self.tenant_domain = f"{pools.slug(name) or 'tenant'}.example.com"
        self.import_batches: list[int] = []
        self.guest_id = NULL_ID  # the guest user ``security`` adds
        # rows planters add to the big tables, appended in one copy after each planter
        self.pending: dict[str, list[Frame]] = {"activities": [], "login_events": [], "contacts": []}

    def flush(self) -> None:
        for table, frames in self.pending.items():
            if frames:
                self.frames[table].extend(concat(frames))
                frames.clear()

    # ids are unique across the whole tenant and increase in creation order of the build
    def new_ids(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        return ids

    def scaled(self, per_contacts: int, minimum: int = 3, maximum: int | None = None) -> int:
        k = max(minimum, int(round(self.n_contacts / per_contacts)))
        return min(k, maximum) if maximum else k

    def record(self, check_id: str, ids) -> None:
        if check_id not in self.planted:
            raise KeyError(f"unknown check id {check_id!r}")
        self.planted[check_id].update(ids)

    def mark(self, table: str, ids) -> None:
        self.taken[table].update(int(i) for i in ids)

    def free_mask(self, table: str) -> np.ndarray:
        ids = self.frames[table]["id"]
        if not self.taken[table]:
            return np.ones(len(ids), dtype=bool)
        return ~np.isin(ids, np.fromiter(self.taken[table], dtype=np.int64))

    def pick(self, table: str, n: int, mask: np.ndarray | None = None, rng=None) -> np.ndarray:
        """Row positions of ``n`` random untaken rows matching ``mask``; marks them taken."""
        rng = rng or self.defect_rng
        ok = self.free_mask(table)
        if mask is not None:
            ok &= mask
        rows = np.nonzero(ok)[0]
        if len(rows) == 0 or n <= 0:
            return rows[:0]
        chosen = np.sort(rng.choice(rows, size=min(n, len(rows)), replace=False))
        self.mark(table, self.frames[table]["id"][chosen])
        return chosen

    # users who may own fresh work: active humans carrying no planted defect
    def clean_owner_ids(self) -> np.ndarray:
        u = self.frames["users"]
        mask = u["is_active"] & (u["role"] != "integration") & self.free_mask("users")
        return u["id"][mask]

    def ts(self, rng, lo, hi, n: int) -> np.ndarray:
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.asarray(hi, dtype=np.int64)
        return lo + (rng.random(n) * np.maximum(hi - lo, 0)).astype(np.int64)

    def add_custom_field(self, table: str, name: str, label: str, kind: str, created: int) -> None:
        self.custom_fields.append((table, name, label, kind, created))


# --------------------------------------------------------------------------- time


def weekday_of(ts) -> np.ndarray:
    return ((np.asarray(ts) // DAY) + 3) % 7  # 0 = Monday (1970-01-01 was a Thursday)


def rhythm_times(b: Build, rng, n: int, days: int) -> np.ndarray:
    """Timestamps over the last ``days`` days with a working-day, working-hours rhythm."""
    day0 = b.T - days * DAY
    d = np.arange(days)
    starts = day0 + d * DAY
    wd = weekday_of(starts)
    w = np.where(wd < 5, 1.0, np.where(wd == 5, 0.12, 0.06)) * (0.7 + 0.6 * d / days)
    chosen = rng.choice(days, size=n, p=w / w.sum())
    # 01:00-11:00 UTC = 08:00-18:00 in Jakarta, 10:00-20:00 in Seoul
    return day0 + chosen * DAY + HOUR + (rng.random(n) * 10 * HOUR).astype(np.int64)


def working_hours(b: Build, rng, ts: np.ndarray, not_before: np.ndarray) -> np.ndarray:
    """Move timestamps to working hours on working days (most of them), keeping order
    with ``not_before`` and staying before as_of."""
    day = ts // DAY * DAY
    wd = weekday_of(day)
    shift = np.where(wd == 5, -1, np.where(wd == 6, -2, 0)) * (rng.random(len(ts)) < 0.92)
    out = day + shift * DAY + HOUR + (rng.random(len(ts)) * 10 * HOUR).astype(np.int64)
    out = np.where(out < not_before, ts, out)
    return np.minimum(out, b.T - 60)


# --------------------------------------------------------------------------- editing helpers for planters


def add_login_events(b: Build, user_id: int, at, ip, status, application) -> None:
    n = len(at)
    b.pending["login_events"].append(Frame({
        "id": np.full(n, NULL_ID, dtype=np.int64),
        "user_id": np.full(n, user_id, dtype=np.int64),
        "at": np.asarray(at, dtype=np.int64),
        "ip": obj(list(ip)),
        "status": obj(list(status)),
        "application": obj(list(application)),
    }))


def drop_login_events(b: Build, user_id: int, after: int | None = None) -> None:
    b.flush()
    ev = b.frames["login_events"]
    kill = ev["user_id"] == user_id
    if after is not None:
        kill &= ev["at"] > after
    b.frames["login_events"] = ev.take(~kill)


def add_activities(b: Build, fr: Frame) -> None:
    """Queue planted activities; they join the table after the planter (Build.flush)."""
    b.pending["activities"].append(fr)


def reassign_activities(b: Build, user_ids, after: int) -> None:
    """Give activities that ``user_ids`` created after ``after`` to clean colleagues."""
    a = b.frames["activities"]
    m = np.isin(a["owner_id"], np.asarray(list(user_ids), dtype=np.int64)) & (a["created_at"] > after)
    if m.any():
        pool = b.clean_owner_ids()
        a["owner_id"][m] = pool[b.defect_rng.integers(0, len(pool), size=int(m.sum()))]
