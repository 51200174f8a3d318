"""Resumable and incremental reads of one canonical table (docs/connectors/salesforce.md,
"Resuming" and "Incremental audits"), on the kit's :class:`~crm_audit_core.kit.TableReader`.

A table is read from one or more sources (contacts from Contact and Lead). Every page is
checkpointed with the source and its position (:meth:`.reading.ObjectReader.pages`), plus
the incremental window when the table is read incrementally, so ``--resume`` continues
exactly there in the same mode.
Incrementally, only records changed since the previous audit (``SystemModstamp``) are
read; deletions come from getDeleted (or, when its log cannot cover the window, from
comparing all ids with the previous audit); the rest is carried forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from crm_audit_core import kit
from crm_audit_core.errors import ConnectorError
from crm_audit_core.kit import TableReader

from . import mapping as m
from .i18n import _
from .soql import soql_datetime

if TYPE_CHECKING:
    from .connector import SalesforceConnector

UTC = timezone.utc

# getDeleted returns deletions of the last 15 days at most; keep a day's margin.
DELETED_WINDOW = timedelta(days=14)

# Rows mapped and handed to the sink at a time, within one page.
WRITE_SLICE = 2000


@dataclass
class Source:
    """One object read into a canonical table (a table may have several: contacts from
    Contact and Lead). ``key`` names it in checkpoints; ``full_where``: the filter of a
    full read (incremental reads narrow ``where`` to changed records)."""

    key: str
    sobject: str
    fields: list[str]
    where: str | None
    row: Callable[[dict], dict]
    full_where: str | None = None


class _WindowGone(Exception):
    """getDeleted cannot cover the incremental window (log purged, or too old)."""


def read_table(conn: "SalesforceConnector", sink, table: str, sources: Callable[[Any], list[Source]], *,
               incremental: bool = False) -> None:
    """Read ``table`` from its sources (one or more objects) with the kit's reader, which
    checkpoints each page as ``{source, position, meta}``; ``meta`` holds the incremental
    window, so a resumed run reads in the same mode."""
    reader = TableReader(sink, table, write_slice=WRITE_SLICE)
    if reader.complete:
        return
    progress = conn.begin(sink, table)
    previous = previous_for(conn, sink, reader) if incremental else None
    meta: dict = {}
    if previous is not None:
        meta = {"since": soql_datetime(previous.since),
                "previous": {"audit_id": previous.audit_id, "path": str(previous.path)}}
    plan = sources(previous)
    reader.read([_pages_of(conn, source, full=previous is None) for source in plan], meta=meta, previous=previous,
                deleted_ids=lambda: deleted_since(conn, sink, table, plan, previous), progress=progress)


def _pages_of(conn: "SalesforceConnector", source: Source, *, full: bool) -> kit.Source:
    def pages(position):
        # the object's approximate size picks REST or Bulk for a full read; a narrower
        # read (incremental, resumed) starts with REST and moves to Bulk if it is big
        estimate = conn.record_counts.get(source.sobject) if full and not position else None
        return conn.reader.pages(source.sobject, source.fields, source.where, position, estimate)

    return kit.Source(source.key, pages, to_rows=lambda records: [source.row(r) for r in records])


def previous_for(conn: "SalesforceConnector", sink, reader: TableReader):
    """The previous snapshot to read a table against, or None for a full read."""
    from crm_audit_core.connector import PreviousSnapshot

    if reader.resuming:  # keep the mode the interrupted run chose for this table
        meta = reader.meta
        if not meta.get("since"):
            return None
        prev = meta.get("previous") or {}
        return PreviousSnapshot(audit_id=prev.get("audit_id", "?"), path=prev.get("path"),
                                since=m.utc_datetime(meta["since"]))
    previous = getattr(conn.context, "previous", None)
    if previous is None:
        return None
    since = m.utc_datetime(previous.since)
    if since is None or since < datetime.now(UTC) - DELETED_WINDOW:
        if not conn.window_noted:
            conn.window_noted = True
            sink.note(_("Salesforce: the previous audit {audit} is older than Salesforce's {days}-day "
                        "deleted-records window: records read in full", audit=str(previous.audit_id),
                        days=DELETED_WINDOW.days))
        return None
    return previous


def deleted_since(conn: "SalesforceConnector", sink, table: str, plan: list[Source], previous) -> list[str]:
    """Ids of the table's records deleted (or turned into something else) since ``previous``."""
    since = m.utc_datetime(previous.since)
    start = since.replace(second=0, microsecond=0)  # getDeleted ignores seconds
    end = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    deleted: set[str] = set()
    sf = conn.reader.sf
    for sobject in dict.fromkeys(s.sobject for s in plan):
        try:
            result = conn.calls.call(lambda: getattr(sf, sobject).deleted(start, end),
                                     f"reading deleted {sobject} records", sobject)
            earliest = m.utc_datetime((result or {}).get("earliestDateAvailable"))
            if earliest is not None and earliest > start:
                raise _WindowGone(_("its deleted-records log starts at {start}", start=m.format_datetime(earliest)))
            deleted.update(r["id"] for r in (result or {}).get("deletedRecords") or [])
        except (_WindowGone, ConnectorError) as exc:
            if isinstance(exc, ConnectorError) and not any(
                    code in exc.message for code in ("INVALID_REPLICATION_DATE", "EXCEEDED_ID_LIMIT")):
                raise
            why = exc.message if isinstance(exc, ConnectorError) else exc.args[0]
            sink.note(_("Salesforce: {object}: getDeleted cannot cover {since} ({why}); deletions found by comparing "
                        "all ids with the previous audit instead", object=sobject, since=m.format_datetime(start),
                        why=why))
            deleted.update(_deleted_by_ids(conn, table, sobject, plan, previous))
    if any(s.sobject == "Lead" for s in plan):
        # a lead converted since the previous audit lives on as its Contact
        since_text = soql_datetime(since)
        for page in conn.reader.read("Lead", ["Id"], f"IsConverted = true AND SystemModstamp > {since_text}"):
            deleted.update(r["Id"] for r in page)
    return sorted(deleted)


def _deleted_by_ids(conn: "SalesforceConnector", table: str, sobject: str, plan: list[Source],
                    previous) -> set[str]:
    """Deletions without getDeleted: previous ids of ``sobject`` that no longer exist."""
    import duckdb

    source = next(s for s in plan if s.sobject == sobject)
    now = {r["Id"] for page in conn.reader.read(sobject, ["Id"], source.full_where) for r in page}
    prefix = m.KEY_PREFIXES.get(sobject, "")
    con = duckdb.connect(str(previous.path), read_only=True)
    try:
        rows = con.execute(f"SELECT id FROM canonical.{table} WHERE tenant = ? AND id LIKE ?",
                           [conn.tenant, prefix + "%"]).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows} - now
