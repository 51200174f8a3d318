"""Base generation of what other systems put into the CRM: the connected integrations
(and when records they create arrive), marketing campaigns and the platform row.

``integration_detail`` and ``sourced_created`` are also used by ``people`` to give
companies and contacts a source and a plausible creation time.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from .build import HOUR, UTC, Build
from .frame import DAY, Frame, obj
from .vocabulary import INTEGRATIONS


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


# --------------------------------------------------------------------------- campaigns, platform


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
