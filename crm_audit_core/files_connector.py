"""The files connector (built in): audits a folder of ``<table>.csv`` / ``<table>.parquet``.

Each file holds one canonical table (columns of :mod:`crm_audit_core.model`); a missing
file means the table was not supplied; columns that are not canonical are custom fields.
CSV conventions: UTF-8 (a BOM is accepted), a header row, empty cell = null, booleans
``true``/``false`` (also ``1``/``0``, ``yes``/``no``), timestamps in ISO-8601 (UTC unless
an offset is given), list columns ``;``-separated.

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
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import hookimpl, model
from .connector import ConnectorInfo, ExtractContext
from .errors import ConfigError, DataError
from .headers import header_warning
from .kit.options import Option, Options
from .store import cast_expression, fetch_arrow, quote_ident

TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "timestamp": "an ISO-8601 date or timestamp",
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
            raise ConfigError(f"option 'max_bad_cells' of the files connector must be a whole number of cells "
                              f"or a percentage such as '1%', got {value!r}", where=where) from None

    def exceeded(self, bad: int, cells: int) -> bool:
        if self.count is not None:
            return bad > self.count
        return bad > self.share * cells


class FilesConnector:
    def __init__(self, folder: Path, max_bad_cells: BadCellLimit | str | int = DEFAULT_MAX_BAD_CELLS):
        self.folder = folder
        self.max_bad_cells = max_bad_cells if isinstance(max_bad_cells, BadCellLimit) else BadCellLimit(max_bad_cells)

    def api_calls(self) -> int:
        return 0

    def extract(self, sink) -> None:
        found = False
        for table in model.TABLES.values():
            path = self._find(table.name)
            if path is None:
                continue
            found = True
            typed, custom, note = self._read(table, path)
            if note:
                sink.note(note)
            warning = header_warning(table, path)
            if warning:
                sink.note(warning)
            progress = sink.progress(table.name, typed.num_rows)
            sink.write_arrow(table.name, typed, custom)
            progress.advance(records=typed.num_rows)
            sink.complete(table.name)
        if not found:
            raise DataError(
                f"no canonical table files found (expected e.g. contacts.csv, users.csv; known tables: {', '.join(model.TABLES)})",
                where=str(self.folder),
            )

    def _find(self, name: str) -> Path | None:
        return find_table_file(self.folder, name)

    # -- reading and validation --------------------------------------------
    def _read(self, table: model.Table, path: Path) -> tuple[pa.Table, pa.Table | None, str | None]:
        if path.suffix == ".csv":
            raw = self._read_csv(path)
        else:
            try:
                raw = pq.read_table(path)
            except (pa.ArrowInvalid, OSError) as exc:
                raise DataError(f"cannot read Parquet file: {exc}", where=str(path)) from None
        names = raw.column_names
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"column {dup[0]!r} appears twice in the header", where=f"{path}:1")
        if table.key not in names:
            raise DataError(
                f"missing the key column {table.key!r}",
                where=f"{path}:1",
                hint=f"the header needs at least: {table.key}; canonical columns: {', '.join(table.column_names)}",
            )
        canonical = [c for c in table.column_names if c in names]
        custom_cols = [n for n in names if n not in canonical and n not in ("tenant", "raw")]
        if table.name not in model.CUSTOM_FIELD_TABLES and custom_cols:
            custom_cols = []  # ignored: only record tables carry custom fields
        raw = raw.append_column("_row", pa.array(range(2, raw.num_rows + 2), pa.int64()))
        con = duckdb.connect()
        con.execute("SET TimeZone='UTC'")
        con.register("src", raw)
        note = self._validate(con, table, path, canonical, raw)
        select = []
        for name in canonical:
            typ = table.column(name).type
            src = quote_ident(name)
            if typ == "list":
                if pa.types.is_list(raw.schema.field(name).type):
                    expr = f"CAST({src} AS VARCHAR[])"
                else:
                    # 'a; b;;c;' -> ['a', 'b', 'c'] (no lambdas: their syntax differs across DuckDB versions)
                    stripped = f"regexp_replace(trim(CAST({src} AS VARCHAR)), '^[;\\s]+|[;\\s]+$', '', 'g')"
                    expr = (f"CASE WHEN {src} IS NULL OR {stripped} = '' THEN NULL "
                            f"ELSE string_split_regex({stripped}, '\\s*;[;\\s]*') END")
            elif typ == "bool":
                expr = self._bool_expr(src)
            elif typ == "str":
                expr = f"NULLIF(CAST({src} AS VARCHAR), '')"
            else:
                # bad cells (counted and noted by _validate) are read as empty
                expr = cast_expression(f"NULLIF(trim(CAST({src} AS VARCHAR)), '')", typ, strict=False)
            select.append(f"{expr} AS {src}")
        typed = fetch_arrow(con.execute(f"SELECT {', '.join(select)} FROM src ORDER BY _row"))
        custom = None
        if custom_cols:
            key = quote_ident(table.key)
            unions = " UNION ALL ".join(
                f"SELECT CAST({key} AS VARCHAR) AS record_id, {_lit(c)} AS field, CAST({quote_ident(c)} AS VARCHAR) AS value "
                f"FROM src WHERE {quote_ident(c)} IS NOT NULL AND CAST({quote_ident(c)} AS VARCHAR) <> ''"
                for c in custom_cols
            )
            custom = fetch_arrow(con.execute(unions))
        con.close()
        return typed, custom, note

    @staticmethod
    def _bool_expr(src: str) -> str:
        v = f"lower(trim(CAST({src} AS VARCHAR)))"
        return (f"CASE WHEN {src} IS NULL OR {v} = '' THEN NULL "
                f"WHEN {v} IN ('true','t','1','yes','y') THEN TRUE "
                f"WHEN {v} IN ('false','f','0','no','n') THEN FALSE END")

    def _validate(self, con, table: model.Table, path: Path, canonical: list[str], raw: pa.Table) -> str | None:
        """Count the cells that do not fit their column's type; too many (``max_bad_cells``)
        raise a DataError naming the first one, fewer give a note for the report."""
        probes = []
        for name in canonical:
            typ = table.column(name).type
            if typ not in TYPE_WORDS:
                continue
            if not pa.types.is_string(raw.schema.field(name).type) and not pa.types.is_large_string(raw.schema.field(name).type):
                continue  # Parquet with a native type: already typed
            src = f"NULLIF(trim({quote_ident(name)}), '')"
            if typ == "bool":
                bad = f"{src} IS NOT NULL AND lower({src}) NOT IN {_BOOL_WORDS}"
            else:
                bad = f"{src} IS NOT NULL AND {cast_expression(src, typ, strict=False)} IS NULL"
            probes.append((name, typ, bad))
        if not probes:
            return None
        counts = con.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE {b})" for _, _, b in probes)
                             + " FROM src").fetchone()
        found = [(name, typ, bad, n) for (name, typ, bad), n in zip(probes, counts) if n]
        if not found:
            return None
        examples = {name: con.execute(f"SELECT _row, {quote_ident(name)} FROM src WHERE {bad} ORDER BY _row LIMIT {EXAMPLES}")
                    .fetchall() for name, _, bad, _ in found}
        total = sum(n for *_, n in found)
        cells = raw.num_rows * len(probes)
        limit = self.max_bad_cells
        if limit.exceeded(total, cells):
            row, name, typ = min((examples[name][0][0], name, typ) for name, typ, _, _ in found)
            value = dict(examples[name])[row]
            raise DataError(
                f"column {name!r}: {_shown(value)!r} is not {TYPE_WORDS[typ]}",
                where=f"{path}:{row}",
                hint=f"{_cells(total)} of {cells} typed cells do not fit their column, more than max_bad_cells = "
                     f"{limit.text}: fix the values, leave the cells empty or raise the option",
            )
        parts = []
        for name, typ, _, n in found:
            shown = ", ".join(f"line {row} {_shown(value)!r}" for row, value in examples[name])
            verb = "is" if n == 1 else "are"
            more = f", first: {shown}" if n > len(examples[name]) else f": {shown}"
            parts.append(f"column {name!r}: {n} {verb} not {TYPE_WORDS[typ]}{more}")
        return (f"{path.name}: {_cells(total)} read as empty (max_bad_cells = {limit.text}): " + "; ".join(parts))

    @staticmethod
    def _read_csv(path: Path) -> pa.Table:
        try:
            with open(path, "rb") as fh:
                header = fh.readline()
            if not header.strip():
                raise DataError("the file is empty (no header row)", where=f"{path}:1")
            header_text = header.decode("utf-8-sig")
            names = next(csv.reader([header_text]))
            return pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(encoding="utf8", use_threads=True),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: pa.string() for n in names},
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except UnicodeDecodeError as exc:
            raise DataError(f"not UTF-8 text (byte {exc.start})", where=str(path), hint="save the file as UTF-8") from None
        except pa.ArrowInvalid as exc:
            line, problem = _locate_csv_problem(path)
            raise DataError(problem or f"cannot parse CSV: {exc}", where=f"{path}:{line}" if line else str(path)) from None


def _shown(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def _cells(n: int) -> str:
    return f"{n} bad cell" if n == 1 else f"{n} bad cells"


def find_table_file(folder: Path, name: str) -> Path | None:
    """``<name>.parquet`` or ``<name>.csv`` in ``folder`` (Parquet first), or None."""
    for ext in (".parquet", ".csv"):
        p = folder / f"{name}{ext}"
        if p.exists():
            return p
    return None


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _locate_csv_problem(path: Path) -> tuple[int | None, str | None]:
    """Find the first line whose field count differs from the header's (for the error)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            for record in reader:
                if len(record) != len(header):
                    return reader.line_num, f"expected {len(header)} columns as in the header, found {len(record)}"
    except csv.Error as exc:
        return None, f"malformed CSV: {exc}"
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte {exc.start})"
    return None, None


def _factory(options: dict, context: ExtractContext) -> FilesConnector:
    """Checks the folder and that its table files can be opened (usage errors, exit 2)."""
    values = dict(options or {})
    if "path" not in values and "folder" in values:  # the older name
        values["path"] = values.pop("folder")
    opts = Options(values, "files")
    folder = opts.text("path", required=True, hint="a folder of <table>.csv files, e.g. --files ./export")
    limit = BadCellLimit(opts.text("max_bad_cells", DEFAULT_MAX_BAD_CELLS), where=context.tenant)
    path = Path(folder).expanduser()
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise ConfigError(f"folder {str(path)!r} {what}", where=context.tenant,
                          hint="give a folder holding <table>.csv files")
    files = [f for f in (find_table_file(path, t) for t in model.TABLES) if f is not None]
    if not files:
        raise ConfigError(f"folder {str(path)!r} holds no table files", where=context.tenant,
                          hint=f"expected e.g. contacts.csv, users.csv; known tables: {', '.join(model.TABLES)}")
    for file in files:
        try:
            with open(file, "rb") as fh:
                fh.read(1)
        except OSError as exc:
            raise ConfigError(f"cannot read {str(file)!r}: {exc.strerror or type(exc).__name__}", where=context.tenant,
                              hint="check the file's permissions") from None
    return FilesConnector(path, limit)


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
                                      "'1%' (the default)"},
        )
    )
