"""Column frames: how the generator holds a table while it builds and plants it.

A :class:`Frame` is a dict of equally long numpy arrays, so that a million rows cost
a few arrays, not a million dicts. Internal encodings (converted by :func:`to_arrow`):

* ids and foreign keys: ``int64``, ``NULL_ID`` (-1) for null, written as decimal strings;
* timestamps: ``int64`` epoch seconds, ``NULL_TS`` for null;
* floats: ``float64``, NaN for null; ints: ``int64`` (or float64 with NaN when nullable);
* strings: ``object`` arrays of ``str`` / ``None``; booleans: ``bool``;
* list columns (``segments``): ``object`` arrays of ``;``-joined strings or ``None``.

Columns whose name starts with ``_`` are private helpers (phone digits, bare company
names, ...) and never reach the output.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NULL_ID = -1
NULL_TS = np.iinfo(np.int64).min
DAY = 86_400

TS_TYPE = pa.timestamp("us", tz="UTC")


def obj(values) -> np.ndarray:
    """A 1-d object array (np.array would build 2-d arrays from lists of lists)."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values) if not isinstance(values, list) else values
    return out


def nones(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


class Frame:
    """Equally long named numpy columns, appended and filtered as a whole."""

    __slots__ = ("cols",)

    def __init__(self, cols: dict | None = None) -> None:
        self.cols: dict[str, np.ndarray] = dict(cols or {})

    def __len__(self) -> int:
        for v in self.cols.values():
            return len(v)
        return 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def __setitem__(self, name: str, values) -> None:
        self.cols[name] = values

    def __contains__(self, name: str) -> bool:
        return name in self.cols

    def take(self, index) -> "Frame":
        return Frame({k: v[index] for k, v in self.cols.items()})

    def extend(self, other: "Frame") -> None:
        """Append rows; a column ``other`` lacks must be an object column (filled with None)."""
        n = len(other)
        for k, v in self.cols.items():
            if k in other.cols:
                add = other.cols[k]
            elif v.dtype == object:
                add = nones(n)
            else:
                raise KeyError(f"appended rows lack column {k!r}")
            self.cols[k] = np.concatenate([v, add.astype(v.dtype, copy=False)])
        for k, v in other.cols.items():
            if k not in self.cols:
                if v.dtype != object:
                    raise KeyError(f"appended rows add non-object column {k!r}")
                self.cols[k] = np.concatenate([nones(len(self) - n), v])

    def index_of(self, ids) -> np.ndarray:
        """Row positions of ``ids`` (the id column is kept sorted ascending)."""
        return np.searchsorted(self.cols["id"], np.asarray(ids, dtype=np.int64))


def concat(frames: list["Frame"]) -> "Frame":
    """One frame from several with the same columns (one copy instead of one per frame)."""
    return Frame({k: np.concatenate([f.cols[k] for f in frames]) for k in frames[0].cols})


def to_arrow_column(values: np.ndarray, logical: str) -> pa.Array:
    if logical == "timestamp":
        v = values.astype(np.int64)
        mask = v == NULL_TS
        return pa.array(np.where(mask, 0, v) * 1_000_000, type=TS_TYPE, mask=mask)
    if logical == "str" and values.dtype == np.int64:  # ids
        mask = values < 0
        return pa.array(values, type=pa.int64(), mask=mask).cast(pa.string())
    if logical == "str":
        return pa.array(values, type=pa.string(), from_pandas=False)
    if logical == "bool":
        if values.dtype == object:
            return pa.array(values, type=pa.bool_())
        return pa.array(values.astype(bool), type=pa.bool_())
    if logical == "float":
        v = values.astype(np.float64)
        return pa.array(v, type=pa.float64(), mask=np.isnan(v))
    if logical == "int":
        if values.dtype.kind == "f":
            mask = np.isnan(values)
            return pa.array(np.where(mask, 0, values).astype(np.int64), type=pa.int64(), mask=mask)
        return pa.array(values.astype(np.int64), type=pa.int64())
    if logical == "list":
        joined = pa.array(values, type=pa.string())
        return pc.split_pattern(joined, ";")
    if logical == "json":
        return pa.array(values, type=pa.string())
    raise ValueError(logical)  # pragma: no cover
