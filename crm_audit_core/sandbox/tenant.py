"""The generated tenant: canonical pyarrow tables plus the ground-truth manifest, its
export to a files-connector folder, and the planting API tests use to add the rows a
new check must find.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..model import TABLES


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
