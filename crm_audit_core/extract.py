"""Runs connectors into the store: batching, progress bars and partial-result marking.

:class:`StoreSink` is the :class:`~crm_audit_core.connector.Sink` the runner hands a
connector: rows are buffered per table and written in batches; a table begun but never
completed stays marked *partial*; a failed connector keeps what it had read.
:class:`MemorySink` keeps rows in memory, for connector tests.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from . import model
from .connector import ConnectorInfo, ExtractContext
from .errors import ConnectorError, CrmAuditError, stop_if_interrupted
from .i18n import Message, _
from .secrets import redact
from .store import fetch_arrow, quote_ident, raise_insert_error

BATCH_ROWS = 5000
# DuckDB keeps every block it wrote in its buffer pool (default limit: 80% of RAM), so an
# extraction's memory would grow with the tenant; written blocks are on disk already.
EXTRACT_MEMORY_LIMIT = "1GB"
# The checks run under a cap too: DuckDB keeps the blocks it read cached up to its limit, so
# an audit's memory would follow the machine's RAM rather than what the checks need (2.2 GiB
# at 1M contacts); joins, sorts and group-bys bigger than the cap spill to the store's
# temporary folder instead. 640 MB: a hash aggregate fills whatever the cap allows (the custom
# fields' distinct counts at 1M contacts: 0.9 GB under 1 GB, 0.5 GB under 512 MB, in the same
# time), on top of what the duplicate checks keep in Python; under 1 GB the audit peaked at
# 1.54 GiB, under 640 MB at 1.2 GiB, the checks as fast (docs/performance.md).
CHECK_MEMORY_LIMIT = "640MB"


class _CountingProgress:
    """Counts what a table read did (records, calls, seconds waited) without showing a bar."""

    def __init__(self):
        self.records = 0
        self.calls = 0
        self.waited = 0.0

    def advance(self, records: int = 0, calls: int = 0) -> None:
        self.records += records
        self.calls += calls

    def set_total(self, total):
        pass

    def discard(self) -> None:
        """The read this handle counted was rolled back: forget it (and its bar)."""

    def waiting(self, seconds: float) -> None:
        self.waited += seconds


class _BarProgress(_CountingProgress):
    def __init__(self, progress: Progress, task_id):
        super().__init__()
        self._progress = progress
        self._task = task_id

    def _refresh(self):
        self._progress.update(self._task, completed=self.records, calls=self.calls, waited=f"{self.waited:.1f}s")

    def advance(self, records: int = 0, calls: int = 0) -> None:
        super().advance(records, calls)
        self._refresh()

    def set_total(self, total):
        self._progress.update(self._task, total=total)

    def discard(self) -> None:
        self._progress.remove_task(self._task)

    def waiting(self, seconds: float) -> None:
        super().waiting(seconds)
        self._refresh()


class ProgressBoard:
    """One rich progress display for an audit; silent when stderr is not a terminal."""

    def __init__(self, console: Console | None = None, enabled: bool | None = None):
        self.console = console or Console(stderr=True)
        enabled = self.console.is_terminal if enabled is None else enabled
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("calls {task.fields[calls]}  waited {task.fields[waited]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not enabled,
            transient=False,
        )
        self.enabled = enabled

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def task(self, tenant: str, table: str, total: int | None):
        if not self.enabled:
            return _CountingProgress()
        task_id = self.progress.add_task(f"{tenant}: {table}", total=total, calls=0, waited="0.0s")
        return _BarProgress(self.progress, task_id)


class _BaseSink:
    def __init__(self, tenant: str):
        self.tenant = tenant
        self.completed: set[str] = set()
        self.begun: set[str] = set()
        self.notes: list[str] = []
        self.unreadable_cells: list[tuple] = []
        # what the connector could not read at run time: "table" or "table.column" -> why
        self.unavailable_reasons: dict[str, str] = {}

    def _check_table(self, table: str) -> None:
        if table not in model.TABLES:
            raise ConnectorError(
                _("connector wrote unknown table {table}", table=repr(table)),
                where=self.tenant,
                hint=_("canonical tables are {tables}", tables=", ".join(model.TABLES)),
            )

    def note(self, message: str) -> None:
        self.notes.append(redact(message))

    def unreadable(self, table: str, column: str, cells: int, expected: str, examples: list[str]) -> None:
        """``cells`` values of ``table.column`` could not be read as ``expected`` (a date, a
        number...) and were read as empty; ``data.unrecognised-values`` reports them."""
        self._check_table(table)
        self.unreadable_cells.append((table, column, int(cells), expected, [redact(str(e)) for e in examples]))

    def unavailable(self, table_or_column: str, reason: str) -> None:
        """Say that ``table_or_column`` ("security_settings" or "users.mfa_enabled") could
        not be read on this tenant, and why (e.g. the permission the audit user lacks, and
        how to grant it). The runner adds it to the connector's limitations for this
        tenant, so a check that needs it is skipped with this reason."""
        table, _sep, column = str(table_or_column).partition(".")
        self._check_table(table)
        if column and column not in model.TABLES[table].column_names:
            raise ConnectorError(
                _("connector declared unknown column {column} unavailable", column=repr(table_or_column)),
                where=self.tenant,
                hint=_("columns of {table} are {columns}", table=table, columns=", ".join(model.TABLES[table].column_names)),
            )
        if not str(reason or "").strip():
            raise ConnectorError(_("connector declared {what} unavailable without a reason", what=repr(table_or_column)),
                                 where=self.tenant, hint=_("say why, and how to give the audit user access"))
        reason = redact(reason if isinstance(reason, Message) else str(reason).strip())
        self.unavailable_reasons[str(table_or_column)] = reason
        self.notes.append(_("could not read {what}: {reason}", what=str(table_or_column), reason=reason))

    def progress(self, table: str, total: int | None = None):
        return _CountingProgress()


class MemorySink(_BaseSink):
    """Keeps everything in memory: ``rows[table]`` lists, for connector tests."""

    def __init__(self, tenant: str = "test"):
        super().__init__(tenant)
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.checkpoints: dict[str, list[dict]] = {}
        self.carried: list = []

    def write(self, table: str, rows: Iterable[dict]) -> int:
        self._check_table(table)
        rows = list(rows)
        self.begun.add(table)
        self.rows[table].extend(rows)
        return len(rows)

    def write_arrow(self, table: str, typed, custom=None) -> int:
        """An Arrow table of canonical columns as rows (custom fields under ``"custom"``)."""
        rows = typed.to_pylist()
        if custom is not None and custom.num_rows:
            key = model.TABLES[table].key
            by_id: dict[str, dict] = {}
            for rec in custom.to_pylist():
                by_id.setdefault(rec["record_id"], {})[rec["field"]] = rec["value"]
            for row in rows:
                extra = by_id.get(str(row.get(key)))
                if extra:
                    row["custom"] = extra
        return self.write(table, rows)

    def write_arrow_batches(self, table: str, batches) -> int:
        """``(typed, custom)`` pairs, each as :meth:`write_arrow` writes it."""
        return sum(self.write_arrow(table, typed, custom) for typed, custom in batches)

    def write_query(self, table: str, select: str, columns: list[str], custom: str | None = None, *,
                    total: int | None = None) -> int:
        """The query's rows as :meth:`write_arrow` writes them (run in a fresh DuckDB)."""
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone='UTC'")
            typed = fetch_arrow(con.execute(f"SELECT {', '.join(map(quote_ident, columns))} FROM ({select})"))
            values = fetch_arrow(con.execute(f"SELECT record_id, field, value FROM ({custom})")) if custom else None
        except (duckdb.Error, RuntimeError) as exc:  # as the store says it
            raise_insert_error(exc, self.tenant, table)
        finally:
            con.close()
        return self.write_arrow(table, typed, values)

    def complete(self, table: str) -> None:
        self._check_table(table)
        self.begun.add(table)
        self.completed.add(table)

    def is_complete(self, table: str) -> bool:
        return False

    def resume_state(self, table: str) -> dict | None:
        return None

    def checkpoint(self, table: str, state: dict) -> None:
        self._check_table(table)
        self.checkpoints.setdefault(table, []).append(state)

    def stored(self, table: str, columns) -> list[tuple]:
        self._check_table(table)
        return [tuple(row.get(c) for c in columns) for row in self.rows.get(table, [])]

    def lookup(self, table: str, key_column: str, value_columns, keys) -> dict:
        self._check_table(table)
        wanted = {str(k) for k in keys if k is not None}
        found = {}
        for row in self.rows.get(table, []):
            key = row.get(key_column)
            if key is not None and str(key) in wanted:
                found[str(key)] = tuple(row.get(c) for c in value_columns)
        return found

    def carry_forward(self, table: str, previous, deleted_ids=()) -> int:
        self.carried.append((table, previous, list(deleted_ids)))
        return 0


class StoreSink(_BaseSink):
    """Buffers rows per table and writes them to the store in batches.

    Resumable connectors call :meth:`checkpoint` after each page: the page's rows and the
    connector's cursor state are committed together, so an interrupted audit resumes
    exactly there (``crm-audit run --resume``) with no duplicate and no missing record.
    Once a table has a checkpoint, its full batches go to the table's staging area in the
    store and move into the table at the next checkpoint, in the same transaction as the
    state: memory stays at one batch however far apart the checkpoints are, and rows past
    the last checkpoint never reach the table (a failure or a kill drops them; a resumed
    run starts with an empty staging area).
    """

    def __init__(self, store, tenant: str, board: ProgressBoard | None = None, batch_rows: int = BATCH_ROWS,
                 *, resuming: bool = False):
        super().__init__(tenant)
        self.store = store
        self.board = board
        self.batch_rows = batch_rows
        self.buffers: dict[str, list[dict]] = defaultdict(list)
        self._staged: set[str] = set()  # tables with rows in the store's staging area
        self.written: dict[str, int] = defaultdict(int)
        self._checkpointed: set[str] = set()
        self._done_before: set[str] = set()
        self.carried: dict[str, int] = {}
        store.clear_staged(tenant)  # left by a run that was killed: past its last checkpoint
        if resuming:
            for table, status in store.table_status(tenant).items():
                if status == "complete":
                    self._done_before.add(table)
                    self.completed.add(table)
                    self.begun.add(table)
                elif store.checkpoint_of(tenant, table) is None:
                    store.clear_table(tenant, table)  # no safe point to resume from: read it again
                else:
                    self.begun.add(table)
                    self._checkpointed.add(table)

    # -- resumable audits ----------------------------------------------------
    def is_complete(self, table: str) -> bool:
        """True when an earlier, interrupted run of this audit already read ``table``."""
        return table in self._done_before

    def resume_state(self, table: str) -> dict | None:
        """The state given to the last :meth:`checkpoint` of ``table`` (None: start over)."""
        if table in self._done_before:
            return None
        return self.store.checkpoint_of(self.tenant, table)

    def checkpoint(self, table: str, state: dict) -> None:
        """Commit the rows written so far for ``table`` together with ``state``."""
        self._check_table(table)
        if table not in self.begun:
            self.begun.add(table)
            self.store.mark(self.tenant, table, status="partial")
        self._checkpointed.add(table)
        with self.store.transaction():
            self._flush(table)
            self.store.save_checkpoint(self.tenant, table, state)

    def stored(self, table: str, columns) -> list[tuple]:
        """``columns`` of the rows of ``table`` committed so far (by this run or the one it resumes)."""
        self._check_table(table)
        return self.store.read_columns(self.tenant, table, list(columns))

    def lookup(self, table: str, key_column: str, value_columns, keys) -> dict:
        """``{key: (values...)}`` for the committed rows of ``table`` whose ``key_column`` is
        one of ``keys`` (rows carried forward and rows of the run this one resumes included).

        One query per call: pass a page's keys at once. A complete table is copied once
        into a narrow lookup table (see :meth:`Store.lookup`).
        """
        self._check_table(table)
        return self.store.lookup(self.tenant, table, key_column, tuple(value_columns), keys,
                                 cache=table in self.completed)

    # -- incremental audits ----------------------------------------------------
    def carry_forward(self, table: str, previous, deleted_ids=()) -> int:
        """Take the rows of ``table`` this run did not re-read from the previous snapshot."""
        self._check_table(table)
        if table not in self.begun:
            self.begun.add(table)
            self.store.mark(self.tenant, table, status="partial")
        self.store.drop_lookups(self.tenant, table)
        with self.store.transaction():
            self._flush(table)
        count = self.store.carry_forward(self.tenant, table, previous.path, deleted_ids)
        self.carried[table] = self.carried.get(table, 0) + count
        return count

    def write(self, table: str, rows: Iterable[dict]) -> int:
        self._check_table(table)
        if table not in self.begun:
            self.begun.add(table)
            self.store.mark(self.tenant, table, status="partial")
        if table in self._done_before:
            raise ConnectorError(_("connector wrote to {table}, which an earlier run of this audit completed", table=table),
                                 where=self.tenant,
                                 hint=_("the connector must check {call} when resuming", call="sink.is_complete(table)"))
        self.store.drop_lookups(self.tenant, table)  # the table changes: a cached lookup would be stale
        buffer = self.buffers[table]
        n = 0
        for row in rows:
            buffer.append(row)
            n += 1
            if len(buffer) >= self.batch_rows:
                if table in self._checkpointed:
                    self._stage(table)  # until the next checkpoint
                else:
                    self._flush(table)
                buffer = self.buffers[table]
        return n

    def _stage(self, table: str) -> None:
        buffer = self.buffers.get(table)
        if buffer:
            self.store.insert_rows(self.tenant, table, buffer, staged=True)
            self._staged.add(table)
            self.buffers[table] = []

    def _flush(self, table: str) -> None:
        """Commit the table's staged and buffered rows (inside a transaction when they must
        go with a checkpoint)."""
        if table in self._staged:
            self.written[table] += self.store.commit_staged(self.tenant, table)
            self._staged.discard(table)
        buffer = self.buffers.get(table)
        if buffer:
            self.written[table] += self.store.insert_rows(self.tenant, table, buffer)
            self.buffers[table] = []

    def flush_all(self) -> None:
        for table in list(self.buffers) + sorted(self._staged - set(self.buffers)):
            self._flush(table)

    def keep_what_is_safe(self) -> None:
        """After a failure: write buffered rows, except those past a table's last checkpoint.

        Rows after a checkpoint will be read again by ``--resume``; writing them now would
        duplicate them.
        """
        for table in list(self.buffers):
            if table in self._checkpointed:
                self.buffers[table] = []
            else:
                self._flush(table)
        for table in sorted(self._staged):
            self.store.clear_staged(self.tenant, table)
        self._staged.clear()

    def write_arrow(self, table: str, typed, custom=None) -> int:
        """Write an Arrow table already in the store's types (bulk loaders, files)."""
        self._check_table(table)
        if table not in self.begun:
            self.begun.add(table)
            self.store.mark(self.tenant, table, status="partial")
        self.store.drop_lookups(self.tenant, table)
        self.store.insert_arrow(self.tenant, table, typed)
        if custom is not None and custom.num_rows:
            self.store.insert_custom_arrow(self.tenant, table, custom)
        self.written[table] += typed.num_rows
        return typed.num_rows

    def write_arrow_batches(self, table: str, batches) -> int:
        """``(typed, custom)`` pairs, each as :meth:`write_arrow` writes it, in one transaction:
        DuckDB writes full row groups of a transaction straight into the file, where batches
        committed one by one would go through the write-ahead log and be written again at its
        checkpoint (half the time of a big table's load). A failure rolls the table back."""
        before = self.written[table]
        try:
            with self.store.transaction():
                return sum(self.write_arrow(table, typed, custom) for typed, custom in batches)
        except BaseException:
            self.written[table] = before
            raise

    def write_query(self, table: str, select: str, columns: list[str], custom: str | None = None, *,
                    total: int | None = None) -> int:
        """The query's rows, inserted by the store in one transaction (see Sink.write_query);
        the progress bar follows DuckDB's own progress of the queries."""
        self._check_table(table)
        if table not in self.begun:
            self.begun.add(table)
            self.store.mark(self.tenant, table, status="partial")
        self.store.drop_lookups(self.tenant, table)
        progress = self.progress(table, total)
        shown = [0]

        def advance(done: float) -> None:
            if total:
                now = min(total, int(total * done))
                if now > shown[0]:
                    progress.advance(records=now - shown[0])
                    shown[0] = now

        try:
            rows = self.store.insert_query(self.tenant, table, select, list(columns), custom,
                                           on_progress=advance if self.board is not None and total else None)
        except BaseException:
            progress.discard()  # nothing of it was written
            raise
        progress.set_total(rows)  # ``total`` may have been an estimate
        if shown[0] != rows:
            progress.advance(records=rows - shown[0])
        self.written[table] += rows
        return rows

    def complete(self, table: str) -> None:
        self._check_table(table)
        if table in self._done_before:
            return
        if table not in self.begun:
            self.begun.add(table)
        with self.store.transaction():
            self._flush(table)
            self.completed.add(table)
            self.store.mark(self.tenant, table, status="complete")

    def unreadable(self, table: str, column: str, cells: int, expected: str, examples: list[str]) -> None:
        super().unreadable(table, column, cells, expected, examples)
        self.store.record_unreadable(self.tenant, *self.unreadable_cells[-1])

    def progress(self, table: str, total: int | None = None):
        if self.board is None:
            return _CountingProgress()
        return self.board.task(self.tenant, table, total)

    @property
    def partial_tables(self) -> list[str]:
        return sorted(self.begun - self.completed)


@dataclass
class ExtractOutcome:
    tenant: str
    connector: str
    api_calls: int = 0
    seconds: float = 0.0
    error: CrmAuditError | None = None
    partial_tables: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    carried: dict[str, int] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def run_connector(info: ConnectorInfo, options: dict, tenant: str, store, as_of, *,
                  board: ProgressBoard | None = None, debug: bool = False, settings: dict | None = None,
                  previous=None, resuming: bool = False, lang: str = "en") -> ExtractOutcome:
    """Run one connector for one tenant into ``store``; never raises a connector's error.

    The outcome carries the error (one clear line) and the tables left partial; rows read
    before a failure stay in the store, marked partial.
    """
    outcome = ExtractOutcome(tenant=tenant, connector=info.name)
    started = time.monotonic()
    if resuming and not info.resumable:
        store.delete_tenant(tenant)  # this connector cannot resume: read the tenant again, from the start
        resuming = False
    sink = StoreSink(store, tenant, board, resuming=resuming)
    connector = None
    store.set_memory_limit(EXTRACT_MEMORY_LIMIT)  # memory stays bounded while pages stream in
    try:
        context = ExtractContext(tenant=tenant, as_of=as_of, debug=debug, settings=settings or {},
                                 previous=previous if info.incremental else None, resuming=resuming, lang=lang)
        connector = info.factory(options, context)
        connector.extract(sink)
        sink.flush_all()
    except CrmAuditError as exc:
        if debug:
            raise
        _keep_partial(sink)
        if not exc.where:
            exc.where = tenant
        outcome.error = exc
    except Exception as exc:  # a connector bug must not lose what was read
        stop_if_interrupted(exc)  # a Ctrl-C DuckDB turned into an error stops the audit
        if debug:
            raise
        _keep_partial(sink)
        outcome.error = ConnectorError(
            _("connector {connector} failed: {kind}: {problem}", connector=repr(info.name), kind=type(exc).__name__,
              problem=redact(str(exc)).splitlines()[0] if str(exc) else ""),
            where=tenant,
            hint=_("run again with --debug for the traceback"),
        )
    store.drop_lookups(tenant)
    store.set_memory_limit(CHECK_MEMORY_LIMIT)  # and the checks after it
    outcome.partial_tables = sink.partial_tables
    outcome.carried = dict(sink.carried)
    outcome.notes = list(sink.notes)
    outcome.unavailable = dict(sink.unavailable_reasons)
    try:
        outcome.api_calls = int(connector.api_calls()) if connector is not None else 0
    except Exception:
        outcome.api_calls = 0
    outcome.seconds = time.monotonic() - started
    return outcome


def _keep_partial(sink: StoreSink) -> None:
    try:
        sink.keep_what_is_safe()
    except CrmAuditError:
        pass
