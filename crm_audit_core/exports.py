"""Vendors' own exports in ``--files``: detection, the files they hold, and the summary.

A connector plugin offers a reader of its vendor's export through
``ConnectorInfo.export_reader`` (a :class:`crm_audit_core.connector.ExportFormat`); the
plugin registry hands them here (:func:`activate`). The files connector asks
:func:`choose` which format a folder holds (``--files-format`` overrides): the canonical
schema, or one of the registered exports, decided by the files' names and headers. An
export is read by :class:`ExportConnector`: the format's ``read`` turns the vendor's
records into canonical rows with the connector's own mapping functions, and one short
table says what was detected, mapped, dropped and missing.

The core never imports a connector: formats arrive through the registry only. A ``.zip``
in the folder (the Salesforce Data Export service delivers one) is opened in place; CSV
files are decoded by :mod:`crm_audit_core.csv_dialect` (any encoding and delimiter),
``.xlsx`` files (HubSpot offers them) by a small reader of the first worksheet.
"""

from __future__ import annotations

import re
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from . import csv_dialect, model
from .errors import ConfigError, DataError
from .i18n import Message, _

_FORMATS: dict = {}
CANONICAL = "canonical"


def activate(formats: dict) -> None:
    """The export formats of the plugin registry just built (name -> ExportFormat)."""
    _FORMATS.clear()
    _FORMATS.update(formats)


def formats() -> dict:
    return dict(_FORMATS)


@dataclass
class FileReport:
    """What one export file gave: its table, records, and columns mapped, dropped, missing."""

    file: str
    table: str
    records: int
    mapped: list[str] = field(default_factory=list)  # canonical columns filled
    dropped: list[str] = field(default_factory=list)  # the file's columns no mapping reads
    missing: list[str] = field(default_factory=list)  # canonical columns the file cannot fill


@dataclass
class ExportResult:
    """Canonical rows by table (made by the connector's mapping) and the per-file summary."""

    tables: dict[str, list[dict]] = field(default_factory=dict)
    files: list[FileReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, table: str, rows: list[dict]) -> None:
        self.tables.setdefault(table, []).extend(rows)

    def report(self, file: str, table: str, header: list[str], used: set[str], rows: list[dict]) -> None:
        """Record what ``file`` gave ``table``: ``used`` are the header columns the mapping read."""
        filled = {c for row in rows for c, v in row.items() if v not in (None, "", [])}
        columns = model.table(table).column_names
        self.files.append(FileReport(file, table, len(rows), [c for c in columns if c in filled],
                                     [h for h in header if h not in used], [c for c in columns if c not in filled]))


class ExportFiles:
    """The files of an export folder (and of the .zip files in it), or of one .zip, by lower-cased name."""

    def __init__(self, folder: Path, encoding: str | None = None, as_of=None):
        self.folder = folder
        self.encoding = encoding
        self.as_of = as_of  # the audit date (an Event is done once it has ended by then)
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.paths: dict[str, Path] = {}
        self._records: dict[str, tuple[list[str], list[dict]]] = {}
        self._headers: dict[str, list[str]] = {}
        for path in [folder] if folder.is_file() else sorted(folder.iterdir()):
            if path.suffix.lower() == ".zip":
                self._unzip(path)
            elif path.suffix.lower() in (".csv", ".xlsx") and path.is_file():
                self.paths.setdefault(path.name.lower(), path)

    def _unzip(self, path: Path) -> None:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="crm-audit-export-")
        target = Path(self._tmp.name) / path.stem
        try:
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    name = Path(member).name
                    if Path(name).suffix.lower() in (".csv", ".xlsx") and not member.endswith("/"):
                        out = target / name
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(archive.read(member))
                        self.paths.setdefault(name.lower(), out)
        except zipfile.BadZipFile:
            raise DataError(_("not a readable .zip archive"), where=str(path)) from None

    @property
    def names(self) -> list[str]:
        return list(self.paths)

    def find(self, *patterns: str) -> list[str]:
        """Names matching any of the regular expressions (whole name, lower-case)."""
        return [n for n in self.paths if any(re.fullmatch(p, n) for p in patterns)]

    def header(self, name: str) -> list[str]:
        if name not in self._headers:
            path = self.paths[name]
            if path.suffix.lower() == ".xlsx":
                self._headers[name] = self.records(name)[0]
            else:
                self._headers[name] = csv_dialect.header_of(path, self.encoding)
        return self._headers[name]

    def records(self, name: str) -> tuple[list[str], list[dict]]:
        """The file's header and its records as dicts (header -> text; empty cells are '')."""
        if name not in self._records:
            path = self.paths[name]
            if path.suffix.lower() == ".xlsx":
                header, body = read_xlsx(path)
            else:
                header, body, dialect = csv_dialect.read_records(path, self.encoding)
            self._records[name] = (header, [dict(zip(header, r)) for r in body])
        return self._records[name]

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def read_xlsx(path: Path) -> tuple[list[str], list[list[str]]]:
    """The first worksheet of an .xlsx file as text rows (no formatting, formulas' values)."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    try:
        with zipfile.ZipFile(path) as book:
            shared = []
            if "xl/sharedStrings.xml" in book.namelist():
                root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
                shared = ["".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t")) for si in root.findall("m:si", ns)]
            sheets = sorted(n for n in book.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n))
            if not sheets:
                raise DataError(_("the workbook has no worksheet"), where=str(path))
            root = ElementTree.fromstring(book.read(sheets[0]))
    except (zipfile.BadZipFile, ElementTree.ParseError):
        raise DataError(_("not a readable .xlsx workbook"), where=str(path)) from None
    rows: list[list[str]] = []
    for row in root.iter(f"{{{ns['m']}}}row"):
        cells: dict[int, str] = {}
        for cell in row.findall("m:c", ns):
            ref = re.match(r"([A-Z]+)", cell.get("r", "A"))
            col = 0
            for ch in ref.group(1):
                col = col * 26 + ord(ch) - 64
            kind = cell.get("t")
            if kind == "inlineStr":
                value = "".join(t.text or "" for t in cell.iter(f"{{{ns['m']}}}t"))
            else:
                v = cell.find("m:v", ns)
                value = "" if v is None or v.text is None else v.text
                if kind == "s" and value:
                    value = shared[int(value)]
            cells[col - 1] = value
        if cells:
            rows.append([cells.get(i, "") for i in range(max(cells) + 1)])
    if not rows:
        raise DataError(_("the worksheet is empty (no header row)"), where=f"{path}:1")
    header = [h.strip() for h in rows[0]]
    csv_dialect.check_header(header, path)
    return header, [r + [""] * (len(header) - len(r)) if len(r) < len(header) else r[:len(header)] for r in rows[1:]]


def _canonical_score(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    score = 0
    for name, table in model.TABLES.items():
        for ext in (".parquet", ".csv"):
            if (folder / f"{name}{ext}").exists():
                score += 10
                break
    return score


def choose(folder: Path, requested: str | None, encoding: str | None, where: str):
    """The export format of ``folder`` (an ExportFormat), or None for canonical files."""
    known = sorted([CANONICAL, *_FORMATS])
    if requested and requested not in known:
        raise ConfigError(_("unknown files format {format}", format=repr(requested)), where=where,
                          hint=_("--files-format takes one of: {formats} (exports come with the connectors)",
                                 formats=", ".join(known)))
    if requested == CANONICAL:
        return None
    if requested:
        return _FORMATS[requested]
    if not _FORMATS:
        return None
    files = ExportFiles(folder, encoding)
    try:
        headers = {}
        for name in files.names:
            try:
                headers[name] = files.header(name)
            except (DataError, OSError, UnicodeError):
                continue
    finally:
        files.close()
    scores = sorted(((fmt.detect(headers), name) for name, fmt in _FORMATS.items()), reverse=True)
    best, name = scores[0] if scores else (0, None)
    if best > 0 and best > _canonical_score(folder):
        return _FORMATS[name]
    return None


class ExportConnector:
    """Reads a vendor export through the format's reader (the connector's mapping)."""

    def __init__(self, folder: Path, fmt, encoding: str | None = None, as_of=None, echo=None, lang: str = "en"):
        self.folder = folder
        self.format = fmt
        self.encoding = encoding
        self.as_of = as_of
        self.lang = lang
        self.echo = echo if echo is not None else (lambda text: print(text, file=sys.stderr))

    def api_calls(self) -> int:
        return 0

    def extract(self, sink) -> None:
        files = ExportFiles(self.folder, self.encoding, self.as_of)
        try:
            result = self.format.read(files)
        finally:
            files.close()
        if not result.tables:
            raise DataError(_("no records found in the {format} files", format=self.format.name), where=str(self.folder))
        self.echo(summary_table(self.format.name, result, self.lang))
        for note in result.notes:
            sink.note(note)
        for table, rows in result.tables.items():
            progress = sink.progress(table, len(rows))
            sink.write(table, rows)
            progress.advance(records=len(rows))
            sink.complete(table)
        kept = Message.join([_("{table} ({n})", table=t, n=len(r)) for t, r in result.tables.items()], ", ")
        sink.note(_("read as a {format} through its connector's mapping: {tables}", format=self.format.name, tables=kept))


def summary_table(name: str, result: ExportResult, lang: str = "en") -> str:
    """One short table: each file, the table it filled, and the columns mapped, dropped, missing
    (its words in ``lang``)."""
    from .i18n import render

    def word(text) -> str:
        return render(text, lang)

    heads = [word(_("file")), word(_("table")), word(_("records")), word(_("mapped")), word(_("dropped")),
             word(_("missing"))]
    lines = [word(_("Detected a {format} in the folder:", format=name)),
             f"  {heads[0]:<28} {heads[1]:<12} {heads[2]:>7}  {heads[3]:>6}  {heads[4]:>7}  {heads[5]}"]
    for f in result.files:
        missing = ", ".join(f.missing[:6])
        if len(f.missing) > 6:
            missing = word(_("{columns} and {n} more", columns=missing, n=len(f.missing) - 6))
        lines.append(f"  {f.file[:28]:<28} {f.table:<12} {f.records:>7}  {len(f.mapped):>6}  {len(f.dropped):>7}  "
                     f"{missing or '-'}")
    absent = [t for t in model.TABLES if t not in result.tables and t != "sync_counts"]
    if absent:
        lines.append("  " + word(_("not in the export: {tables}", tables=", ".join(absent))))
    return "\n".join(lines)
