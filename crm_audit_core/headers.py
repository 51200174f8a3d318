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
from .findings import WARNING_PREFIX

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
    shown = ", ".join(repr(n) for n in others[:SHOWN]) + (f" and {len(others) - SHOWN} more" if len(others) > SHOWN else "")
    fate = "read as custom fields" if table.name in model.CUSTOM_FIELD_TABLES else "ignored"
    key = f" besides the key {table.key!r}" if table.key in seen else ""
    hints = [(n, suggestion(n, table)) for n in others]
    hints = [f"{n!r} to {s}" for n, s in hints if s][:SHOWN]
    hint = f"; rename the headers to canonical names: {', '.join(hints)}" if hints else (
        f"; canonical columns: {', '.join(c for c in table.column_names if c != table.key)}")
    return (f"{WARNING_PREFIX}{source}: no {table.name} column was recognised{key}; "
            f"the columns it has ({shown}) were {fate}, so the checks that need {table.name} columns "
            f"are skipped{hint}")


def header_warning(table: model.Table, path: Path) -> str | None:
    """``unrecognised_header`` for a ``<table>.csv`` or ``<table>.parquet`` file already read."""
    if path.suffix == ".csv":
        from .csv_dialect import header_of

        names = header_of(path)
    else:
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
    return unrecognised_header(table, names, path.name)
