"""Resumable, incremental reading of one record table from its sources (e.g. activities
from /v2/activities and then /v1/notes): checkpoints after every page with a state naming
the source, resumes from it after an interrupted run, drops a record met twice (modified
while the table was read), carries unchanged rows forward from the previous snapshot in an
incremental audit, and marks the table complete."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .values import parse_ts

# A record met again in update_time order was modified after the read of its table began,
# so its update_time lies between then and now: only such records (give or take this
# margin, for the two clocks' skew) can be duplicates and are looked up among the rows
# already committed.
RECHECK_MARGIN = timedelta(days=1)

# Pages mapped together: the lookups they need (derived columns, duplicates) are one query
# for all of them; each page is still written and checkpointed on its own.
LOOKUP_PAGES = 5


def read_table(sink, table: str, parts: list, *, begin, previous=None, deleted_ids=()) -> None:
    """Read one record table from its parts (sub-sources, e.g. activities + notes),
    checkpointing after every page with a state that names the part; carry the rest
    forward from the previous snapshot in an incremental audit. ``to_rows(records)``
    maps the records of up to LOOKUP_PAGES pages at once (one row per record), so their
    lookups are one query. ``parts``: (name, pages(state, handle), to_rows); ``begin(sink,
    table)`` returns the table's progress handle."""
    if sink.is_complete(table):
        return
    state = sink.resume_state(table) or {}
    names = [name for name, _, _ in parts]
    first = names.index(state["part"]) if state.get("part") in names else 0
    # When this table's read began (kept across --resume; a state without it: recheck all).
    started = state.get("started") if state else utc_now().isoformat()
    recheck_after = parse_ts(started) - RECHECK_MARGIN if started else None
    handle = begin(sink, table)
    for index, (name, pages, to_rows) in enumerate(parts):
        if index < first:
            continue
        part_state = state if index == first and state.get("part") == name else None
        for chunk in chunks(pages(part_state, handle), LOOKUP_PAGES):
            rows = to_rows([record for page, _ in chunk for record in page])  # one row per record
            rows = not_stored(sink, table, rows, recheck_after)
            start = 0
            for page, new_state in chunk:
                page_rows = [row for row in rows[start:start + len(page)] if row is not None]
                start += len(page)
                sink.write(table, page_rows)
                handle.advance(records=len(page_rows))
                sink.checkpoint(table, {"part": name, "started": started, **new_state})
        if index + 1 < len(parts):
            sink.checkpoint(table, {"part": names[index + 1], "started": started})
    if previous is not None:
        carried = sink.carry_forward(table, previous, [str(i) for i in deleted_ids])
        handle.advance(records=carried)
    sink.complete(table)


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


def chunks(pages, size: int):
    """Groups of ``size`` items of ``pages``; on a failure, the items read before it come
    out first (so they are written and checkpointed), then the error."""
    chunk = []
    try:
        for item in pages:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except Exception:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _updated(row: dict):
    """When Pipedrive last changed the record behind a row (its ``update_time``)."""
    raw = row.get("raw")
    return parse_ts(raw.get("update_time")) if isinstance(raw, dict) else None
