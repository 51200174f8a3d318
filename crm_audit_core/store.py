"""The snapshot store: one DuckDB file per audit.

Canonical tables live in the schema ``canonical`` with two extra columns, ``tenant`` and
``raw`` (the vendor record as JSON). Custom-field values live in
``canonical.custom_values`` (tenant, object, record_id, field, value), one row a value.
``canonical._tables`` records, per tenant and table, whether the table was supplied,
completed or left partial, its row count and the columns the connector filled: the
runner uses it to skip checks whose data was not supplied and to mark partial results.
``canonical._staged_<table>`` and ``canonical._staged_custom_values`` hold the rows of a
resumable read written since its last checkpoint (see :meth:`Store.commit_staged`).

Writes are batched: rows arrive as Python dicts or Arrow tables and go in with one
``INSERT ... SELECT`` per batch, never row by row. Timestamps are normalised to UTC.
Checks read through :meth:`Store.tenant_cursor`, which binds plain table names (``users``,
``contacts``, ...) to views of one tenant.
"""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pyarrow as pa

from . import model
from .errors import DataError, stop_if_interrupted
from .i18n import _

SCHEMA = "canonical"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def cast_expression(source: str, typ: str, *, strict: bool = True) -> str:
    """SQL turning ``source`` (VARCHAR or native) into the store's type for ``typ``."""
    cast = "CAST" if strict else "TRY_CAST"
    if typ == "timestamp":
        return f"{cast}({cast}({source} AS TIMESTAMPTZ) AS TIMESTAMP)"
    if typ in ("str", "json"):
        return f"CAST({source} AS VARCHAR)"
    if typ == "list":
        return source  # lists are prepared by the caller (see _list_expression)
    return f"{cast}({source} AS {model.DUCKDB_TYPES[typ]})"


def _json_default(value: Any):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def raise_insert_error(exc: BaseException, tenant: str, table: str) -> None:
    """Raise what a failed insert of ``table``'s rows means: KeyboardInterrupt for a Ctrl-C
    DuckDB turned into an error (it is not a bad file), else a DataError naming the table,
    which the files connector answers by reading the file the other way."""
    stop_if_interrupted(exc)
    if not isinstance(exc, duckdb.Error):
        raise exc
    raise DataError(_("cannot store the rows of {table}: {problem}", table=table, problem=str(exc).splitlines()[0]),
                    where=f"{tenant}/{table}") from None


def _first(cursor):
    """The first row of a result, read to the end: a result left unfinished makes DuckDB
    refuse the connection's next ``register``."""
    rows = cursor.fetchall()
    return rows[0] if rows else None


def _to_utc_naive(value):
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


class Store:
    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self.connection = duckdb.connect(str(self.path), read_only=read_only)
        self.connection.execute("SET TimeZone='UTC'")
        self._lock = threading.RLock()
        self._lookups: dict[tuple, str] = {}  # (tenant, table, columns) -> temp table (see lookup)
        self._lookup_serial = 0
        if not read_only:
            self._create()

    # -- schema -------------------------------------------------------------
    def _create(self) -> None:
        con = self.connection
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        for table in model.TABLES.values():
            cols = ", ".join(f"{quote_ident(c.name)} {model.DUCKDB_TYPES[c.type]}" for c in table.columns)
            con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{table.name} (tenant VARCHAR, {cols}, raw VARCHAR)")
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.custom_values "
            "(tenant VARCHAR, object VARCHAR, record_id VARCHAR, field VARCHAR, value VARCHAR)"
        )
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}._tables (tenant VARCHAR, table_name VARCHAR, "
            "status VARCHAR, rows BIGINT, columns VARCHAR[])"
        )
        con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}._checkpoints (tenant VARCHAR, table_name VARCHAR, state VARCHAR)")
        # Cells a connector could not interpret (read as empty): data.unrecognised-values reports them.
        con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}._unreadable (tenant VARCHAR, table_name VARCHAR, "
                    "column_name VARCHAR, cells BIGINT, expected VARCHAR, examples VARCHAR[])")
        # Staging: rows past a table's last checkpoint, out of the table until the next one.
        for table in model.TABLES.values():
            con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}._staged_{table.name} AS "
                        f"SELECT * FROM {SCHEMA}.{table.name} LIMIT 0")
        con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}._staged_custom_values AS "
                    f"SELECT * FROM {SCHEMA}.custom_values LIMIT 0")

    def record_unreadable(self, tenant: str, table: str, column: str, cells: int, expected: str,
                          examples: list[str]) -> None:
        """Remember that ``cells`` cells of ``table.column`` could not be read as ``expected``."""
        with self._lock:
            self.connection.execute(f"DELETE FROM {SCHEMA}._unreadable WHERE tenant = ? AND table_name = ? AND column_name = ?",
                                    [tenant, table, column])
            self.connection.execute(f"INSERT INTO {SCHEMA}._unreadable VALUES (?, ?, ?, ?, ?, ?)",
                                    [tenant, table, column, int(cells), expected, [str(e) for e in examples]])

    def close(self) -> None:
        self.connection.close()

    def set_memory_limit(self, limit: str | None) -> None:
        """Cap DuckDB's buffer pool (e.g. '1GB'); None restores DuckDB's default.

        While extracting, DuckDB would otherwise keep every block it wrote in memory (its
        default limit is 80% of RAM), so the audit's memory would grow with the tenant.
        """
        with self._lock:
            if limit is None:
                self.connection.execute("RESET memory_limit")
            else:
                self.connection.execute(f"SET memory_limit = {quote_literal(limit)}")

    # -- transactions, checkpoints (resumable audits) ---------------------------
    def transaction(self):
        """``with store.transaction():`` everything inside commits together or not at all."""
        store = self

        class _Tx:
            def __enter__(self):
                store._lock.acquire()
                store.connection.execute("BEGIN TRANSACTION")

            def __exit__(self, exc_type, *rest):
                try:
                    store.connection.execute("ROLLBACK" if exc_type else "COMMIT")
                finally:
                    store._lock.release()

        return _Tx()

    def save_checkpoint(self, tenant: str, table: str, state: dict) -> None:
        with self._lock:
            self.connection.execute(f"DELETE FROM {SCHEMA}._checkpoints WHERE tenant = ? AND table_name = ?", [tenant, table])
            self.connection.execute(f"INSERT INTO {SCHEMA}._checkpoints VALUES (?, ?, ?)",
                                    [tenant, table, json.dumps(state, default=_json_default)])

    def checkpoint_of(self, tenant: str, table: str) -> dict | None:
        row = _first(self.connection.execute(
            f"SELECT state FROM {SCHEMA}._checkpoints WHERE tenant = ? AND table_name = ?", [tenant, table]))
        return None if row is None else json.loads(row[0])

    def commit_staged(self, tenant: str, table: str) -> int:
        """Move the staged rows of ``table`` (custom values included) into the table.

        Call it inside :meth:`transaction` with :meth:`save_checkpoint`: the rows and the
        cursor state then commit together. Returns how many rows moved.
        """
        with self._lock:
            con = self.connection
            count = _first(con.execute(f"SELECT count(*) FROM {SCHEMA}._staged_{table} WHERE tenant = ?", [tenant]))[0]
            if count:
                con.execute(f"INSERT INTO {SCHEMA}.{table} SELECT * FROM {SCHEMA}._staged_{table} WHERE tenant = ?", [tenant])
                con.execute(f"INSERT INTO {SCHEMA}.custom_values SELECT * FROM {SCHEMA}._staged_custom_values "
                            "WHERE tenant = ? AND object = ?", [tenant, table])
            self.clear_staged(tenant, table)
        if count:
            self.mark(tenant, table, add_rows=count)
        return count

    def clear_staged(self, tenant: str, table: str | None = None) -> None:
        """Drop staged rows (of one table, or all of ``tenant``'s): never committed, read again on resume."""
        with self._lock:
            for name in [table] if table else list(model.TABLES):
                self.connection.execute(f"DELETE FROM {SCHEMA}._staged_{name} WHERE tenant = ?", [tenant])
            if table:
                self.connection.execute(f"DELETE FROM {SCHEMA}._staged_custom_values WHERE tenant = ? AND object = ?",
                                        [tenant, table])
            else:
                self.connection.execute(f"DELETE FROM {SCHEMA}._staged_custom_values WHERE tenant = ?", [tenant])

    def clear_table(self, tenant: str, table: str) -> None:
        """Forget what an interrupted run wrote to one table (it will be read again)."""
        self.clear_staged(tenant, table)
        with self._lock:
            self.connection.execute(f"DELETE FROM {SCHEMA}.{table} WHERE tenant = ?", [tenant])
            self.connection.execute(f"DELETE FROM {SCHEMA}.custom_values WHERE tenant = ? AND object = ?", [tenant, table])
            self.connection.execute(f"DELETE FROM {SCHEMA}._checkpoints WHERE tenant = ? AND table_name = ?", [tenant, table])
            self.connection.execute(f"DELETE FROM {SCHEMA}._tables WHERE tenant = ? AND table_name = ?", [tenant, table])

    # -- incremental audits --------------------------------------------------------
    def carry_forward(self, tenant: str, table: str, previous: str | Path, deleted_ids=()) -> int:
        """Copy from a previous snapshot the rows of ``table`` this run did not re-read.

        Rows whose id was written in this run (created or modified since) win; rows in
        ``deleted_ids`` (deleted in the CRM since) are dropped; everything else is taken
        from ``previous``, custom values included. Returns how many rows were carried.
        """
        spec = model.table(table)
        if spec.key != "id":
            raise ValueError(f"{table} cannot be carried forward (no id key)")
        deleted = pa.table({"id": pa.array([str(i) for i in deleted_ids], pa.string())})
        with self._lock:
            con = self.connection
            attached = {r[0] for r in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
            if "previous_snapshot" in attached:
                con.execute("DETACH previous_snapshot")
            con.execute(f"ATTACH {quote_literal(str(previous))} AS previous_snapshot (READ_ONLY)")
            try:
                con.register("_deleted", deleted)
                carried = (
                    f"SELECT p.* FROM previous_snapshot.{SCHEMA}.{table} p WHERE p.tenant = $tenant "
                    f"AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.{table} c WHERE c.tenant = $tenant AND c.id = p.id) "
                    "AND NOT EXISTS (SELECT 1 FROM _deleted d WHERE d.id = p.id)"
                )
                con.execute(f"CREATE OR REPLACE TEMP TABLE _carried AS {carried}", {"tenant": tenant})
                count = _first(con.execute("SELECT count(*) FROM _carried"))[0]
                con.execute(f"INSERT INTO {SCHEMA}.{table} BY NAME SELECT * FROM _carried")
                con.execute(
                    f"INSERT INTO {SCHEMA}.custom_values SELECT v.* FROM previous_snapshot.{SCHEMA}.custom_values v "
                    "WHERE v.tenant = $tenant AND v.object = $table AND v.record_id IN (SELECT id FROM _carried)",
                    {"tenant": tenant, "table": table},
                )
                prev_columns = _first(con.execute(
                    f"SELECT columns FROM previous_snapshot.{SCHEMA}._tables WHERE tenant = ? AND table_name = ?",
                    [tenant, table]))
                con.execute("DROP TABLE _carried")
            finally:
                con.unregister("_deleted")
                con.execute("DETACH previous_snapshot")
        self.mark(tenant, table, add_rows=count, columns=(prev_columns[0] if prev_columns else []) or [])
        return count

    # -- bookkeeping ---------------------------------------------------------
    def _status_row(self, tenant: str, table: str):
        return _first(self.connection.execute(
            f"SELECT status, rows, columns FROM {SCHEMA}._tables WHERE tenant = ? AND table_name = ?",
            [tenant, table],
        ))

    def mark(self, tenant: str, table: str, *, status: str | None = None, add_rows: int = 0,
             columns: Iterable[str] = ()) -> None:
        """Record that ``table`` was (partly) supplied for ``tenant``."""
        with self._lock:
            row = self._status_row(tenant, table)
            if row is None:
                self.connection.execute(
                    f"INSERT INTO {SCHEMA}._tables VALUES (?, ?, ?, ?, ?)",
                    [tenant, table, status or "partial", add_rows, sorted(set(columns))],
                )
            else:
                cols = sorted(set(row[2] or []) | set(columns))
                self.connection.execute(
                    f"UPDATE {SCHEMA}._tables SET status = ?, rows = rows + ?, columns = ? "
                    "WHERE tenant = ? AND table_name = ?",
                    [status or row[0], add_rows, cols, tenant, table],
                )

    def supplied(self, tenant: str) -> dict[str, set[str]]:
        rows = self.connection.execute(
            f"SELECT table_name, columns FROM {SCHEMA}._tables WHERE tenant = ?", [tenant]
        ).fetchall()
        out = {name: set(cols or []) for name, cols in rows}
        if "custom_values" not in out and any(t in out for t in model.CUSTOM_FIELD_TABLES):
            out["custom_values"] = {"object", "record_id", "field", "value"}
        return out

    def table_status(self, tenant: str) -> dict[str, str]:
        rows = self.connection.execute(
            f"SELECT table_name, status FROM {SCHEMA}._tables WHERE tenant = ?", [tenant]
        ).fetchall()
        return dict(rows)

    def counts(self, tenant: str) -> dict[str, int]:
        out = {}
        for name in self.supplied(tenant):
            if name in model.TABLES:
                out[name] = _first(self.connection.execute(
                    f"SELECT count(*) FROM {SCHEMA}.{name} WHERE tenant = ?", [tenant]))[0]
        return out

    def tenants(self) -> list[str]:
        return [r[0] for r in self.connection.execute(f"SELECT DISTINCT tenant FROM {SCHEMA}._tables ORDER BY 1").fetchall()]

    # -- writes ---------------------------------------------------------------
    def insert_rows(self, tenant: str, table: str, rows: list[dict], *, staged: bool = False) -> int:
        """Insert a batch of canonical rows (dicts; see crm_audit_core.connector).

        ``staged``: into the table's staging area instead, until :meth:`commit_staged`.
        """
        if not rows:
            return 0
        spec = model.table(table)
        present: list[str] = []
        seen = set()
        for row in rows:
            for key in row:
                if key not in seen:
                    seen.add(key)
        present = [c.name for c in spec.columns if c.name in seen]
        columns: dict[str, pa.Array] = {}
        for name in present:
            typ = spec.column(name).type
            values = [row.get(name) for row in rows]
            columns[name] = self._arrow_column(table, name, typ, values)
        raw = [None if row.get("raw") is None else (row["raw"] if isinstance(row["raw"], str) else json.dumps(row["raw"], default=_json_default, ensure_ascii=False)) for row in rows]
        columns["raw"] = pa.array(raw, pa.string())
        batch = pa.table(columns)
        self._insert_arrow(tenant, table, batch, present, strict=True, staged=staged)
        custom = [
            (str(row.get(spec.key)), str(k), None if v is None else (v if isinstance(v, str) else json.dumps(v, default=_json_default, ensure_ascii=False)))
            for row in rows
            for k, v in (row.get("custom") or {}).items()
            if v is not None and v != ""
        ]
        if custom:
            self.insert_custom(tenant, table, custom, staged=staged)
        # staged rows are counted when they are committed; their columns are recorded now
        self.mark(tenant, table, add_rows=0 if staged else len(rows), columns=present)
        return len(rows)

    @staticmethod
    def _arrow_column(table: str, name: str, typ: str, values: list) -> pa.Array:
        if typ == "list":
            fixed = []
            for v in values:
                if v is None:
                    fixed.append(None)
                elif isinstance(v, str):
                    fixed.append([p for p in v.split(";") if p] or None)
                else:
                    fixed.append([str(p) for p in v])
            return pa.array(fixed, pa.list_(pa.string()))
        if typ == "timestamp":
            values = [_to_utc_naive(v) for v in values]
        try:
            return pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return pa.array([None if v is None else (v.isoformat() if isinstance(v, (datetime, date)) else str(v)) for v in values], pa.string())

    def _insert_arrow(self, tenant: str, table: str, batch: pa.Table, present: list[str], *, strict: bool,
                      staged: bool = False) -> None:
        spec = model.table(table)
        select = [quote_literal(tenant) + " AS tenant"]
        for name in present:
            typ = spec.column(name).type
            src = quote_ident(name)
            if typ == "list":
                expr = f"CAST({src} AS VARCHAR[])"
            else:
                expr = cast_expression(src, typ, strict=strict)
            select.append(f"{expr} AS {quote_ident(name)}")
        select.append("raw AS raw" if "raw" in batch.column_names else "NULL AS raw")
        target = ", ".join(["tenant", *map(quote_ident, present), "raw"])
        with self._lock:
            con = self.connection
            try:
                con.register("_batch", batch)
                into = f"_staged_{table}" if staged else table
                con.execute(f"INSERT INTO {SCHEMA}.{into} ({target}) SELECT {', '.join(select)} FROM _batch")
            except duckdb.Error as exc:
                raise DataError(_("cannot store the rows of {table}: {problem}", table=table, problem=str(exc).splitlines()[0]),
                                where=f"{tenant}/{table}") from None
            finally:
                con.unregister("_batch")

    def insert_arrow(self, tenant: str, table: str, typed: pa.Table) -> int:
        """Insert an Arrow table whose columns are canonical columns in the store's types."""
        spec = model.table(table)
        present = [c for c in spec.column_names if c in typed.column_names]
        self._insert_arrow(tenant, table, typed, present, strict=True)
        self.mark(tenant, table, add_rows=typed.num_rows, columns=present)
        return typed.num_rows

    def insert_custom_arrow(self, tenant: str, table: str, custom: pa.Table, *, staged: bool = False) -> None:
        """Insert custom values given as an Arrow table (record_id, field, value)."""
        into = "_staged_custom_values" if staged else "custom_values"
        with self._lock:
            con = self.connection
            try:
                con.register("_custom", custom)
                con.execute(
                    f"INSERT INTO {SCHEMA}.{into} SELECT ?, ?, record_id, field, value FROM _custom",
                    [tenant, table],
                )
            finally:
                con.unregister("_custom")

    def insert_query(self, tenant: str, table: str, select: str, present: list[str], custom: str | None = None, *,
                     on_progress=None) -> int:
        """Insert the rows of a DuckDB query into ``table``, in one transaction of the store:
        ``select`` gives the canonical columns ``present`` in the store's types (in that
        order), ``custom`` (or None) the table's custom values as (record_id, field, value).
        The queries read what any DuckDB connection can (``read_csv(...)`` of a file), so the
        rows go from the file to the store without passing through Python.

        ``on_progress(done)`` is called a few times a second with the share done (0 to 1),
        from another thread. A failure rolls the table back and raises a DataError.
        Returns the rows inserted.
        """
        target = ", ".join(["tenant", *map(quote_ident, present), "raw"])
        columns = ", ".join(quote_ident(name) for name in present)
        steps = [f"INSERT INTO {SCHEMA}.{table} ({target}) SELECT {quote_literal(tenant)}, {columns}, NULL FROM ({select})"]
        if custom:
            steps.append(f"INSERT INTO {SCHEMA}.custom_values SELECT {quote_literal(tenant)}, {quote_literal(table)}, "
                         f"record_id, field, value FROM ({custom})")
        # the typed rows are most of the work; the custom values, one narrow row a cell, the rest
        weights = [0.6, 0.4] if custom else [1.0]
        with self._lock:
            cursor = self.connection.cursor()  # its own client context: its progress can be polled
            stop = threading.Event()
            step = [0]
            poller = None
            if on_progress is not None:
                cursor.execute("SET enable_progress_bar = true")
                cursor.execute("SET enable_progress_bar_print = false")

                def poll():
                    while not stop.wait(0.25):
                        try:
                            share = cursor.query_progress()
                        except duckdb.Error:
                            continue
                        if share >= 0:
                            done = sum(weights[:step[0]]) + weights[step[0]] * min(share, 100.0) / 100
                            on_progress(done)

                poller = threading.Thread(target=poll, name="crm-audit-load-progress", daemon=True)
                poller.start()
            try:
                cursor.execute("BEGIN TRANSACTION")
                rows = 0
                for i, sql in enumerate(steps):
                    step[0] = i
                    result = cursor.execute(sql).fetchall()
                    if i == 0:
                        rows = int(result[0][0]) if result else 0
                cursor.execute("COMMIT")
            except BaseException as exc:
                try:
                    cursor.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                if isinstance(exc, (duckdb.Error, RuntimeError)):
                    raise_insert_error(exc, tenant, table)
                raise
            finally:
                stop.set()
                if poller is not None:
                    poller.join()
                cursor.close()
        if on_progress is not None:
            on_progress(1.0)
        self.mark(tenant, table, add_rows=rows, columns=present)
        return rows

    def insert_custom(self, tenant: str, table: str, values: list[tuple[str, str, str | None]], *,
                      staged: bool = False) -> None:
        batch = pa.table({
            "record_id": pa.array([v[0] for v in values], pa.string()),
            "field": pa.array([v[1] for v in values], pa.string()),
            "value": pa.array([v[2] for v in values], pa.string()),
        })
        self.insert_custom_arrow(tenant, table, batch, staged=staged)

    def execute(self, sql: str, params=None):
        with self._lock:
            return self.connection.execute(sql, params or [])

    def delete_tenant(self, tenant: str) -> None:
        with self._lock:
            for name in [*model.TABLES, "custom_values", "_tables"]:
                self.connection.execute(f"DELETE FROM {SCHEMA}.{name} WHERE tenant = ?", [tenant])
            self.clear_staged(tenant)

    # -- reads ----------------------------------------------------------------
    def tenant_cursor(self, tenant: str):
        """A cursor where ``users``, ``contacts``, ... are views of this tenant's rows."""
        cursor = self.connection.cursor()
        cursor.execute("SET TimeZone='UTC'")
        lit = quote_literal(tenant)
        for name in [*model.TABLES, "custom_values"]:
            cursor.execute(
                f"CREATE OR REPLACE TEMP VIEW {name} AS "
                f"SELECT * EXCLUDE (tenant) FROM {SCHEMA}.{name} WHERE tenant = {lit}"
            )
        return cursor

    def read_columns(self, tenant: str, table: str, columns: list[str] | tuple[str, ...]) -> list[tuple]:
        """Canonical ``columns`` of ``table`` for ``tenant``, one tuple a row (read-back for connectors)."""
        spec = model.table(table)
        unknown = [c for c in columns if c not in spec.column_names]
        if unknown:
            raise ValueError(f"{table} has no column {unknown[0]!r}")
        select = ", ".join(quote_ident(c) for c in columns)
        with self._lock:
            return self.connection.execute(
                f"SELECT {select} FROM {SCHEMA}.{table} WHERE tenant = ?", [tenant]).fetchall()

    def lookup(self, tenant: str, table: str, key_column: str, value_columns, keys, *, cache: bool = False) -> dict:
        """``{key: (values...)}`` for the rows of ``table`` whose ``key_column`` is in ``keys``.

        One query for all the keys (a page's worth). ``cache``: the table will not change
        any more (complete), so its key and value columns are copied once into a narrow
        temporary table that later lookups scan instead (much faster than the compressed
        table; it lives in DuckDB's buffer pool, under its memory limit, until
        :meth:`drop_lookups`).
        """
        spec = model.table(table)
        columns = [key_column, *value_columns]
        unknown = [c for c in columns if c not in spec.column_names]
        if unknown:
            raise ValueError(f"{table} has no column {unknown[0]!r}")
        wanted = sorted({str(k) for k in keys if k is not None})
        if not wanted:
            return {}
        key = quote_ident(key_column)
        if spec.column(key_column).type != "str":
            key = f"CAST({key} AS VARCHAR)"
        values = "".join(f", {quote_ident(c)}" for c in value_columns)
        with self._lock:
            con = self.connection
            source, where, params = f"{SCHEMA}.{table}", "tenant = ? AND ", [tenant]
            if cache:
                name = self._lookups.get((tenant, table, tuple(columns)))
                if name is None:
                    self._lookup_serial += 1
                    name = f"_lookup_{self._lookup_serial}"
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {key} AS key{values} "
                                f"FROM {SCHEMA}.{table} WHERE tenant = ?", [tenant])
                    self._lookups[(tenant, table, tuple(columns))] = name
                source, key, where, params = name, "key", "", []
            try:
                con.register("_lookup_keys", pa.table({"key": pa.array(wanted, pa.string())}))
                rows = con.execute(f"SELECT {key}{values} FROM {source} WHERE {where}"
                                   f"{key} IN (SELECT key FROM _lookup_keys)", params).fetchall()
            finally:
                con.unregister("_lookup_keys")
        return {row[0]: row[1:] for row in rows}

    def drop_lookups(self, tenant: str | None = None, table: str | None = None) -> None:
        """Drop the temporary tables of cached lookups (all, or one tenant's table's)."""
        with self._lock:
            for spec, name in list(self._lookups.items()):
                if (tenant is None or spec[0] == tenant) and (table is None or spec[1] == table):
                    self.connection.execute(f"DROP TABLE IF EXISTS temp.main.{name}")
                    del self._lookups[spec]

    def table_rows(self, tenant: str, table: str) -> list[dict]:
        cursor = self.connection.execute(
            f"SELECT * EXCLUDE (tenant) FROM {SCHEMA}.{table} WHERE tenant = ? ORDER BY 1", [tenant]
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]


def fetch_arrow(cursor) -> pa.Table:
    """The cursor's result as an Arrow table (DuckDB renamed this method in 2.0)."""
    import warnings

    method = getattr(cursor, "to_arrow_table", None) or getattr(cursor, "fetch_arrow_table")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DuckDB warns about the copy; the tables here are modest
        return method()
