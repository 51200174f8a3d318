"""The files connector (built in): audits a folder of ``<table>.csv`` / ``<table>.parquet``.

Each file holds one canonical table (columns of :mod:`crm_audit_core.model`); a missing
file means the table was not supplied; columns that are not canonical are custom fields.
CSV conventions: a header row, empty cell = null, booleans ``true``/``false`` (also
``1``/``0``, ``yes``/``no``, ``y``/``n``), timestamps in ISO-8601 (UTC unless an offset is
given), list columns ``;``-separated. Encodings (UTF-8, UTF-16, CP949, Windows-1252),
delimiters, number and date shapes are detected by :mod:`crm_audit_core.csv_dialect`
(options ``encoding`` and ``date_order`` when they cannot be); a vendor's own export is
read through its connector's mapping (:mod:`crm_audit_core.exports`, option ``format``).

A file that cannot be read gives one error naming the file, the line and the column.
A missing folder, a folder without table files or a file that cannot be opened is a usage
error (ConfigError, exit 2) raised before anything is read.

Bad cells (a value that does not fit its column's type: ``abc`` for a number, ``maybe``
for a boolean, ``31/12/2026`` for a date) are read as empty and counted: the report notes
each table's bad cells by column with the first lines and values. Option
``max_bad_cells`` decides when there are too many: a count (``50``: at most 50 bad cells
per table) or a share of the table's typed cells (``"1%"``, the default); more fails the
tenant with an error naming the first bad cell (exit 3). ``max_bad_cells = 0`` refuses any.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from . import csv_dialect, exports, hookimpl, model
from .connector import ConnectorInfo, ExtractContext
from .errors import ConfigError, DataError
from .headers import header_warning
from .i18n import Message, _, ngettext
from .kit.options import Option, Options
from .store import cast_expression, quote_ident

# TRANSLATORS: what a cell of a typed column must be ("'abc' is not a whole number")
TYPE_WORDS = {
    "int": _("a whole number"),
    "float": _("a number"),
    "bool": _("true or false"),
    "timestamp": _("an ISO-8601 date or timestamp"),
}

_BOOL_WORDS = "('true','false','t','f','1','0','yes','no','y','n')"
DEFAULT_MAX_BAD_CELLS = "1%"
EXAMPLES = 3  # bad cells shown per column


class BadCellLimit:
    """``max_bad_cells``: a count of cells, or a share of a table's typed cells (``"1%"``)."""

    def __init__(self, value=DEFAULT_MAX_BAD_CELLS, where: str = "files"):
        text = str(value).strip()
        self.text = text
        try:
            if isinstance(value, bool):
                raise ValueError
            if text.endswith("%"):
                self.share, self.count = float(text[:-1]) / 100, None
                if not 0 <= self.share <= 1:
                    raise ValueError
            else:
                number = float(text)
                if number < 0 or number != int(number):
                    raise ValueError
                self.share, self.count = None, int(number)
        except ValueError:
            raise ConfigError(_("option {option} of the files connector must be a whole number of cells "
                                "or a percentage such as {example}, got {value}", option="'max_bad_cells'",
                                example="'1%'", value=repr(value)), where=where) from None

    def exceeded(self, bad: int, cells: int) -> bool:
        if self.count is not None:
            return bad > self.count
        return bad > self.share * cells


class FilesConnector:
    def __init__(self, folder: Path, max_bad_cells: BadCellLimit | str | int = DEFAULT_MAX_BAD_CELLS,
                 encoding: str | None = None, date_order: str | None = None):
        self.folder = folder
        self.encoding, self.date_order = encoding, date_order
        self.max_bad_cells = max_bad_cells if isinstance(max_bad_cells, BadCellLimit) else BadCellLimit(max_bad_cells)
        self._unreadable: list[tuple] = []  # (column, cells, expected, examples) of the table being read

    def api_calls(self) -> int:
        return 0

    def extract(self, sink) -> None:
        found = False
        for table in model.TABLES.values():
            path = self._find(table.name)
            if path is None:
                continue
            found = True
            if hasattr(sink, "write_query") and self._straight_in(table, path, sink):
                sink.complete(table.name)
                continue
            self._unreadable = []
            reading = self._open(table, path)
            try:
                if reading.note:
                    sink.note(reading.note)
                for column, cells, expected, examples in self._unreadable:
                    sink.unreadable(table.name, column, cells, expected, examples)
                warning = header_warning(table, path)
                if warning:
                    sink.note(warning)
                progress = sink.progress(table.name, reading.rows)
                sink.write_arrow_batches(table.name, _advancing(reading.batches(), progress))
                sink.complete(table.name)
            finally:
                reading.close()
        if not found:
            raise DataError(
                _("no canonical table files found (expected e.g. {examples}; known tables: {tables})",
                  examples="contacts.csv, users.csv", tables=", ".join(model.TABLES)),
                where=str(self.folder),
            )

    def _find(self, name: str) -> Path | None:
        return find_table_file(self.folder, name)

    # -- reading and validation --------------------------------------------
    def _straight_in(self, table: model.Table, path: Path, sink) -> bool:
        """A plain CSV file (UTF-8, comma-delimited, no trailing summary line) read by DuckDB's
        own parallel CSV reader straight into the store (``sink.write_query``), every cell
        cast strictly: one pass for the rows, one for the custom values, nothing in Python.
        False when the file is not plain, or when a cell does not fit its column or DuckDB
        refuses the file: that table is rolled back and read the other way (:meth:`_open`),
        whose bad-cell notes and errors name the line."""
        if path.suffix != ".csv" or not DUCKDB_CSV or self.encoding is not None or not csv_dialect.plain_file(path):
            return False
        names = _csv_header(path)
        csv_dialect.check_header(names, path)  # duplicate or empty names, as the dialect path words them
        _check_names(table, path, names)
        reading = _Reading(self, None, table, path, names, set(names), source=_csv_source(path, names))
        try:
            sink.write_query(table.name, reading.select_sql(strict=True), reading.canonical, reading.custom_sql(),
                             total=_estimated_rows(path))
        except DataError:
            return False
        warning = header_warning(table, path)
        if warning:
            sink.note(warning)
        return True

    def _open(self, table: model.Table, path: Path) -> "_Reading":
        """The table's file as the view ``src`` of a private DuckDB connection, validated:
        read by :mod:`csv_dialect` and pyarrow (a CSV file) or pyarrow (Parquet), whose errors
        and bad cells' examples name the line. The files that go straight into the store
        (:meth:`_straight_in`) never come here; the rest do: another encoding or delimiter,
        number and date shapes to rewrite, bad cells, a wrong field count, a sink without
        ``write_query``.
        """
        self._dialect_notes: list[str] = []
        if path.suffix == ".csv":
            raw, dialect = csv_dialect.read_csv(path, self.encoding)
            raw = csv_dialect.normalise_values(raw, {c.name: c.type for c in table.columns}, path, dialect,
                                               self.date_order)
            if not dialect.plain or dialect.dropped_line:
                self._dialect_notes.append(_dialect_note(path, dialect))
        else:
            try:
                raw = pq.read_table(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataError(_("cannot read Parquet file: {problem}", problem=str(exc)), where=str(path)) from None
        names = raw.column_names
        _check_names(table, path, names)
        strings = {n for n in names if pa.types.is_string(raw.schema.field(n).type)
                   or pa.types.is_large_string(raw.schema.field(n).type)}
        con = _connection()
        con.register("src", raw.append_column("_row", pa.array(range(2, raw.num_rows + 2), pa.int64())))
        reading = _Reading(self, con, table, path, names, strings,
                           lists={n for n in names if pa.types.is_list(raw.schema.field(n).type)})
        try:
            reading.validate()
        except BaseException:
            reading.close()
            raise
        if self._dialect_notes:
            reading.note = Message.join(self._dialect_notes + ([reading.note] if reading.note else []), "; ")
        return reading

    def _select(self, table: model.Table, canonical: list[str], lists: set[str], strict: bool = False) -> list[str]:
        """The SQL expressions turning ``src``'s canonical columns into the store's types
        (``strict``: a cell that does not fit its column is an error; else it is read as empty)."""
        select = []
        for name in canonical:
            typ = table.column(name).type
            src = quote_ident(name)
            if typ == "list":
                if name in lists:
                    expr = f"CAST({src} AS VARCHAR[])"
                else:
                    # 'a; b;;c;' -> ['a', 'b', 'c'] (no lambdas: their syntax differs across DuckDB versions)
                    stripped = f"regexp_replace(trim(CAST({src} AS VARCHAR)), '^[;\\s]+|[;\\s]+$', '', 'g')"
                    expr = (f"CASE WHEN {src} IS NULL OR {stripped} = '' THEN NULL "
                            f"ELSE string_split_regex({stripped}, '\\s*;[;\\s]*') END")
            elif typ == "bool":
                expr = self._bool_expr(src, strict)
            elif typ == "str":
                expr = f"NULLIF(CAST({src} AS VARCHAR), '')"
            else:
                # bad cells (counted and noted by _validate) are read as empty
                expr = cast_expression(f"NULLIF(trim(CAST({src} AS VARCHAR)), '')", typ, strict=strict)
            select.append(f"{expr} AS {src}")
        return select

    @staticmethod
    def _bool_expr(src: str, strict: bool = False) -> str:
        v = f"lower(trim(CAST({src} AS VARCHAR)))"
        other = " ELSE error('not a boolean')" if strict else ""
        return (f"CASE WHEN {src} IS NULL OR {v} = '' THEN NULL "
                f"WHEN {v} IN ('true','t','1','yes','y') THEN TRUE "
                f"WHEN {v} IN ('false','f','0','no','n') THEN FALSE{other} END")


def _dialect_note(path: Path, dialect) -> Message:
    if dialect.dropped_line:
        return _("{file} was read as {dialect}, without its trailing summary line {line} ({text})", file=path.name,
                 dialect=dialect.describe(), line=str(dialect.dropped_line), text=repr(_shown(dialect.dropped_text)))
    return _("{file} was read as {dialect}", file=path.name, dialect=dialect.describe())


BATCH_ROWS = 100_000
"""Rows a batch the files connector hands to the sink: the whole file is never in Python."""
READER_MEMORY_LIMIT = "512MB"
DUCKDB_CSV = True
"""Plain CSV files go straight into the store (False: through the dialect path, for the tests that compare them)."""


class _Reading:
    """One table file open as the view ``src`` of a private DuckDB connection: its row
    count, its bad cells (validated on open) and its rows in the store's types, in batches."""

    def __init__(self, connector: FilesConnector, con, table: model.Table, path: Path, names: list[str],
                 strings: set[str], *, lists: set[str] = frozenset(), source: str | None = None):
        self.connector, self.con, self.table, self.path = connector, con, table, path
        self.source = source  # the file as a DuckDB table function (read_csv), when any connection can read it
        self.names, self.strings, self.lists = names, strings, lists
        self.canonical = [c for c in table.column_names if c in names]
        custom = [n for n in names if n not in self.canonical and n not in ("tenant", "raw")]
        # only record tables carry custom fields; other tables' extra columns are ignored
        self.custom = custom if table.name in model.CUSTOM_FIELD_TABLES else []
        self.rows = 0
        self.note: str | None = None

    def close(self) -> None:
        if self.con is not None:
            self.con.close()

    def select_sql(self, strict: bool = False) -> str:
        """The canonical columns in the store's types, as one query of :attr:`source`."""
        select = self.connector._select(self.table, self.canonical, self.lists, strict)
        return f"SELECT {', '.join(select)} FROM {self.source}"

    def custom_sql(self) -> str | None:
        """The filled custom cells as (record_id, field, value) rows, one query of :attr:`source`."""
        if not self.custom:
            return None
        fields = ", ".join(quote_ident(c) for c in self.custom)
        # internal names no header uses, so custom columns called record_id, field or value unpivot as any other
        rid, field, value = '"__crm_audit_record_id"', '"__crm_audit_field"', '"__crm_audit_value"'
        return (f"SELECT {rid} AS record_id, {field} AS field, {value} AS value FROM (UNPIVOT (SELECT "
                f"CAST({quote_ident(self.table.key)} AS VARCHAR) AS {rid}, {fields} FROM {self.source}) ON {fields} "
                f"INTO NAME {field} VALUE {value}) WHERE {value} <> ''")

    def batches(self):
        """(typed rows, custom values or None) per batch of up to BATCH_ROWS rows; at least
        one batch, empty for an empty file, so the table's columns are always recorded."""
        n = len(self.canonical)
        select = self.connector._select(self.table, self.canonical, self.lists)
        select.append(f"CAST({quote_ident(self.table.key)} AS VARCHAR) AS \"__record_id\"")
        select += [f"CAST({quote_ident(c)} AS VARCHAR) AS {quote_ident(c)}" for c in self.custom]
        relation = self.con.sql(f"SELECT {', '.join(select)} FROM src")
        # (DuckDB 2.0 renamed fetch_record_batch)
        reader = (getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch)(BATCH_ROWS)
        names = reader.schema.names[:n]
        sent = False
        for batch in reader:
            sent = True
            yield pa.Table.from_batches([batch.select(list(range(n)))]), self._custom_values(batch, n)
        if not sent:
            yield pa.Table.from_batches([], pa.schema([reader.schema.field(i) for i in range(n)])).rename_columns(names), None

    def _custom_values(self, batch, n: int) -> pa.Table | None:
        """The batch's filled custom cells as (record_id, field, value) rows."""
        if not self.custom:
            return None
        record_id = batch.column(n)
        parts = []
        for i, name in enumerate(self.custom):
            values = batch.column(n + 1 + i)
            filled = pc.and_kleene(pc.is_valid(values), pc.not_equal(values, ""))
            filled = pc.fill_null(filled, False)
            kept = pc.filter(values, filled)
            if len(kept):
                parts.append(pa.table({"record_id": pc.filter(record_id, filled),
                                       "field": pa.repeat(pa.scalar(name, pa.string()), len(kept)),
                                       "value": kept}))
        if not parts:
            return pa.table({"record_id": pa.array([], pa.string()), "field": pa.array([], pa.string()),
                             "value": pa.array([], pa.string())})
        return pa.concat_tables(parts)

    def validate(self) -> None:
        """Count the rows and the cells that do not fit their column's type; too many
        (``max_bad_cells``) raise a DataError naming the first one, fewer give a note."""
        probes = []
        for name in self.canonical:
            typ = self.table.column(name).type
            if typ not in TYPE_WORDS or name not in self.strings:
                continue  # Parquet with a native type: already typed
            src = f"NULLIF(trim({quote_ident(name)}), '')"
            if typ == "bool":
                bad = f"{src} IS NOT NULL AND lower({src}) NOT IN {_BOOL_WORDS}"
            else:
                bad = f"{src} IS NOT NULL AND {cast_expression(src, typ, strict=False)} IS NULL"
            probes.append((name, typ, bad))
        counts = self.con.execute("SELECT count(*)" + "".join(f", count(*) FILTER (WHERE {b})" for _, _, b in probes)
                                  + " FROM src").fetchall()[0]
        self.rows = counts[0]
        found = [(name, typ, bad, n) for (name, typ, bad), n in zip(probes, counts[1:]) if n]
        if found:
            self.note = self._bad_cells(found, len(probes))

    def _bad_cells(self, found, probed: int) -> str:
        path = self.path
        examples = {name: self.con.execute(f"SELECT _row, {quote_ident(name)} FROM src WHERE {bad} ORDER BY _row "
                                           f"LIMIT {EXAMPLES}").fetchall() for name, _, bad, _ in found}
        total = sum(n for *_, n in found)
        cells = self.rows * probed
        limit = self.connector.max_bad_cells
        if limit.exceeded(total, cells):
            row, name, typ = min((examples[name][0][0], name, typ) for name, typ, _, _ in found)
            value = dict(examples[name])[row]
            raise DataError(
                _("column {column}: {value} is not {expected}", column=repr(name), value=repr(_shown(value)),
                  expected=TYPE_WORDS[typ]),
                where=f"{path}:{row}",
                hint=ngettext("{n} bad cell of {cells} typed cells does not fit its column, more than max_bad_cells = "
                              "{limit}: fix the values, leave the cells empty or raise the option",
                              "{n} bad cells of {cells} typed cells do not fit their column, more than max_bad_cells = "
                              "{limit}: fix the values, leave the cells empty or raise the option",
                              total, cells=cells, limit=limit.text),
            )
        parts = []
        for name, typ, _bad, n in found:
            self.connector._unreadable.append((name, n, TYPE_WORDS[typ], [_shown(v) for _, v in examples[name]]))
            shown = Message.join([_("line {line} {value}", line=str(row), value=repr(_shown(value)))
                                  for row, value in examples[name]], ", ")
            if n > len(examples[name]):
                parts.append(ngettext("column {column}: {n} is not {expected}, first: {examples}",
                                      "column {column}: {n} are not {expected}, first: {examples}", n,
                                      column=repr(name), expected=TYPE_WORDS[typ], examples=shown))
            else:
                parts.append(ngettext("column {column}: {n} is not {expected}: {examples}",
                                      "column {column}: {n} are not {expected}: {examples}", n,
                                      column=repr(name), expected=TYPE_WORDS[typ], examples=shown))
        return ngettext("{file}: {n} bad cell read as empty (max_bad_cells = {limit}): {columns}",
                        "{file}: {n} bad cells read as empty (max_bad_cells = {limit}): {columns}", total,
                        file=path.name, limit=limit.text, columns=Message.join(parts, "; "))


def _advancing(batches, progress):
    for typed, custom in batches:
        yield typed, custom
        progress.advance(records=typed.num_rows)


def _csv_source(path: Path, names: list[str]) -> str:
    """A plain CSV file as a DuckDB table function, every column as text: any connection
    (the store's too) reads it with DuckDB's parallel reader."""
    columns = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
    return (f"read_csv({_lit(str(path.resolve()))}, header = true, auto_detect = false, columns = {columns}, "
            "delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false)")


def _estimated_rows(path: Path) -> int:
    """A CSV file's rows, estimated from its size and its first lines (for a progress bar)."""
    with open(path, "rb") as fh:
        header = fh.readline()
        sample = fh.read(1 << 20)
    lines = sample.count(b"\n")
    if not lines:
        return 1 if sample.strip() else 0
    return max(1, round((path.stat().st_size - len(header)) * lines / len(sample)))


def _connection():
    """The connector's private DuckDB, for reading one file: it only streams (the CSV reader's
    buffers, a batch at a time), so it is capped well below DuckDB's default of 80% of RAM."""
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute(f"SET memory_limit = '{READER_MEMORY_LIMIT}'")
    return con


def _csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's header row (a DataError when there is none)."""
    with open(path, "rb") as fh:
        header = fh.readline()
    if not header.strip():
        raise DataError(_("the file is empty (no header row)"), where=f"{path}:1")
    try:
        header_text = header.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(_("not UTF-8 text (byte {byte})", byte=str(exc.start)), where=str(path),
                        hint=_("save the file as UTF-8")) from None
    return next(csv.reader([header_text]))


def _check_names(table: model.Table, path: Path, names: list[str]) -> None:
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(_("column {column} appears twice in the header", column=repr(dup[0])), where=f"{path}:1")
    if table.key not in names:
        raise DataError(
            _("missing the key column {column}", column=repr(table.key)),
            where=f"{path}:1",
            hint=_("the header needs at least: {key}; canonical columns: {columns}", key=table.key,
                   columns=", ".join(table.column_names)),
        )


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def find_table_file(folder: Path, name: str) -> Path | None:
    """``<name>.parquet`` or ``<name>.csv`` in ``folder`` (Parquet first), or None."""
    for ext in (".parquet", ".csv"):
        p = folder / f"{name}{ext}"
        if p.exists():
            return p
    return None


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _factory(options: dict, context: ExtractContext) -> FilesConnector:
    """Checks the folder and that its table files can be opened (usage errors, exit 2)."""
    values = dict(options or {})
    if "path" not in values and "folder" in values:  # the older name
        values["path"] = values.pop("folder")
    opts = Options(values, "files")
    folder = opts.text("path", required=True, hint=_("a folder of <table>.csv files, e.g. {example}", example="--files ./export"))
    limit = BadCellLimit(opts.text("max_bad_cells", DEFAULT_MAX_BAD_CELLS), where=context.tenant)
    encoding = csv_dialect.codec_of(opts.text("encoding", None), where=context.tenant)
    date_order = csv_dialect.date_order_of(opts.text("date_order", None), where=context.tenant)
    path = Path(folder).expanduser()
    archive = path.is_file() and path.suffix.lower() == ".zip"  # an export's .zip as delivered
    if not path.is_dir() and not archive:
        problem = (_("folder {folder} is a file, not a folder", folder=repr(str(path))) if path.exists()
                   else _("folder {folder} does not exist", folder=repr(str(path))))
        raise ConfigError(problem, where=context.tenant,
                          hint=_("give a folder holding <table>.csv files, or a CRM export's .zip"))
    export = exports.choose(path, opts.text("format", None), encoding, context.tenant)
    if export is not None:
        return exports.ExportConnector(path, export, encoding, as_of=context.as_of, lang=getattr(context, "lang", "en"))
    if archive:
        raise ConfigError(_("{file} holds no export the installed connectors read", file=repr(str(path))),
                          where=context.tenant,
                          hint=_("unzip canonical <table>.csv files into a folder, or name the export with --files-format"))
    files = [f for f in (find_table_file(path, t) for t in model.TABLES) if f is not None]
    if not files:
        raise ConfigError(_("folder {folder} holds no table files", folder=repr(str(path))), where=context.tenant,
                          hint=_("expected e.g. {examples}; known tables: {tables}", examples="contacts.csv, users.csv",
                                 tables=", ".join(model.TABLES)))
    for file in files:
        try:
            with open(file, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise ConfigError(_("cannot read {file}: {problem}", file=repr(str(file)),
                                problem=exc.strerror or type(exc).__name__), where=context.tenant,
                              hint=_("check the file's permissions")) from None
    return FilesConnector(path, limit, encoding, date_order)


@hookimpl
def crm_audit_register_connectors(register):
    register(
        ConnectorInfo(
            name="files",
            factory=_factory,
            any_vendor=True,
            description="A folder of <table>.csv / <table>.parquet files in the canonical schema (exports, offline audits).",
            options={"path": Option("folder holding users.csv, contacts.csv, ... (missing files = not supplied)",
                                    required=True),
                     "folder": "the older name of 'path'",
                     "max_bad_cells": "bad cells (values that do not fit their column) a table may hold, read as "
                                      "empty and noted, before the tenant fails: a count, or a share such as "
                                      "'1%' (the default)",
                     "format": "canonical, or a vendor export the installed connectors read (salesforce-export, "
                               "hubspot-export, pipedrive-export); detected from the files when not given",
                     "encoding": "the CSV files' encoding when detection cannot tell (utf-8, utf-16, cp949, cp1252)",
                     "date_order": "day-first or month-first, for dates such as 05/03/2024 when no date in the "
                                   "file has a day above 12"},
        )
    )
