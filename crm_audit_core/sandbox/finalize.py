"""Finalisation of a build: derived columns (last activity, last login, the counts
integrations report), the ``fields`` table, pyarrow tables and the ground-truth manifest.

Runs once, after base generation and planting; its output is a :class:`GeneratedTenant`.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa

from ..model import TABLES
from . import pools
from .build import Build
from .frame import DAY, NULL_TS, Frame, obj, to_arrow_column
from .manifest import CHECK_IDS, DEFECT_OBJECTS
from .tenant import GeneratedTenant
from .vocabulary import STANDARD_FIELD_TYPES


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
        fr = b.frames.get(tname)
        if fr is None:  # a table the CRM itself does not hold (sync_counts: the other side's counts)
            continue
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
        **({} if b.shape.is_default else {"shape": b.shape.to_json()}),
    }


def common_name_groups(b: Build) -> None:
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
