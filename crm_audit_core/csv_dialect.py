"""Reading the CSV files people actually have: their encoding, delimiter, numbers and dates.

The files connector reads canonical CSVs through :func:`read_csv`; the vendor export
readers use :func:`read_records` for their own files. Both:

* decode UTF-8 (with or without a byte-order mark), UTF-16 (a BOM, or the zero bytes of
  UTF-16 text), EUC-KR / CP949 (Korean Excel) and Windows-1252 (Western Excel), or the
  ``encoding`` the user names (``--encoding``);
* sniff the delimiter: comma, semicolon (European and Indonesian Excel), tab or pipe;
* drop a trailing summary line (``Total;1234``) and say so;
* refuse a header naming one column twice, and a line with too many or too few fields,
  with one line naming the file, the line and the column.

:func:`normalise_values` then rewrites the number and date cells of typed columns into
the canonical shapes: thousands separators and decimal commas (``1.234,56``), Excel
serial dates (``45356``), epoch milliseconds, ``YYYY-MM-DD HH:MM`` and day-first or
month-first dates, the latter only where the file proves which order it uses (a day
above 12); otherwise a clear error asks for ``--date-order``.

A UTF-8, comma-delimited file with canonical values takes the fast path (pyarrow reads
the file itself); the others are decoded in memory first.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from .errors import ConfigError, DataError
from .i18n import Message, _

SAMPLE = 1 << 20  # bytes read to detect the encoding and the delimiter
DELIMITERS = (",", ";", "\t", "|")
DATE_ORDERS = ("day-first", "month-first")
# The names users give encodings -> Python's codec.
ENCODING_ALIASES = {"euc-kr": "cp949", "euckr": "cp949", "ks_c_5601-1987": "cp949", "windows-1252": "cp1252",
                    "latin-1": "cp1252", "latin1": "cp1252", "iso-8859-1": "cp1252", "utf8": "utf-8"}
TOTAL_WORDS = re.compile(r"^\s*(grand\s+total|total|totals|sum|subtotal|합계|총계|소계|jumlah|total keseluruhan|"
                         r"summe|gesamt|somme|totale)\b", re.IGNORECASE)
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
"""The delimiters' names (English, in option values and docs); :meth:`Dialect.describe` words them for a reader."""


@dataclass
class Dialect:
    """What was detected about one file (named in the report's notes)."""

    encoding: str = "utf-8"
    delimiter: str = ","
    dropped_line: int | None = None  # the trailing summary line that was left out
    dropped_text: str = ""

    @property
    def plain(self) -> bool:
        return self.encoding in ("utf-8", "utf-8-sig") and self.delimiter == ","

    def describe(self) -> Message:
        """``utf-8, comma-delimited`` (a translatable template)."""
        if self.delimiter == ",":
            return _("{encoding}, comma-delimited", encoding=self.encoding)
        if self.delimiter == ";":
            return _("{encoding}, semicolon-delimited", encoding=self.encoding)
        if self.delimiter == "\t":
            return _("{encoding}, tab-delimited", encoding=self.encoding)
        if self.delimiter == "|":
            return _("{encoding}, pipe-delimited", encoding=self.encoding)
        return _("{encoding}, delimited by {delimiter}", encoding=self.encoding, delimiter=repr(self.delimiter))


def codec_of(name: str | None, where: str = "files") -> str | None:
    """The codec for a user-given encoding name (None: detect); a ConfigError if unknown."""
    if not name:
        return None
    key = str(name).strip().lower()
    key = ENCODING_ALIASES.get(key, key)
    try:
        return codecs.lookup(key).name
    except LookupError:
        raise ConfigError(_("unknown encoding {encoding}", encoding=repr(name)), where=where,
                          hint=_("use e.g. {encodings}", encodings="utf-8, utf-16, cp949 (EUC-KR), cp1252 (Windows-1252)")) from None


def detect_encoding(data: bytes) -> str:
    """The encoding of ``data`` (a file's first bytes, or all of them)."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    sample = data[:4096]
    if sample and sample.count(0) > len(sample) // 4:
        # UTF-16 without a BOM: ASCII characters leave a zero byte beside each
        even = sample[0::2].count(0)
        return "utf-16-be" if even > len(sample) // 4 else "utf-16-le"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return "utf-8"  # a sample cut in the middle of a character
    try:
        text = data.decode("cp949")
    except UnicodeDecodeError as exc:
        if exc.start < len(data) - 1:
            return "cp1252"
        text = data[:exc.start].decode("cp949")
    wide = [c for c in text if ord(c) > 0x7F]
    hangul = sum(1 for c in wide if "\uac00" <= c <= "\ud7a3" or "\u3131" <= c <= "\u318e")
    return "cp949" if wide and hangul >= 0.8 * len(wide) else "cp1252"


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the most, equally many, fields."""
    lines = text.splitlines()[:30]
    if len(lines) > 2:
        lines = lines[:-1]  # the last line of a sample may be cut
    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        try:
            records = [r for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not records:
            continue
        width = len(records[0])
        consistent = sum(1 for r in records if len(r) == width) >= 0.5 * len(records)
        if width > best_fields and consistent:
            best, best_fields = delimiter, width
    return best


def _summary_line(records: list[list[str]], width: int) -> bool:
    """Whether the last record is a summary (``Total;1234``), not data."""
    last = records[-1]
    filled = sum(1 for c in last if c.strip())
    if last and TOTAL_WORDS.match(last[0] or "") and filled <= max(2, width // 2):
        return True  # 'Total;;;1234', not a record of a company called 'Total SA'
    return len(last) < width and filled <= 2


def check_header(names: list[str], path: Path) -> None:
    seen: dict[str, int] = {}
    for position, name in enumerate(names, 1):
        key = name.strip()
        if key in seen:
            raise DataError(_("column {position} and column {other} are both named {name} in the header",
                              position=str(position), other=str(seen[key]), name=repr(key)),
                            where=f"{path}:1", hint=_("rename or remove one of them"))
        seen[key] = position


def _decode(data: bytes, encoding: str, path: Path, named: bool) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        problem = (_("byte {byte} (line {line}) is not {encoding} text (the named encoding)", byte=str(exc.start),
                     line=str(line), encoding=encoding) if named else
                   _("byte {byte} (line {line}) is not {encoding} text (the detected encoding)", byte=str(exc.start),
                     line=str(line), encoding=encoding))
        raise DataError(problem, where=f"{path}:{line}",
                        hint=_("name the file's encoding with --encoding (e.g. {encodings})",
                               encodings="utf-8, cp949, cp1252, utf-16")) from None
    return text[1:] if text.startswith("\ufeff") else text


def plain_file(path: Path) -> bool:
    """Whether a CSV file can be read as it is: UTF-8, comma-delimited, no trailing summary
    line (judged on its first MB and its last line)."""
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE)
    if not sample.strip() or detect_encoding(sample) not in ("utf-8", "utf-8-sig"):
        return False
    if sample.startswith(b"\xef\xbb\xbf"):
        return False  # a byte-order mark: the header's first name would carry it
    dialect = Dialect(delimiter=sniff_delimiter(sample.decode("utf-8", errors="ignore")))
    if not dialect.plain:
        return False
    header = sample.split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    width = len(next(csv.reader([header], delimiter=","), []))
    return _trailing_summary(path, None, dialect, width) is None


def read_text(path: Path, encoding: str | None = None) -> tuple[str, Dialect]:
    """A whole file decoded, with its dialect (encoding and delimiter)."""
    data = path.read_bytes()
    codec = encoding or detect_encoding(data)
    text = _decode(data, codec, path, encoding is not None)
    return text, Dialect(encoding=codec, delimiter=sniff_delimiter(text[:SAMPLE]))


def header_of(path: Path, encoding: str | None = None) -> list[str]:
    """A CSV file's header row, whatever its encoding and delimiter."""
    with open(path, "rb") as fh:
        sample = fh.read(65536)
    codec = encoding or detect_encoding(sample)
    text = sample.decode(codec, errors="ignore").lstrip("\ufeff")
    first = next(csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text)), [])
    return [h.strip() for h in first]


def read_records(path: Path, encoding: str | None = None) -> tuple[list[str], list[list[str]], Dialect]:
    """Header and records of a small file (vendor exports), checked like :func:`read_csv`."""
    text, dialect = read_text(path, encoding)
    return read_records_from_text(text, path, dialect.encoding)


def read_csv(path: Path, encoding: str | None = None) -> tuple[pa.Table, Dialect]:
    """A CSV as a table of string columns (empty cells are empty strings)."""
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE)
    if not sample.strip():
        raise DataError(_("the file is empty (no header row)"), where=f"{path}:1")
    codec = encoding or detect_encoding(sample)
    if codec in ("utf-8", "utf-8-sig"):
        head = sample.decode("utf-8", errors="ignore")
        dialect = Dialect(encoding=codec, delimiter=sniff_delimiter(head.lstrip("\ufeff")))
        source: object = path
        data = None
    else:
        data = path.read_bytes()
        text = _decode(data, codec, path, encoding is not None)
        dialect = Dialect(encoding=codec, delimiter=sniff_delimiter(text[:SAMPLE]))
        data = text.encode("utf-8")
        source = io.BytesIO(data)
    header_line = (data if data is not None else sample).split(b"\n", 1)[0].decode("utf-8", errors="replace")
    names = [n.strip() for n in next(csv.reader([header_line.lstrip("\ufeff").rstrip("\r")],
                                                delimiter=dialect.delimiter))]
    check_header(names, path)
    cut = _trailing_summary(path, data, dialect, len(names))
    if cut is not None:
        if data is None:
            data = path.read_bytes()
        data = data[:cut]
        source = io.BytesIO(data)
    try:
        table = pacsv.read_csv(
            source,
            read_options=pacsv.ReadOptions(encoding="utf8", use_threads=True, column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=dialect.delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        if "UTF8" in str(exc) or "utf8" in str(exc).lower():
            if encoding is None and codec in ("utf-8", "utf-8-sig"):
                # the first MB was UTF-8, the rest is not: decode the whole file
                return _reread(path)
            _decode(path.read_bytes(), codec, path, True)  # raises naming the byte and the line
        line, problem = _locate(data if data is not None else path.read_bytes(), dialect, len(names))
        raise DataError(problem or _("cannot parse CSV: {problem}", problem=str(exc)),
                        where=f"{path}:{line}" if line else str(path)) from None
    return table, dialect


def _reread(path: Path) -> tuple[pa.Table, Dialect]:
    """The first MB was UTF-8 but the file is not: detect on the whole file."""
    data = path.read_bytes()
    codec = detect_encoding(data)
    if codec in ("utf-8", "utf-8-sig"):
        _decode(data, "utf-8", path, False)  # raises naming the byte and line
    return _from_text(_decode(data, codec, path, False), path, codec)


def _from_text(text: str, path: Path, codec: str) -> tuple[pa.Table, Dialect]:
    header, body, dialect = read_records_from_text(text, path, codec)
    columns = list(zip(*body)) if body else [[] for _ in header]
    return pa.table({n: pa.array(list(c), pa.string()) for n, c in zip(header, columns)}), dialect


def read_records_from_text(text: str, path: Path, codec: str) -> tuple[list[str], list[list[str]], Dialect]:
    dialect = Dialect(encoding=codec, delimiter=sniff_delimiter(text[:SAMPLE]))
    records = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter) if r]
    if not records:
        raise DataError(_("the file is empty (no header row)"), where=f"{path}:1")
    header, body = [h.strip() for h in records[0]], records[1:]
    check_header(header, path)
    if body and _summary_line(body, len(header)):
        dialect.dropped_line, dialect.dropped_text = len(body) + 1, dialect.delimiter.join(body[-1])
        body = body[:-1]
    for number, record in enumerate(body, 2):
        if len(record) != len(header):
            raise DataError(_("expected {width} columns as in the header, found {found}", width=len(header),
                              found=len(record)), where=f"{path}:{number}")
    return header, body, dialect


def _trailing_summary(path: Path, data: bytes | None, dialect: Dialect, width: int) -> int | None:
    """The byte offset where a trailing summary line starts (None: there is none)."""
    if data is None:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            fh.seek(max(0, size - 65536))
            tail = fh.read()
        base = max(0, size - 65536)
    else:
        tail, base = data[-65536:], max(0, len(data) - 65536)
    stripped = tail.rstrip(b"\r\n \t")
    start = stripped.rfind(b"\n") + 1
    if start == 0 and base == 0:
        return None  # the header is the only line
    last = stripped[start:].decode("utf-8", errors="replace")
    if last.count('"') % 2:
        return None  # the end of a quoted value that spans lines, not a line of its own
    try:
        record = next(csv.reader([last], delimiter=dialect.delimiter), [])
    except csv.Error:
        return None
    if not record or not _summary_line([record], width):
        return None
    lines = (data if data is not None else path.read_bytes())[:base + start].count(b"\n") + 1
    dialect.dropped_line, dialect.dropped_text = lines, last.strip()
    return base + start


def _locate(data: bytes, dialect: Dialect, width: int) -> tuple[int | None, str | None]:
    """The first line whose field count differs from the header's (for the error)."""
    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline=""),
                            delimiter=dialect.delimiter)
        next(reader, None)
        for record in reader:
            if record and len(record) != width:
                return reader.line_num, _("expected {width} columns as in the header, found {found}", width=width,
                                          found=len(record))
    except csv.Error as exc:
        return None, _("malformed CSV: {problem}", problem=str(exc))
    return None, None


# ----------------------------------------------------------------- numbers and dates

_PLAIN_NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"
_ISO = (r"^\s*\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|z|UTC|[+-]\d{2}(:?\d{2})?)?\s*$")
_THOUSANDS_COMMA = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d{1,3}([. \u00a0\u202f']\d{3})*,\d+$|^[-+]?\d+,\d+$")
_THOUSANDS_OTHER = re.compile(r"^[-+]?\d{1,3}([ \u00a0\u202f'.]\d{3})+$")
_SLASHED = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?\s*$")
_YMD_SLASHED = re.compile(r"^\s*(\d{4})[/.](\d{1,2})[/.](\d{1,2})\.?(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$")
_SERIAL = re.compile(r"^\s*(\d{5})(\.\d+)?\s*$")
_EPOCH = re.compile(r"^\s*(\d{12,13}|\d{9,10})\s*$")
EXCEL_EPOCH = datetime(1899, 12, 30)


def _number(value: str, decimal_comma: bool) -> str | None:
    v = value.strip().replace("\u00a0", "").replace("\u202f", "")
    if not v:
        return v
    if decimal_comma:
        v = v.replace(".", "").replace(" ", "").replace("'", "").replace(",", ".")
    else:
        v = v.replace(",", "").replace(" ", "").replace("'", "")
        if _THOUSANDS_OTHER.match(value.strip()) and "." in value:
            v = value.strip().replace(".", "")
    return v if re.match(_PLAIN_NUMBER, v) else None


def _numbers(values: list[str], dialect: Dialect) -> dict[str, str]:
    """Rewrites of a number column's odd values (None: leave the value; it is a bad cell)."""
    odd = [v.strip() for v in values if v.strip()]
    decimal_comma = any(_DECIMAL_COMMA.match(v) and not _THOUSANDS_COMMA.match(v) for v in odd)
    if not decimal_comma and any("," in v for v in odd) and all(_THOUSANDS_COMMA.match(v) for v in odd if "," in v):
        # 1,234 is thousands unless the file writes numbers the European way (; as delimiter)
        decimal_comma = dialect.delimiter == ";" and not any("." in v for v in odd)
    out = {}
    for v in values:
        number = _number(v, decimal_comma)
        if number is not None:
            out[v] = number
    return out


def _dates(values: list[str], column: str, path: Path, order: str | None, proof: dict) -> dict[str, str]:
    """Rewrites of a timestamp column's non-ISO values into ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    out = {}
    slashed = []
    for v in values:
        s = v.strip()
        if m := _EPOCH.match(s):
            n = int(m.group(1))
            seconds = n / 1000 if len(m.group(1)) >= 12 else n
            out[v] = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        elif (m := _SERIAL.match(s)) and 20000 <= float(s) <= 80000:
            out[v] = (EXCEL_EPOCH + timedelta(days=float(s))).strftime("%Y-%m-%d %H:%M:%S")
        elif m := _YMD_SLASHED.match(s):
            y, mo, d, hh, mm, ss = m.groups()
            out[v] = _iso(int(y), int(mo), int(d), hh, mm, ss, None)
        elif m := _SLASHED.match(s):
            slashed.append((v, m.groups()))
            a, b = int(m.group(1)), int(m.group(2))
            if a > 12 and "day-first" not in proof:
                proof["day-first"] = (column, s)
            if b > 12 and "month-first" not in proof:
                proof["month-first"] = (column, s)
    if not slashed:
        return {k: v for k, v in out.items() if v}
    if order is None:
        if "day-first" in proof and "month-first" in proof:
            (c1, v1), (c2, v2) = proof["day-first"], proof["month-first"]
            raise DataError(_("dates are written both day-first ({column}: {value}) and month-first ({other}: {other_value})",
                              column=repr(c1), value=repr(v1), other=repr(c2), other_value=repr(v2)),
                            where=str(path), hint=_("write the dates as YYYY-MM-DD"))
        if "day-first" in proof:
            order = "day-first"
        elif "month-first" in proof:
            order = "month-first"
        else:
            raise DataError(_("column {column}: dates such as {example} could be day-first or month-first and no date "
                              "in the file has a day above 12 to tell", column=repr(column),
                              example=repr(slashed[0][0].strip())),
                            where=str(path), hint=_("say which with --date-order day-first or --date-order month-first"))
    for v, (a, b, y, hh, mm, ss, ampm) in slashed:
        day, month = (a, b) if order == "day-first" else (b, a)
        out[v] = _iso(int(y), int(month), int(day), hh, mm, ss, ampm)
    return {k: v for k, v in out.items() if v}


def _iso(y, mo, d, hh, mm, ss, ampm) -> str | None:
    try:
        hour = int(hh or 0)
        if ampm:
            hour = hour % 12 + (12 if ampm.lower() == "pm" else 0)
        return datetime(y, mo, d, hour, int(mm or 0), int(ss or 0)).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None  # 31/02/2024: left as a bad cell


def normalise_values(table: pa.Table, types: dict[str, str], path: Path, dialect: Dialect,
                     date_order: str | None = None) -> pa.Table:
    """Rewrite the odd number and date cells of string columns typed ``int``/``float`` or
    ``timestamp`` in ``types`` (column -> logical type); other cells are left as they are."""
    proof: dict = {}
    columns = {}
    ordered = sorted(types.items(), key=lambda kv: kv[1] != "timestamp")  # dates first: they share the proof
    odd_by_column: list[tuple[str, str, pa.ChunkedArray, list[str]]] = []
    for name, typ in ordered:
        if name not in table.column_names or typ not in ("int", "float", "timestamp"):
            continue
        column = table.column(name)
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        pattern = _ISO if typ == "timestamp" else _PLAIN_NUMBER
        filled = pc.not_equal(pc.utf8_trim_whitespace(column), "")
        odd_mask = pc.and_(filled, pc.invert(pc.match_substring_regex(column, pattern)))
        if not pc.any(odd_mask).as_py():
            continue
        odd = [v for v in pc.unique(pc.filter(column, odd_mask)).to_pylist() if v is not None]
        odd_by_column.append((name, typ, column, odd))
        if typ == "timestamp":
            for v in odd:  # every slashed date of the file is proof of its order
                if m := _SLASHED.match(v.strip()):
                    if int(m.group(1)) > 12:
                        proof.setdefault("day-first", (name, v.strip()))
                    if int(m.group(2)) > 12:
                        proof.setdefault("month-first", (name, v.strip()))
    # then rewrite, once the whole file's proof of its date order is known
    for name, typ, column, odd in odd_by_column:
        if typ == "timestamp":
            rewrites = _dates(odd, name, path, date_order, proof)
        else:
            rewrites = _numbers(odd, dialect)
        if rewrites:
            values = column.to_pylist()
            columns[name] = pa.array([rewrites.get(v, v) if v is not None else None for v in values], pa.string())
    for name, array in columns.items():
        table = table.set_column(table.column_names.index(name), name, array)
    return table


def date_order_of(value: str | None, where: str = "files") -> str | None:
    if value in (None, ""):
        return None
    text = str(value).strip().lower().replace("_", "-")
    aliases = {"dmy": "day-first", "mdy": "month-first", "day": "day-first", "month": "month-first"}
    text = aliases.get(text, text)
    if text not in DATE_ORDERS:
        raise ConfigError(_("option {option} must be day-first or month-first, got {value}", option="'date_order'",
                            value=repr(value)), where=where)
    return text
