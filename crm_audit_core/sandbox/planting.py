"""Planting rows in a generated tenant after it is built: the values a test gives,
checked and converted to the table's arrow types, and the manifest kept true.

Used by :meth:`GeneratedTenant.add_rows`, :meth:`~GeneratedTenant.edit` and
:meth:`~GeneratedTenant.plant`, so that a plugin's tests can give a tenant the records
its check must report (the generator plants defects only for the standard checks). Every
bad input is one :class:`~crm_audit_core.errors.ConfigError` naming the table and column.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any, Callable, Iterable

import pyarrow as pa

from ..errors import ConfigError
from ..model import TABLES

UTC = timezone.utc


def to_utc(value) -> datetime | None:
    """An aware UTC datetime from a datetime (naive = UTC), a date (midnight) or an ISO 8601
    string (``Z`` allowed; ValueError when it is not one); None for any other type."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    return None


def table_of(tables: dict[str, pa.Table], name: str) -> pa.Table:
    if name not in tables:
        raise ConfigError(f"the tenant has no table {name!r} (tables: {', '.join(sorted(tables))})")
    return tables[name]


def key_of(table: str) -> str:
    return TABLES[table].key if table in TABLES else "id"


def check_columns(table: str, tbl: pa.Table, names: Iterable[str], what: str) -> None:
    """Refuse, in one message, every name that is not a column of ``tbl``."""
    unknown = sorted({n for n in names if n not in tbl.column_names}, key=str)
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        raise ConfigError(f"{table} has no column {listed} ({what}; columns: {', '.join(tbl.column_names)})")


def coerce(table: str, column: str, type_: pa.DataType, value: Any) -> Any:
    """``value`` as the python value arrow stores in a column of ``type_`` (None stays None).

    Ids and other text columns take str or int; timestamps take an aware or naive (UTC)
    datetime, a date or an ISO 8601 string; list columns take a list of strings.
    """
    if value is None:
        return None
    where = f"{table}.{column}"
    if pa.types.is_string(type_):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ConfigError(f"{where} holds text, got {type(value).__name__} {value!r}")
        return str(value)
    if pa.types.is_timestamp(type_):
        try:
            moment = to_utc(value)
        except ValueError:
            raise ConfigError(f"{where} holds a timestamp, got {value!r} (not ISO 8601)") from None
        if moment is None:
            raise ConfigError(f"{where} holds a timestamp, got {type(value).__name__} {value!r}")
        return moment
    if pa.types.is_list(type_):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} holds a list of text, got {type(value).__name__} {value!r}")
        return [coerce(table, column, type_.value_type, v) for v in value]
    try:
        return pa.scalar(value, type=type_).as_py()
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{where} holds {type_}, got {type(value).__name__} {value!r} ({exc})") from None


def ids_in_use(tables: dict[str, pa.Table]) -> dict[str, str]:
    """Every id of the tenant -> its table (ids are unique across the whole tenant)."""
    used: dict[str, str] = {}
    for name, tbl in tables.items():
        if key_of(name) == "id" and "id" in tbl.column_names:
            used.update((str(v), name) for v in tbl.column("id").to_pylist() if v is not None)
    return used


def append_rows(tables: dict[str, pa.Table], table: str, rows: list[dict]) -> tuple[pa.Table, list[str]]:
    """``table`` with ``rows`` appended (missing columns null, new ids where none is given)."""
    tbl = table_of(tables, table)
    if isinstance(rows, dict) or not all(isinstance(r, dict) for r in rows):
        raise ConfigError(f"add_rows({table!r}, ...) takes a list of dicts (column -> value)")
    check_columns(table, tbl, {c for r in rows for c in r}, "in the rows to add")
    key = key_of(table)
    # ids are unique in the tenant; other keys (fields.name, platform.vendor) may repeat
    taken = ids_in_use(tables) if key == "id" else {}
    fresh = 1 + max((int(i) for i in taken if i.isdigit()), default=0)
    keys: list[str] = []
    columns: dict[str, list] = {c: [] for c in tbl.column_names}
    for row in rows:
        value = row.get(key)
        if value is None:
            if key != "id":
                raise ConfigError(f"rows added to {table} need a {key!r} (its key)")
            value, fresh = fresh, fresh + 1
        value = coerce(table, key, tbl.schema.field(key).type, value)
        if value in taken:
            raise ConfigError(f"id {value!r} is already used in {taken[value]} (ids are unique in a tenant)")
        if key == "id":
            taken[value] = table
        keys.append(str(value))
        for col, type_ in zip(tbl.column_names, tbl.schema.types):
            columns[col].append(coerce(table, col, type_, value if col == key else row.get(col)))
    added = pa.table({c: pa.array(v, type=t) for (c, v), t in zip(columns.items(), tbl.schema.types)}, schema=tbl.schema)
    return pa.concat_tables([tbl, added]), keys


def edit_rows(tables: dict[str, pa.Table], table: str, where: dict | Callable[[dict], bool],
              values: dict) -> tuple[pa.Table, list[str]]:
    """``table`` with ``values`` set on the rows ``where`` matches; the keys of those rows."""
    tbl = table_of(tables, table)
    key = key_of(table)
    if not isinstance(values, dict) or not values:
        raise ConfigError(f"edit({table!r}, ...): set must be a non-empty dict (column -> value)")
    check_columns(table, tbl, values, "in set")
    if key in values:
        raise ConfigError(f"edit({table!r}, ...) cannot change the key column {key!r}; add a row instead")
    types = dict(zip(tbl.column_names, tbl.schema.types))
    if callable(where):
        match = [bool(where(row)) for row in tbl.to_pylist()]
        described = "the where function"
    elif isinstance(where, dict) and where:
        check_columns(table, tbl, where, "in where")
        wanted = {c: coerce(table, c, types[c], v) for c, v in where.items()}
        cols = {c: tbl.column(c).to_pylist() for c in wanted}
        match = [all(cols[c][i] == v for c, v in wanted.items()) for i in range(tbl.num_rows)]
        described = repr(where)
    else:
        raise ConfigError(f"edit({table!r}, ...): where must be a non-empty dict (column -> value) or a function of a row")
    positions = [i for i, hit in enumerate(match) if hit]
    if not positions:
        raise ConfigError(f"edit({table!r}, ...): no row matches {described}")
    for col, value in values.items():
        value = coerce(table, col, types[col], value)
        current = tbl.column(col).to_pylist()
        for i in positions:
            current[i] = value
        tbl = tbl.set_column(tbl.column_names.index(col), tbl.schema.field(col), pa.array(current, type=types[col]))
    keys = tbl.column(key).to_pylist() if key in tbl.column_names else [None] * tbl.num_rows
    return tbl, [str(keys[i]) for i in positions]


def record_defect(manifest: dict, check_id: str, ids: Iterable, obj: str) -> None:
    """Add ``ids`` to the manifest's ground truth for ``check_id`` (reported as ``obj``)."""
    if not isinstance(check_id, str) or not check_id:
        raise ConfigError(f"a defect is named by its check id (a string), got {check_id!r}")
    defects = manifest.setdefault("defects", {})
    entry = defects.setdefault(check_id, {"object": obj, "ids": []})
    if entry["object"] != obj:
        raise ConfigError(f"{check_id} reports {entry['object']}, not {obj}: record its ids with "
                          f"tenant.plant({check_id!r}, ids, object={entry['object']!r})")
    entry["ids"] = sorted(set(entry["ids"]) | {str(i) for i in ids})
