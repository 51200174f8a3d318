"""The files connector (built in): audits a folder of ``<table>.csv`` / ``<table>.parquet``.

Each file holds one canonical table (columns of :mod:`crm_audit_core.model`); a missing
file means the table was not supplied; columns that are not canonical are custom fields.
CSV conventions: UTF-8 (a BOM is accepted), a header row, empty cell = null, booleans
``true``/``false`` (also ``1``/``0``, ``yes``/``no``), timestamps in ISO-8601 (UTC unless
an offset is given), list columns ``;``-separated.

A file that cannot be read gives one error naming the file, the line and the column.
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


class FilesConnector:
    def __init__(self, folder: Path):
        self.folder = folder

    def api_calls(self) -> int:
        return 0

    def extract(self, sink) -> None:
        found = False
        for table in model.TABLES.values():
            path = self._find(table.name)
            if path is None:
                continue
            found = True
            typed, custom = self._read(table, path)
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
        for ext in (".parquet", ".csv"):
            p = self.folder / f"{name}{ext}"
            if p.exists():
                return p
        return None

    # -- reading and validation --------------------------------------------
    def _read(self, table: model.Table, path: Path) -> tuple[pa.Table, pa.Table | None]:
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
        self._validate(con, table, path, canonical, raw)
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
                expr = cast_expression(f"NULLIF(trim(CAST({src} AS VARCHAR)), '')", typ, strict=True)
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
        return typed, custom

    @staticmethod
    def _bool_expr(src: str) -> str:
        v = f"lower(trim(CAST({src} AS VARCHAR)))"
        return (f"CASE WHEN {src} IS NULL OR {v} = '' THEN NULL "
                f"WHEN {v} IN ('true','t','1','yes','y') THEN TRUE "
                f"WHEN {v} IN ('false','f','0','no','n') THEN FALSE END")

    def _validate(self, con, table: model.Table, path: Path, canonical: list[str], raw: pa.Table) -> None:
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
            probes.append((name, typ, f"min(CASE WHEN {bad} THEN _row END)"))
        if not probes:
            return
        first = con.execute("SELECT " + ", ".join(p[2] for p in probes) + " FROM src").fetchone()
        worst = [(row, name, typ) for (name, typ, _), row in zip(probes, first) if row is not None]
        if not worst:
            return
        row, name, typ = min(worst)
        value = con.execute(f"SELECT {quote_ident(name)} FROM src WHERE _row = ?", [row]).fetchone()[0]
        shown = value if len(value) <= 40 else value[:37] + "..."
        raise DataError(
            f"column {name!r}: {shown!r} is not {TYPE_WORDS[typ]}",
            where=f"{path}:{row}",
            hint="fix the value or leave the cell empty",
        )

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
    values = dict(options or {})
    if "path" not in values and "folder" in values:  # the older name
        values["path"] = values.pop("folder")
    folder = Options(values, "files").text("path", required=True,
                                           hint="a folder of <table>.csv files, e.g. --files ./export")
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ConfigError(f"folder not found: {path}", where=context.tenant, hint="give a folder holding <table>.csv files")
    return FilesConnector(path)


@hookimpl
def crm_audit_register_connectors(register):
    register(
        ConnectorInfo(
            name="files",
            factory=_factory,
            description="A folder of <table>.csv / <table>.parquet files in the canonical schema (exports, offline audits).",
            options={"path": Option("folder holding users.csv, contacts.csv, ... (missing files = not supplied)",
                                    required=True)},
        )
    )
