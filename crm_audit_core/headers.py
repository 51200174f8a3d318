"""How a supplied file's header row meets the canonical columns: the one warning line when
none of a table's columns but its key was recognised.

A file whose headers are ``id,First Name,Last Name,Email`` is read, but every column
except ``id`` becomes a custom field, and every check that needs ``first_name`` or
``email`` is skipped. Nothing failed, so nothing would say so: this module writes the
warning (naming the columns it did see, and the canonical names they probably meant)
that the files connector adds to the tenant's notes, which the terminal summary and
every report show.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from . import model
from .findings import warning_note
from .i18n import Message, _

SHOWN = 6  # columns named in the warning; the rest are counted
SUGGESTION_CUTOFF = 0.7  # difflib similarity for a did-you-mean


def _normalised(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def suggestion(name: str, table: model.Table) -> str | None:
    """The canonical column a header probably meant (``First Name`` -> ``first_name``), or None."""
    columns = [c for c in table.column_names if c != table.key]
    norm = _normalised(name)
    if norm in columns:
        return norm
    near = difflib.get_close_matches(norm, columns, n=1, cutoff=SUGGESTION_CUTOFF)
    return near[0] if near else None


def unrecognised_header(table: model.Table, names: list[str], source: str) -> str | None:
    """The warning note for a header none of whose columns (but the key) is canonical.

    None when at least one canonical column besides the key was recognised, or when the
    header holds nothing but the key. ``source`` names the file (``contacts.csv``).
    """
    seen = [n for n in names if n not in ("tenant", "raw")]
    canonical = set(table.column_names)
    if any(n in canonical and n != table.key for n in seen):
        return None
    others = [n for n in seen if n not in canonical]
    if not others:
        return None
    shown = ", ".join(repr(n) for n in others[:SHOWN])
    if len(others) > SHOWN:
        shown = _("{columns} and {n} more", columns=shown, n=len(others) - SHOWN)
    hints = [(n, suggestion(n, table)) for n in others]
    hints = [_("{header} to {column}", header=repr(n), column=s) for n, s in hints if s][:SHOWN]
    values = {"file": source, "table": table.name, "columns": shown, "key": repr(table.key),
              "renames": Message.join(hints, ", "), "canonical": ", ".join(c for c in table.column_names if c != table.key)}
    custom = table.name in model.CUSTOM_FIELD_TABLES
    with_key = table.key in seen
    # one whole sentence per case, so a translator sees each (which columns were kept, a key, a hint)
    if custom and with_key and hints:
        text = _("{file}: no {table} column was recognised besides the key {key}; the columns it has ({columns}) were "
                 "read as custom fields, so the checks that need {table} columns are skipped; rename the headers to "
                 "canonical names: {renames}", **values)
    elif custom and with_key:
        text = _("{file}: no {table} column was recognised besides the key {key}; the columns it has ({columns}) were "
                 "read as custom fields, so the checks that need {table} columns are skipped; canonical columns: "
                 "{canonical}", **values)
    elif custom and hints:
        text = _("{file}: no {table} column was recognised; the columns it has ({columns}) were read as custom fields, "
                 "so the checks that need {table} columns are skipped; rename the headers to canonical names: "
                 "{renames}", **values)
    elif custom:
        text = _("{file}: no {table} column was recognised; the columns it has ({columns}) were read as custom fields, "
                 "so the checks that need {table} columns are skipped; canonical columns: {canonical}", **values)
    elif with_key and hints:
        text = _("{file}: no {table} column was recognised besides the key {key}; the columns it has ({columns}) were "
                 "ignored, so the checks that need {table} columns are skipped; rename the headers to canonical "
                 "names: {renames}", **values)
    elif with_key:
        text = _("{file}: no {table} column was recognised besides the key {key}; the columns it has ({columns}) were "
                 "ignored, so the checks that need {table} columns are skipped; canonical columns: {canonical}",
                 **values)
    elif hints:
        text = _("{file}: no {table} column was recognised; the columns it has ({columns}) were ignored, so the "
                 "checks that need {table} columns are skipped; rename the headers to canonical names: {renames}",
                 **values)
    else:
        text = _("{file}: no {table} column was recognised; the columns it has ({columns}) were ignored, so the "
                 "checks that need {table} columns are skipped; canonical columns: {canonical}", **values)
    return warning_note(text)


def header_warning(table: model.Table, path: Path) -> str | None:
    """``unrecognised_header`` for a ``<table>.csv`` or ``<table>.parquet`` file already read."""
    if path.suffix == ".csv":
        from .csv_dialect import header_of

        names = header_of(path)
    else:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    return unrecognised_header(table, names, path.name)
