"""Resumable, incremental reading of one record table from its sources (e.g. activities
from /v2/activities and then /v1/notes), on the kit's table reader: what Pipedrive adds is
mapping a few pages at once (their lookups in one query) and dropping a record met twice
(modified while the table was read, so met again later in update_time order)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crm_audit_core.kit import Source, TableReader, grouped

from .values import utc_datetime

# A record met again in update_time order was modified after the read of its table began,
# so its update_time lies between then and now: only such records (give or take this
# margin, for the two clocks' skew) can be duplicates and are looked up among the rows
# already committed.
RECHECK_MARGIN = timedelta(days=1)

# Pages mapped together: the lookups they need (derived columns, duplicates) are one query
# for all of them; each page is still written and checkpointed on its own.
LOOKUP_PAGES = 5


def read_records(sink, table: str, parts: list, *, progress, previous=None, deleted_ids=()) -> None:
    """Read one record table from its parts (sub-sources, e.g. activities + notes) through
    :class:`crm_audit_core.kit.TableReader` (checkpoints ``{source, position, meta}``,
    resume, carry-forward, completion). ``parts``: (name, pages(position), to_rows), where
    ``to_rows(records)`` maps the records of up to LOOKUP_PAGES pages at once (one row per
    record), so their lookups are one query; a record already stored is dropped."""
    reader = TableReader(sink, table)
    if reader.complete:
        return
    # When this table's read began (kept across --resume; a checkpoint without it: recheck all).
    started = reader.meta.get("started") if reader.resuming else utc_now().isoformat()
    recheck_after = utc_datetime(started) - RECHECK_MARGIN if started else None

    def source(name, pages, to_rows) -> Source:
        def rows_of(records):
            return not_stored(sink, table, to_rows(records), recheck_after)

        return Source(name, lambda position: grouped(pages(position), LOOKUP_PAGES, rows_of))

    reader.read([source(*part) for part in parts], meta={"started": started}, previous=previous,
                deleted_ids=deleted_ids, progress=progress)


def not_stored(sink, table: str, rows: list[dict], recheck_after) -> list:
    """``rows`` (a few pages', in order), None for each record already committed or met
    earlier in them. A record modified after it was read (in this run, or before the run
    a --resume continues) is met again later in update_time order; only rows updated
    between ``recheck_after`` (None: all) and now can be such records, and only they are
    looked up (one query; most pages need none)."""
    maybe = set()
    until = utc_now() + RECHECK_MARGIN
    for row in rows:
        when = _updated(row) if recheck_after is not None else None
        if when is None or recheck_after <= when <= until:
            maybe.add(row["id"])
    if not maybe:
        return rows
    seen = set(sink.lookup(table, "id", (), maybe))
    out = []
    for row in rows:
        if row["id"] in maybe:
            if row["id"] in seen:
                row = None
            else:
                seen.add(row["id"])
        out.append(row)
    return out


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _updated(row: dict):
    """When Pipedrive last changed the record behind a row (its ``update_time``)."""
    raw = row.get("raw")
    return utc_datetime(raw.get("update_time")) if isinstance(raw, dict) else None
