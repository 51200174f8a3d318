"""The generated tenant: canonical pyarrow tables plus the ground-truth manifest, its
export to a files-connector folder, and the planting API (``add_rows``, ``edit``,
``plant``, ``planted``) a plugin's tests use to give it the records a new check must
find (the conversions live in ``planting``).
"""

from __future__ import annotations

import copy as _copy
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..model import TABLES
from . import planting


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

    def copy(self) -> GeneratedTenant:
        """An independent copy to plant on: the fixture ``crm_audit_tenant`` caches tenants
        and hands each call a copy of it. Cheap: arrow
        tables are immutable and shared; the manifest is copied."""
        return GeneratedTenant(self.name, self.seed, self.as_of, dict(self.tables), _copy.deepcopy(self.manifest))

    def add_rows(self, table: str, rows: list[dict[str, Any]], *, defect: str | None = None) -> list[str]:
        """Append ``rows`` (dicts of canonical or custom-field column -> value) to ``table``.

        Missing columns are null; a row without an ``id`` gets a new one (unique in the
        tenant). Values are converted as :meth:`rows` gives them back: ids as str or int,
        timestamps as datetimes (naive = UTC), dates or ISO strings, ``segments`` as a list.
        Derived columns are not recomputed (a new activity does not move its contact's
        ``last_activity_at``: set it with :meth:`edit`). Returns the new rows' ids; with
        ``defect="plugin.check-id"`` they are added to the manifest's ground truth for
        that check (:meth:`planted`). An unknown table or column raises ConfigError.
        """
        tbl, ids = planting.append_rows(self.tables, table, rows)
        if defect is not None:
            planting.record_defect(self.manifest, defect, ids, table)
        self.tables[table] = tbl
        self.manifest.setdefault("counts", {})[table] = tbl.num_rows
        return ids

    def edit(self, table: str, where: dict[str, Any] | Callable[[dict[str, Any]], bool], set: dict[str, Any], *,
             defect: str | None = None) -> list[str]:
        """Set columns on the rows of ``table`` that ``where`` matches; returns their ids.

        ``where`` is a dict of column -> value (all equal; None matches null) or a function
        of a row (as :meth:`rows` gives it) returning True for the rows to edit; ``set`` a
        dict of column -> new value (converted as in :meth:`add_rows`). With ``defect=``
        the edited ids join that check's ground truth. A where that matches no row, an
        unknown table or column, or a change of the ``id`` raises ConfigError.
        """
        tbl, ids = planting.edit_rows(self.tables, table, where, set)
        if defect is not None:
            planting.record_defect(self.manifest, defect, ids, table)
        self.tables[table] = tbl
        return ids

    def plant(self, check_id: str, ids, *, object: str) -> None:
        """Record ``ids`` as ground truth for ``check_id`` when they are not row ids of
        one table (``data.tiny-segments`` reports segment names, ``object="segments"``)."""
        planting.record_defect(self.manifest, check_id, ids, object)

    def planted(self, check_id: str) -> list[str]:
        """The ids ``check_id`` must report on this tenant: what the generator planted for
        the standard checks plus what ``add_rows`` / ``edit`` / ``plant`` recorded under
        ``defect=check_id``; ``[]`` when nothing was."""
        return list(self.manifest.get("defects", {}).get(check_id, {}).get("ids", []))

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
