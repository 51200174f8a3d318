"""Base generation of a synthetic CRM tenant, and the public :func:`generate_tenant`.

The build runs in three phases on a :class:`Build` (the shared state):

1. base data: clean, far from every default threshold of the standard checks;
2. defect planting: the functions registered in ``defects_usage.PLANTERS`` and
   ``defects_data.PLANTERS`` (one small function per defect family), which edit the
   frames and record the planted ids;
3. finalisation: derived columns (last activity, last login, integration counts),
   pyarrow tables and the manifest.

Everything is a deterministic function of (contacts, seed, defects, name, as_of): the
base draws from one random stream and planting from another, so a clean tenant and a
tenant with defects share the same base.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..model import TABLES
from . import pools
from .frame import DAY, NULL_ID, NULL_TS, Frame, concat, nones, obj, to_arrow_column
from .manifest import CHECK_IDS, DEFECT_OBJECTS

UTC = timezone.utc
HOUR = 3600
FIRST_ID = 1_000_001

# name, kind, created (days before as_of), share of integration-sourced contacts/companies/deals
INTEGRATIONS = (
    ("Mailchimp", "marketing", 1100, 0.35, 0.0, 0.0),
    ("Zapier", "automation", 900, 0.20, 0.4, 0.5),
    ("Typeform", "forms", 700, 0.20, 0.0, 0.0),
    ("LinkedIn Lead Gen", "lead-sync", 520, 0.25, 0.0, 0.0),
    ("Accounting Sync", "accounting", 1300, 0.0, 0.6, 0.5),
    ("Outlook Calendar Sync", "calendar", 420, 0.0, 0.0, 0.0),
)
INTEGRATION_USERS = (("Zapier Integration", "zapier"), ("Accounting Sync API", "accounting-sync"))

LIFECYCLE_STAGES = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer", "evangelist")
LIFECYCLE_WEIGHTS = (0.12, 0.28, 0.15, 0.12, 0.1, 0.2, 0.03)
LEAD_STATUSES = ("New", "Open", "In Progress", "Attempted to Contact", "Connected", "Qualified", "Unqualified")
LEAD_WEIGHTS = (0.15, 0.2, 0.2, 0.15, 0.1, 0.12, 0.08)
SEGMENTS = (
    "Newsletter", "Customers", "Enterprise", "SMB", "Jakarta Expo 2025", "Seoul Tech Summit",
    "Webinar Attendees", "Partners", "VIP", "Indonesia Market", "Korea Market", "APAC Prospects",
)
PIPELINES = {
    "Sales Pipeline": ("Qualification", "Needs Analysis", "Proposal Sent", "Negotiation", "Closed Won", "Closed Lost"),
    "Partnerships": ("Discovery", "Contract Review", "Closed Won", "Closed Lost"),
}
PRODUCTS = (
    "CRM Licenses", "Annual Subscription", "Implementation", "Support Renewal", "Training Package",
    "Hardware Bundle", "Consulting Retainer", "Data Migration", "Premium Upgrade", "Pilot Project",
    "Multi-year Renewal", "Integration Add-on",
)
LOST_REASONS = (
    "Price too high", "Chose a competitor", "No budget", "Bad timing", "No decision",
    "Harga terlalu mahal", "Memilih kompetitor", "경쟁사 선택", "예산 부족",
)
SUBJECTS = {
    "call": ("Follow-up call", "Discovery call", "Panggilan tindak lanjut", "후속 통화", "Pricing call"),
    "email": ("Sent proposal", "Re: quotation", "Kirim penawaran harga", "제안서 발송", "Intro email"),
    "meeting": ("Product demo", "Quarterly review", "Rapat demo produk", "미팅: 제품 데모", "Contract meeting"),
    "sms": ("SMS reminder", "WhatsApp follow-up", "문자 안내", "Konfirmasi jadwal"),
    "note": ("Note: budget confirmed", "Catatan kunjungan", "메모: 담당자 변경", "Note: decision in Q3"),
    "task": ("Prepare contract", "Send invoice", "Siapkan penawaran", "견적서 준비", "Call back next week"),
}
ACTIVITY_TYPES_ORDER = ("call", "email", "meeting", "sms", "note", "task")
CURRENCY_RANGE = {  # median, rounding
    "IDR": (250_000_000, 1_000_000), "KRW": (30_000_000, 100_000), "USD": (18_000, 100),
    "GBP": (14_000, 100), "AUD": (25_000, 100), "SGD": (24_000, 100), "EUR": (16_000, 100),
}
STANDARD_FIELD_TYPES = {"str": "string", "int": "number", "float": "number", "bool": "boolean",
                        "timestamp": "datetime", "list": "enumeration", "json": "json"}


# --------------------------------------------------------------------------- the result


@dataclass
class GeneratedTenant:
    """A generated tenant: canonical pyarrow tables plus the ground-truth manifest."""

    name: str
    seed: int
    as_of: datetime
    tables: dict[str, pa.Table]
    manifest: dict = field(default_factory=dict)

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Rows of one table as python values (UTC-aware datetimes, bools, floats, lists).

        Custom fields are plain keys next to the canonical columns; ``fields`` (is_custom)
        says which they are (see :meth:`custom_fields`).
        """
        return self.tables[table].to_pylist()

    def custom_fields(self, table: str) -> list[str]:
        """Names of the custom-field columns of ``table`` (declared in ``fields``)."""
        canonical = set(TABLES[table].column_names)
        return [c for c in self.tables[table].column_names if c not in canonical]

    def write(self, out_dir: str | os.PathLike) -> str:
        """Write ``<table>.csv`` per table and ``manifest.json`` (a files-connector folder)."""
        os.makedirs(out_dir, exist_ok=True)
        for name, tbl in self.tables.items():
            pacsv.write_csv(_csv_ready(tbl), os.path.join(out_dir, f"{name}.csv"))
        with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as fh:
            json.dump(self.manifest, fh, ensure_ascii=False, indent=1)
        return str(out_dir)


def _csv_ready(tbl: pa.Table) -> pa.Table:
    cols = []
    for col in tbl.columns:
        t = col.type
        if pa.types.is_timestamp(t):
            col = pc.strftime(col.cast(pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
        elif pa.types.is_list(t):
            col = pc.binary_join(col, ";")
        cols.append(col)
    return pa.table(cols, names=tbl.column_names)


# --------------------------------------------------------------------------- shared state


class Build:
    """Mutable state shared by base generation, defect planters and finalisation."""

    def __init__(self, contacts: int, seed: int, defects: bool, name: str, as_of: datetime) -> None:
        self.n_contacts = int(contacts)
        self.seed = int(seed)
        self.defects = bool(defects)
        self.name = name
        self.as_of = as_of
        self.T = int(as_of.timestamp())
        self.rng = np.random.default_rng([self.seed, 1])
        self.defect_rng = np.random.default_rng([self.seed, 2])
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


# --------------------------------------------------------------------------- helpers


def _folded(pool) -> np.ndarray:
    return obj([pools.ascii_fold(s).lower().replace(" ", "") for s in pool])


_POOLS: dict[str, tuple] = {}


def _pool(culture: str):
    if not _POOLS:
        _POOLS["ID"] = (obj(pools.ID_FIRST), obj(pools.ID_LAST), _folded(pools.ID_FIRST), _folded(pools.ID_LAST))
        _POOLS["KR"] = (obj([h for h, _ in pools.KR_FIRST]), obj([h for h, _ in pools.KR_LAST]),
                        obj([r for _, r in pools.KR_FIRST]), obj([r for _, r in pools.KR_LAST]))
        _POOLS["EN"] = (obj(pools.EN_FIRST), obj(pools.EN_LAST), _folded(pools.EN_FIRST), _folded(pools.EN_LAST))
        _POOLS["DE"] = (obj(pools.DE_FIRST), obj(pools.DE_LAST), _folded(pools.DE_FIRST), _folded(pools.DE_LAST))
    return _POOLS[culture]


def person_names(rng, countries: np.ndarray):
    """first, last (display), and their ASCII forms for e-mail local parts."""
    n = len(countries)
    first, last, efirst, elast = nones(n), nones(n), nones(n), nones(n)
    for code in pools.COUNTRY_CODES:
        idx = np.nonzero(countries == code)[0]
        m = len(idx)
        if not m:
            continue
        culture = pools.BY_CODE[code].culture
        if culture == "DE":  # many people in German companies carry English names too
            culture_of = np.where(rng.random(m) < 0.7, "DE", "EN")
        else:
            culture_of = np.full(m, culture)
        for cult in ("ID", "KR", "EN", "DE"):
            sub = idx[culture_of == cult]
            k = len(sub)
            if not k:
                continue
            pf, pl, ef, el = _pool(cult)
            f = rng.integers(len(pf), size=k)
            lidx = rng.integers(len(pl), size=k)
            fa, la, efa, ela = pf[f], pl[lidx], ef[f], el[lidx]
            if cult == "KR":
                roman = rng.random(k) < 0.15  # some Korean contacts are written in Latin script
                fa = fa.copy()
                la = la.copy()
                fa[roman] = [s.capitalize() for s in efa[roman]]
                la[roman] = [s.capitalize() for s in ela[roman]]
            if cult == "ID":
                mono = rng.random(k) < 0.03  # mononymous Indonesians
                la = la.copy()
                ela = ela.copy()
                la[mono] = None
                ela[mono] = None
            first[sub], last[sub], efirst[sub], elast[sub] = fa, la, efa, ela
    return first, last, efirst, elast


def full_name(first, last) -> str:
    if last is None:
        return first or ""
    if first and _is_hangul(first):
        return f"{last}{first}"
    return f"{first} {last}"


def _is_hangul(s: str) -> bool:
    return bool(s) and "\uac00" <= s[0] <= "\ud7a3"


def email_locals(rng, efirst, elast) -> list[str]:
    style = rng.integers(0, 4, size=len(efirst))
    out = []
    for f, l, s in zip(efirst.tolist(), elast.tolist(), style.tolist()):
        if not l:
            out.append(f)
        elif s == 0 or s == 3:
            out.append(f"{f}.{l}")
        elif s == 1:
            out.append(f"{f}{l}")
        else:
            out.append(f"{f[0]}{l}")
    return out


def email_key(email: str) -> str:
    """The form under which two addresses reach the same mailbox: case, ``+tag`` and
    (for Gmail) dots in the local part do not count."""
    local, _, domain = email.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
    return f"{local}@{domain}"


def unique_emails(b: Build, locals_, domains) -> list[str]:
    """Addresses that stay distinct under :func:`email_key` (numbered when taken)."""
    used = b.email_used
    out = []
    for loc, dom in zip(locals_, domains):
        e = f"{loc}@{dom}"
        key = email_key(e)
        k = used.get(key)
        if k is None:
            used[key] = 1
            out.append(e)
            continue
        while True:
            k += 1
            e2 = f"{loc}{k}@{dom}"
            key2 = email_key(e2)
            if key2 not in used:
                break
        used[key] = k
        used[key2] = 1
        out.append(e2)
    return out


def mobile_phones(b: Build, rng, countries: np.ndarray):
    """Unique valid mobile numbers (strings) plus their digits and prefix choice."""
    n = len(countries)
    phones = nones(n)
    nums = np.zeros(n, dtype=np.int64)
    choice = rng.integers(0, 1000, size=n)
    national = rng.random(n) < 0.15
    spaces = pools.MOBILE_SPACE
    for code in pools.COUNTRY_CODES:
        idx = np.nonzero(countries == code)[0]
        if not len(idx):
            continue
        start = b.phone_cursor[code]
        b.phone_cursor[code] += len(idx)
        v = pools.permute(np.arange(start, start + len(idx)), spaces[code], salt=b.seed * 7919 + 13)
        nums[idx] = v
        phones[idx] = pools.format_mobiles(code, v, choice[idx], national[idx])
    return phones, nums, choice


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


# --------------------------------------------------------------------------- users & logins


def gen_users(b: Build) -> None:
    rng = b.rng
    n = max(24, min(max(b.n_contacts // 400, 8), 2500))
    n_h = n - len(INTEGRATION_USERS)
    countries = rng.choice(pools.COUNTRY_CODES, size=n_h, p=pools.COUNTRY_WEIGHTS)
    first, last, ef, el = person_names(rng, countries)
    names = [full_name(f, l) for f, l in zip(first, last)]
    locals_ = [f"{f}.{l}" if l else f for f, l in zip(ef, el)]
    emails = unique_emails(b, locals_, [b.tenant_domain] * n_h)
    role = rng.choice(np.array(["sales_rep", "sales_manager", "marketing", "customer_success"], dtype=object),
                      size=n_h, p=[0.6, 0.15, 0.15, 0.1])
    is_active = np.ones(n_h, dtype=bool)
    n_departed = max(1, int(round(0.05 * n_h)))
    departed = rng.choice(n_h, size=n_departed, replace=False)
    is_active[departed] = False
    departed_at = np.full(n_h, NULL_TS, dtype=np.int64)
    departed_at[departed] = b.T - rng.integers(120, 700, size=n_departed) * DAY
    created = b.T - rng.integers(200, 1800, size=n_h) * DAY - rng.integers(0, DAY, size=n_h)
    created = np.where(departed_at != NULL_TS, np.minimum(created, departed_at - 90 * DAY), created)
    is_admin = np.zeros(n_h, dtype=bool)
    active_rows = np.nonzero(is_active)[0]
    n_admin = max(1, int(round(0.04 * len(active_rows))))
    admins = rng.choice(active_rows, size=n_admin, replace=False)
    is_admin[admins] = True
    role[admins] = "admin"
    # integration / API users
    int_names = [u for u, _ in INTEGRATION_USERS]
    int_emails = [f"{s}@integrations.{b.tenant_domain}" for _, s in INTEGRATION_USERS]
    k = len(INTEGRATION_USERS)
    users = Frame({
        "id": b.new_ids(n),
        "name": obj(names + int_names),
        "email": obj(emails + int_emails),
        "role": np.concatenate([role, obj(["integration"] * k)]),
        "is_active": np.concatenate([is_active, np.ones(k, dtype=bool)]),
        "is_admin": np.concatenate([is_admin, np.zeros(k, dtype=bool)]),
        "last_login_at": np.full(n, NULL_TS, dtype=np.int64),
        "created_at": np.concatenate([created, b.T - rng.integers(400, 900, size=k) * DAY]),
        "mfa_enabled": np.ones(n, dtype=bool),
        "_departed_at": np.concatenate([departed_at, np.full(k, NULL_TS, dtype=np.int64)]),
        "_ip_home": obj([f"{36 + i % 150}.{(i * 37) % 250 + 2}.{(i * 91) % 250 + 2}.{(i * 13) % 250 + 2}" for i in range(n)]),
        "_ip_mobile": obj([f"{110 + i % 60}.{(i * 53) % 250 + 2}.{(i * 29) % 250 + 2}.{(i * 7) % 250 + 2}" for i in range(n)]),
        "_ip_office": obj([f"103.28.{i % 4 + 10}.{i % 4 * 16 + 5}" for i in range(n)]),
    })
    for d in departed:
        b.last_login_override[int(users["id"][d])] = int(departed_at[d] - rng.integers(1, 48) * HOUR)
    b.frames["users"] = users


def gen_login_events(b: Build) -> None:
    """~90 days of login history: working-day logins, the odd failure, daily API logins."""
    rng = b.rng
    u = b.frames["users"]
    days = 90
    starts = b.T - np.arange(1, days + 1) * DAY  # day starts, most recent first
    wd = weekday_of(starts)
    human = np.nonzero(u["is_active"] & (u["role"] != "integration"))[0]
    prob = np.where(wd < 5, 0.85, 0.08)
    login = rng.random((len(human), days)) < prob
    login[:, int(np.nonzero(wd < 5)[0][0])] = True  # everyone logged in on the last working day
    hu, dd = np.nonzero(login)
    rows = human[hu]
    at = starts[dd] + HOUR // 2 + (rng.random(len(rows)) * 9 * HOUR).astype(np.int64)
    home = rng.random(len(rows)) < 0.15
    ip = np.where(home, u["_ip_home"][rows], u["_ip_office"][rows])
    app = np.full(len(rows), "Web", dtype=object)
    # a second, mobile login later that day for some
    mob = rng.random(len(rows)) < 0.35
    m_rows, m_at = rows[mob], at[mob] + (1 + rng.random(mob.sum()) * 6).astype(np.int64) * HOUR
    # an occasional mistyped password just before a successful login
    fail = rng.random(len(rows)) < 0.03
    f_rows, f_at, f_ip = rows[fail], at[fail] - rng.integers(20, 120, size=fail.sum()), ip[fail]
    ints = np.nonzero(u["role"] == "integration")[0]
    i_rows = np.repeat(ints, days)
    i_at = np.tile(starts, len(ints)) + 300 + rng.integers(0, 600, size=len(i_rows))
    i_ip = obj([f"34.120.{r % 200}.{40 + r % 50}" for r in i_rows.tolist()])
    user_rows = np.concatenate([rows, m_rows, f_rows, i_rows])
    b.frames["login_events"] = Frame({
        "id": np.full(len(user_rows), NULL_ID, dtype=np.int64),  # ids are given at the end
        "user_id": u["id"][user_rows],
        "at": np.concatenate([at, m_at, f_at, i_at]),
        "ip": np.concatenate([ip, u["_ip_mobile"][m_rows], f_ip, i_ip]),
        "status": obj(["success"] * (len(rows) + len(m_rows)) + ["failure"] * len(f_rows) + ["success"] * len(i_rows)),
        "application": np.concatenate([app, obj(["Mobile App"] * len(m_rows)), obj(["Web"] * len(f_rows)),
                                       obj(["API"] * len(i_rows))]),
    })


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


# --------------------------------------------------------------------------- integrations


def gen_integrations(b: Build) -> None:
    rng = b.rng
    n = len(INTEGRATIONS)
    created = np.array([b.T - days * DAY - int(rng.integers(0, DAY)) for _, _, days, *_ in INTEGRATIONS], dtype=np.int64)
    b.frames["integrations"] = Frame({
        "id": b.new_ids(n),
        "name": obj([i[0] for i in INTEGRATIONS]),
        "kind": obj([i[1] for i in INTEGRATIONS]),
        "status": obj(["active"] * n),
        "last_sync_at": b.T - rng.integers(120, 3600, size=n),
        "created_at": created,
        "records_reported": np.full(n, np.nan),
    })
    for (name, *_), c in zip(INTEGRATIONS, created):
        b.integration_window[name] = (int(c), b.T - 600)


def integration_detail(b: Build, rng, n: int, share_index: int):
    """Integration names for integration-sourced records (by each integration's share)."""
    names = [i[0] for i in INTEGRATIONS if i[share_index] > 0]
    w = np.array([i[share_index] for i in INTEGRATIONS if i[share_index] > 0])
    return rng.choice(np.array(names, dtype=object), size=n, p=w / w.sum())


def sourced_created(b: Build, rng, source, detail, default_lo: int) -> np.ndarray:
    """created_at for records given their source: integrations stay within their window,
    imports come in batches, the rest spread evenly."""
    n = len(source)
    created = b.ts(rng, default_lo, b.T - 600, n)
    for name, (lo, hi) in b.integration_window.items():
        m = detail == name
        if m.any():
            created[m] = b.ts(rng, lo, hi, int(m.sum()))
    imp = np.nonzero(source == "import")[0]
    if len(imp):
        if not b.import_batches:
            k = max(3, b.n_contacts // 2000)
            b.import_batches = sorted((b.T - rng.integers(20, 1400, size=k) * DAY).tolist())
        pick = rng.integers(0, len(b.import_batches), size=len(imp))
        created[imp] = np.array(b.import_batches, dtype=np.int64)[pick] + 2 * HOUR + rng.integers(0, 600, size=len(imp))
        detail[imp] = [f"CSV import {datetime.fromtimestamp(b.import_batches[p], UTC):%Y-%m-%d}" for p in pick.tolist()]
    return created


# --------------------------------------------------------------------------- companies


def gen_companies(b: Build, rng, n: int, *, countries=None, created=None, updated=None,
                  source=None, source_detail=None) -> Frame:
    if countries is None:
        countries = rng.choice(np.array(pools.COUNTRY_CODES, dtype=object), size=n, p=pools.COUNTRY_WEIGHTS)
    countries = np.asarray(countries, dtype=object)
    bare, slugs, names = nones(n), nones(n), nones(n)
    forms = nones(n)
    for code in pools.COUNTRY_CODES:
        idx = np.nonzero(countries == code)[0]
        if not len(idx):
            continue
        c = pools.BY_CODE[code]
        culture = "EN" if c.culture in ("EN", "DE") else c.culture
        cap = pools.company_capacity(culture)
        start = b.company_cursor[culture]
        b.company_cursor[culture] += len(idx)
        perm = pools.permute(np.arange(start, start + len(idx)) % cap, cap, salt=b.seed * 104729 + 7)
        perm = perm + (np.arange(start, start + len(idx)) // cap) * cap  # beyond capacity: numbered
        pairs = [pools.company_base_name(culture, int(i)) for i in perm]
        tmpl = [t for t, _ in c.legal_forms]
        w = np.array([p for _, p in c.legal_forms])
        f = rng.choice(len(tmpl), size=len(idx), p=w / w.sum())
        bare[idx] = [p[0] for p in pairs]
        slugs[idx] = [f"{p[1]}.{c.tld}" for p in pairs]
        forms[idx] = [tmpl[i] for i in f]
        names[idx] = [tmpl[i].format(p[0]) for i, p in zip(f, pairs)]
    city_pick = rng.integers(0, 1000, size=n)
    num = rng.integers(1, 250, size=n)
    streets, cities, states, postals, phones = [], [], [], [], []
    has_phone = rng.random(n) < 0.9
    for i, (code, cp, nm) in enumerate(zip(countries.tolist(), city_pick.tolist(), num.tolist())):
        c = pools.BY_CODE[code]
        city, state, postal, area = c.cities[cp % len(c.cities)]
        street = c.streets[(cp // 7) % len(c.streets)]
        streets.append(f"{street} No. {nm}" if code == "ID" else (f"{street} {nm}" if code in ("KR", "DE") else f"{nm} {street}"))
        cities.append(city)
        states.append(state)
        postals.append(postal)
        if has_phone[i]:
            k = b.landline_cursor[code]
            b.landline_cursor[code] += 1
            phones.append(pools.format_landline(code, area, int(pools.permute(np.array([k]), 10**6, b.seed + 3)[0])))
        else:
            phones.append(None)
    if source is None:
        source = rng.choice(np.array(["ui", "import", "integration", "api"], dtype=object), size=n, p=[0.4, 0.25, 0.25, 0.1])
        source_detail = nones(n)
        integ = source == "integration"
        source_detail[integ] = integration_detail(b, rng, int(integ.sum()), 4)
    else:
        source = np.asarray(source, dtype=object)
        source_detail = np.asarray(source_detail, dtype=object).copy()
    if created is None:
        created = sourced_created(b, rng, source, source_detail, b.T - 1800 * DAY)
    if updated is None:
        updated = b.ts(rng, np.maximum(created, b.T - 300 * DAY), b.T - 60, n)
    owners = b.clean_owner_ids()
    fr = Frame({
        "id": b.new_ids(n),
        "name": names,
        "domain": slugs.copy(),
        "industry": rng.choice(np.array(pools.INDUSTRIES, dtype=object), size=n),
        "phone": obj(phones),
        "street": obj(streets),
        "city": obj(cities),
        "state": obj(states),
        "postal_code": obj(postals),
        "country": countries.copy(),
        "owner_id": owners[rng.integers(0, len(owners), size=n)],
        "source": source,
        "source_detail": source_detail,
        "created_at": np.asarray(created, dtype=np.int64),
        "updated_at": np.asarray(updated, dtype=np.int64),
        "_bare": bare,
        "_form": forms,
        "employee_count": obj([str(int(x)) if f else None for x, f in zip(
            rng.lognormal(3.5, 1.2, size=n).astype(int) + 2, rng.random(n) < 0.65)]),
        "account_tier": np.where(rng.random(n) < 0.5, rng.choice(np.array(["Gold", "Silver", "Bronze"], dtype=object), size=n), None),
        "tax_id": obj([f"{rng.integers(10**14, 10**15)}" if (c == "ID" and f) else None
                       for c, f in zip(countries.tolist(), (rng.random(n) < 0.9).tolist())]),
    })
    return fr


# --------------------------------------------------------------------------- contacts


def gen_contacts(b: Build, rng, n: int, *, company_rows=None, created=None, source=None,
                 source_detail=None, common: bool = False) -> Frame:
    comp = b.frames["companies"]
    if company_rows is None:
        pool = b.assignable_companies
        company_rows = pool[rng.integers(0, len(pool), size=n)]
    company_rows = np.asarray(company_rows)
    countries = comp["country"][company_rows].copy()
    expat = rng.random(n) < 0.05
    countries[expat] = rng.choice(np.array(pools.COUNTRY_CODES, dtype=object), size=int(expat.sum()), p=pools.COUNTRY_WEIGHTS)
    first, last, ef, el = person_names(rng, countries)
    groups: list[np.ndarray] = []
    if common:
        per = max(3, n // 300)
        for code_culture, f, l in pools.COMMON_NAMES:
            cands = np.nonzero(np.array([pools.BY_CODE[c].culture for c in countries.tolist()], dtype=object) == code_culture)[0]
            if len(cands) < per:
                continue
            rows = rng.choice(cands, size=per, replace=False)
            first[rows], last[rows] = f, l
            if code_culture == "KR":
                kf = dict(pools.KR_FIRST)[f]
                kl = dict(pools.KR_LAST)[l]
                ef[rows], el[rows] = kf, kl
            else:
                ef[rows], el[rows] = pools.ascii_fold(f).lower(), pools.ascii_fold(l).lower()
            groups.append(rows)
        _separate_common_names(b, rng, groups, company_rows, countries)
    _unique_name_per_company(rng, first, last, ef, el, company_rows, countries, protected=groups)
    comp_ids = comp["id"][company_rows]
    comp_names = comp["name"][company_rows]
    comp_domains = comp["domain"][company_rows]
    free = rng.random(n) < 0.4
    fm_pick = rng.integers(0, 3, size=n)
    domains = [pools.BY_CODE[c].free_mail[k] if fr else d
               for c, k, fr, d in zip(countries.tolist(), fm_pick.tolist(), free.tolist(), comp_domains.tolist())]
    emails = obj(unique_emails(b, email_locals(rng, ef, el), domains))
    phones, nums, choice = mobile_phones(b, rng, countries)
    no_phone = rng.random(n) < 0.08
    no_email = (rng.random(n) < 0.03) & ~no_phone
    phones[no_phone] = None
    emails[no_email] = None
    cult_title = [pools.BY_CODE[c].culture for c in countries.tolist()]
    tpick = rng.integers(0, 100, size=n)
    titles = obj([pools.TITLES[c][k % len(pools.TITLES[c])] for c, k in zip(cult_title, tpick.tolist())])
    lifecycle = rng.choice(np.array(LIFECYCLE_STAGES, dtype=object), size=n, p=LIFECYCLE_WEIGHTS)
    lead = rng.choice(np.array(LEAD_STATUSES, dtype=object), size=n, p=LEAD_WEIGHTS)
    n_seg = int(np.clip(b.n_contacts // 20, 3, len(SEGMENTS)))
    base_seg = (np.arange(n) + int(rng.integers(0, n_seg))) % n_seg  # round robin: every segment is big
    extra = rng.integers(0, n_seg, size=n)
    has_extra = rng.random(n) < 0.4
    segments = obj([SEGMENTS[s] if not h or s == e else f"{SEGMENTS[s]};{SEGMENTS[e]}"
                    for s, e, h in zip(base_seg.tolist(), extra.tolist(), has_extra.tolist())])
    owners = comp["owner_id"][company_rows].copy()
    clean_owners = b.clean_owner_ids()
    other = rng.random(n) < 0.3
    owners[other] = clean_owners[rng.integers(0, len(clean_owners), size=int(other.sum()))]
    city_pick = rng.integers(0, 1000, size=n)
    num = rng.integers(1, 300, size=n)
    streets, cities, states, postals = [], [], [], []
    for code, cp, nm in zip(countries.tolist(), city_pick.tolist(), num.tolist()):
        c = pools.BY_CODE[code]
        city, state, postal, _ = c.cities[cp % len(c.cities)]
        street = c.streets[(cp // 5) % len(c.streets)]
        streets.append(f"{street} No. {nm}" if code == "ID" else (f"{street} {nm}" if code in ("KR", "DE") else f"{nm} {street}"))
        cities.append(city)
        states.append(state)
        postals.append(postal)
    if source is None:
        source = rng.choice(np.array(["ui", "import", "form", "api", "integration"], dtype=object), size=n,
                            p=[0.3, 0.2, 0.15, 0.05, 0.3])
        source_detail = nones(n)
        source_detail[source == "form"] = rng.choice(np.array(["Website contact form", "Event registration form"], dtype=object),
                                                     size=int((source == "form").sum()))
        integ = source == "integration"
        source_detail[integ] = integration_detail(b, rng, int(integ.sum()), 3)
    else:
        source = np.asarray(source, dtype=object)
        source_detail = np.asarray(source_detail, dtype=object).copy()
    if created is None:
        created = sourced_created(b, rng, source, source_detail, b.T - 1500 * DAY)
    created = np.asarray(created, dtype=np.int64)
    updated = b.ts(rng, np.maximum(created, b.T - 300 * DAY), b.T - 60, n)
    lang = {"ID": "id", "KR": "ko", "EN": "en", "DE": "de"}
    fr = Frame({
        "id": b.new_ids(n),
        "first_name": first,
        "last_name": last,
        "email": emails,
        "phone": phones,
        "title": titles,
        "company_id": comp_ids,
        "company_name": comp_names.copy(),
        "lifecycle_stage": lifecycle,
        "lead_status": lead,
        "segments": segments,
        "owner_id": owners,
        "street": obj(streets),
        "city": obj(cities),
        "state": obj(states),
        "postal_code": obj(postals),
        "country": countries,
        "source": source,
        "source_detail": source_detail,
        "email_bounced": np.zeros(n, dtype=bool),
        "created_at": created,
        "updated_at": updated,
        "last_activity_at": np.full(n, NULL_TS, dtype=np.int64),
        "_phone_num": nums,
        "_phone_choice": choice,
        "_company_row": company_rows.astype(np.int64),
        "preferred_language": np.where(rng.random(n) < 0.7, obj([lang[c] for c in cult_title]), None),
        "nps_score": np.where(rng.random(n) < 0.3, obj([str(x) for x in rng.integers(0, 11, size=n)]), None),
        "linkedin_url": np.where(rng.random(n) < 0.25,
                                 obj([f"https://www.linkedin.com/in/{f}-{l or 'x'}-{k}" for f, l, k in
                                      zip(ef.tolist(), el.tolist(), rng.integers(1000, 99999, size=n).tolist())]), None),
    })
    if common:
        b._common_rows = groups
    return fr


def _separate_common_names(b, rng, groups, company_rows, countries) -> None:
    """People sharing a common name work at different companies."""
    comp = b.frames["companies"]
    for rows in groups:
        seen = set()
        for r in rows:
            c = int(company_rows[r])
            tries = 0
            while c in seen and tries < 50:
                c = int(b.assignable_companies[rng.integers(0, len(b.assignable_companies))])
                tries += 1
            seen.add(c)
            company_rows[r] = c
            countries[r] = comp["country"][c]


def _unique_name_per_company(rng, first, last, ef, el, company_rows, countries, protected) -> None:
    """No two clean contacts with the same full name at the same company."""
    keep = set()
    for g in protected:
        keep.update(int(x) for x in g)
    seen = set()
    for r in range(len(first)):
        key = (first[r], last[r], int(company_rows[r]))
        if key not in seen:
            seen.add(key)
            continue
        for _ in range(100):
            f2, l2, e2, el2 = person_names(rng, countries[r:r + 1])
            key = (f2[0], l2[0], int(company_rows[r]))
            if key not in seen:
                first[r], last[r], ef[r], el[r] = f2[0], l2[0], e2[0], el2[0]
                seen.add(key)
                break


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
    u = b.frames["users"]
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
    cidx = con.index_of(d["contact_id"][drows])
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
    del cidx
    # ids follow creation time, as in a real CRM
    order = np.argsort(acts["created_at"], kind="stable")
    acts = acts.take(order)
    acts["id"] = np.sort(acts["id"])
    b.frames["activities"] = acts


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


# --------------------------------------------------------------------------- campaigns, platform, fields


def gen_campaigns(b: Build) -> None:
    rng = b.rng
    n = max(8, min(300, b.n_contacts // 3000 + 8))
    kind = rng.choice(np.array(["email", "survey", "webinar", "event"], dtype=object), size=n, p=[0.6, 0.15, 0.15, 0.1])
    started = b.T - rng.integers(3, 730, size=n) * DAY + 2 * HOUR
    sent = np.maximum(50, (rng.lognormal(0, 0.6, size=n) * max(200, b.n_contacts * 0.05)).astype(np.int64))
    delivered = (sent * rng.uniform(0.9, 0.99, size=n)).astype(np.int64)
    opened = (delivered * rng.uniform(0.15, 0.5, size=n)).astype(np.int64)
    rate = np.where(kind == "survey", rng.uniform(0.2, 0.6, size=n), rng.uniform(0.02, 0.15, size=n))
    responses = (opened * rate).astype(np.int64)
    titles = {"email": ("Newsletter", "Promo Akhir Tahun", "신제품 안내", "Product update"),
              "survey": ("Customer satisfaction survey", "Survei kepuasan pelanggan", "고객 만족도 조사"),
              "webinar": ("Webinar: CRM best practices", "Webinar Transformasi Digital", "웨비나: 영업 자동화"),
              "event": ("Jakarta Expo booth", "Seoul Tech Summit", "Partner day")}
    names = []
    for k, s in zip(kind.tolist(), started.tolist()):
        t = titles[k][int(rng.integers(0, len(titles[k])))]
        names.append(f"{t} {datetime.fromtimestamp(s, UTC):%Y-%m}")
    b.frames["campaigns"] = Frame({
        "id": b.new_ids(n),
        "name": obj(names),
        "type": kind,
        "sent": sent,
        "delivered": delivered,
        "opened": opened,
        "responses": responses,
        "started_at": started.astype(np.int64),
        "source": np.where(kind == "email", "integration", "ui").astype(object),
    })


def gen_platform(b: Build) -> None:
    b.frames["platform"] = Frame({
        "vendor": obj(["sandbox"]),
        "edition": obj(["Enterprise"]),
        "api_version_used": obj(["3.1"]),
        "api_version_latest": obj(["3.1"]),
        "api_versions_deprecated": obj(["1.0;2.0"]),
    })


def declare_base_custom_fields(b: Build) -> None:
    c = b.T - 1500 * DAY
    for table, name, label, kind in (
        ("companies", "employee_count", "Employee count", "number"),
        ("companies", "account_tier", "Account tier", "enumeration"),
        ("companies", "tax_id", "Tax ID (NPWP)", "string"),
        ("contacts", "preferred_language", "Preferred language", "enumeration"),
        ("contacts", "nps_score", "NPS score", "number"),
        ("contacts", "linkedin_url", "LinkedIn URL", "string"),
        ("deals", "deal_type", "Deal type", "enumeration"),
        ("deals", "forecast_category", "Forecast category", "enumeration"),
    ):
        b.add_custom_field(table, name, label, kind, c)
        c += 37 * DAY


def ensure_recent_integration_records(b: Build, rng) -> None:
    """Every integration that creates records created some in the last two weeks."""
    for table in ("contacts", "companies"):
        fr = b.frames[table]
        for name, (lo, hi) in b.integration_window.items():
            rows = np.nonzero(fr["source_detail"] == name)[0]
            if not len(rows):
                continue
            if (fr["created_at"][rows] >= b.T - 14 * DAY).sum() >= 2:
                continue
            move = rng.choice(rows, size=min(2, len(rows)), replace=False)
            fr["created_at"][move] = b.T - rng.integers(1, 13, size=len(move)) * DAY - rng.integers(0, DAY, size=len(move))
            fr["updated_at"][move] = np.maximum(fr["updated_at"][move], fr["created_at"][move])


def build_base(b: Build) -> None:
    rng = b.rng
    gen_users(b)
    gen_login_events(b)
    gen_integrations(b)
    n_comp = max(10, b.n_contacts // 4)
    b.frames["companies"] = gen_companies(b, rng, n_comp)
    b.assignable_companies = np.arange(n_comp)
    b.n_base_contacts = b.n_contacts
    b.frames["contacts"] = gen_contacts(b, rng, b.n_contacts, common=True)
    ensure_recent_integration_records(b, rng)
    gen_stages(b)
    gen_deals(b)
    gen_activities(b)
    gen_campaigns(b)
    gen_platform(b)
    declare_base_custom_fields(b)


# --------------------------------------------------------------------------- finalisation


def _last_per(ids_sorted: np.ndarray, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(len(ids_sorted), NULL_TS, dtype=np.int64)
    m = keys >= 0
    pos = np.searchsorted(ids_sorted, keys[m])
    ok = (pos < len(ids_sorted))
    pos, vals, k = pos[ok], values[m][ok], keys[m][ok]
    hit = ids_sorted[pos] == k
    np.maximum.at(out, pos[hit], vals[hit])
    return out


def integration_record_counts(b: Build) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    tables = [("contacts", "source_detail"), ("companies", "source_detail")]
    if "source_detail" in TABLES["deals"].column_names:
        tables.append(("deals", "_source_detail"))
    for t, col in tables:
        vals, n = np.unique(b.frames[t][col][b.frames[t][col] != None].astype(str), return_counts=True)  # noqa: E711
        for v, c in zip(vals.tolist(), n.tolist()):
            counts[v] += c
    return counts


def finalize(b: Build) -> GeneratedTenant:
    a = b.frames["activities"]
    for t in ("contacts", "deals"):
        fr = b.frames[t]
        col = "contact_id" if t == "contacts" else "deal_id"
        fr["last_activity_at"] = _last_per(fr["id"], a[col], a["created_at"])
    u = b.frames["users"]
    ev = b.frames["login_events"]
    order = np.argsort(ev["at"], kind="stable")
    ev = ev.take(order)
    ev["id"] = b.new_ids(len(ev))
    b.frames["login_events"] = ev
    ok = ev["status"] == "success"
    last = _last_per(u["id"], ev["user_id"][ok], ev["at"][ok])
    for uid, ts in b.last_login_override.items():
        r = int(u.index_of([uid])[0])
        if last[r] == NULL_TS:
            last[r] = ts
    u["last_login_at"] = last
    integ = b.frames["integrations"]
    counts = integration_record_counts(b)
    rep = np.full(len(integ), np.nan)
    for i, name in enumerate(integ["name"].tolist()):
        c = counts.get(name, 0)
        if c:
            skew = b.records_reported_skew.get(name)
            rep[i] = c if skew is None else int(round(c * skew)) + 3
    integ["records_reported"] = rep
    if "source_detail" in TABLES["deals"].column_names:
        b.frames["deals"]["source_detail"] = b.frames["deals"]["_source_detail"]
    fields_frame(b)
    tables: dict[str, pa.Table] = {}
    custom_by_table: dict[str, list[str]] = defaultdict(list)
    for t, name, *_ in b.custom_fields:
        custom_by_table[t].append(name)
    for tname, spec in TABLES.items():
        fr = b.frames[tname]
        arrays, names = [], []
        for col in spec.columns:
            arrays.append(to_arrow_column(fr[col.name], col.type))
            names.append(col.name)
        for cname in custom_by_table.get(tname, []):
            arrays.append(pa.array(fr[cname], type=pa.string()))
            names.append(cname)
        tables[tname] = pa.table(arrays, names=names)
    return GeneratedTenant(b.name, b.seed, b.as_of, tables, build_manifest(b, tables))


def fields_frame(b: Build) -> None:
    obj_, name, label, kind, custom, created = [], [], [], [], [], []
    base_created = b.T - 2000 * DAY
    for t in ("companies", "contacts", "deals", "activities"):
        for col in TABLES[t].columns:
            obj_.append(t)
            name.append(col.name)
            label.append(col.name.replace("_", " ").capitalize())
            kind.append(STANDARD_FIELD_TYPES[col.type])
            custom.append(False)
            created.append(base_created)
    for t, n, lab, k, c in b.custom_fields:
        obj_.append(t)
        name.append(n)
        label.append(lab)
        kind.append(k)
        custom.append(True)
        created.append(c)
    b.frames["fields"] = Frame({
        "object": obj(obj_), "name": obj(name), "label": obj(label), "type": obj(kind),
        "is_custom": np.array(custom, dtype=bool), "created_at": np.array(created, dtype=np.int64),
    })


def build_manifest(b: Build, tables: dict[str, pa.Table]) -> dict:
    defects = {}
    for cid in CHECK_IDS:
        entry = {"object": DEFECT_OBJECTS[cid], "ids": sorted(str(i) for i in b.planted[cid])}
        if cid in b.notes:
            entry["note"] = b.notes[cid]
        defects[cid] = entry
    return {
        "name": b.name,
        "seed": b.seed,
        "contacts": b.n_contacts,
        "as_of": b.as_of.isoformat(),
        "defects_planted": b.defects,
        "counts": {t: tables[t].num_rows for t in tables},
        "defects": defects,
        "duplicates": {t: [[str(i) for i in g] for g in groups] for t, groups in b.duplicates.items()},
        "duplicate_sources": dict(sorted(b.duplicate_sources.items())),
        "common_names": {"contacts": [sorted(str(i) for i in g) for g in b.common_names]},
    }


def _common_name_groups(b: Build) -> None:
    """Final common-name groups: every contact bearing one of the common names,
    except members of duplicate clusters (those are duplicates, not namesakes)."""
    con = b.frames["contacts"]
    in_dup = {int(i) for g in b.duplicates["contacts"] for i in g}
    groups = []
    for _, f, l in pools.COMMON_NAMES:
        m = (con["first_name"] == f) & (con["last_name"] == l)
        ids = [int(i) for i in con["id"][m].tolist() if int(i) not in in_dup]
        if len(ids) >= 2:
            groups.append(ids)
    b.common_names = groups


# --------------------------------------------------------------------------- public entry point


def _as_of(value) -> datetime:
    if value is None:
        today = datetime.now(UTC).date()
        return datetime.combine(today, time(0), tzinfo=UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    raise TypeError(f"as_of must be a datetime, date or ISO string, not {type(value).__name__}")


def generate_tenant(contacts: int = 1000, seed: int = 42, defects: bool = True, name: str = "demo",
                    as_of=None) -> GeneratedTenant:
    """Generate a deterministic synthetic tenant (see docs/dev/ground-truth.md)."""
    if contacts < 100:
        raise ValueError("contacts must be at least 100")
    from .defects_data import PLANTERS as DATA_PLANTERS
    from .defects_usage import PLANTERS as USAGE_PLANTERS

    b = Build(contacts, seed, defects, name, _as_of(as_of))
    build_base(b)
    if b.defects:
        for plant in USAGE_PLANTERS + DATA_PLANTERS:
            plant(b)
            b.flush()
    _common_name_groups(b)
    return finalize(b)
