"""Readers of the CRM record tables: companies, contacts, deals and activities.

Efficiency: every list is read at HubSpot's maximum page size with all the properties
the audit needs (standard and custom) in one pass. When the property list would make a
request line longer than a server accepts (portals with 1,000+ properties), the list is
read with ids only and each page is fetched with a batch read that carries the property
list in the body. Associations are read through the v4 batch endpoint, 1,000 ids a call.

Resumable through kit.TableReader: a checkpoint after every association chunk (1,000
records, the unit of the association batch reads). Incremental
(a previous snapshot): records changed since are read through the search endpoint,
deletions come from the archived lists, rows linked to deleted records are read again,
and the rest is carried forward.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterator
from urllib.parse import urlencode

from crm_audit_core.errors import ConnectorError
from crm_audit_core.kit import RateLimiter, Source, TableReader

from . import mapping
from .apps import AppTracker
from .i18n import _, ngettext
from .transport import PAGE_SIZE, HubSpotTransport, UrlTooLong

ASSOCIATION_BATCH = 1000
SEARCH_PAGE_SIZE = 200  # HubSpot's maximum for the CRM search endpoint
SEARCH_RATE = (4, 1.0)  # the search endpoints allow 5 requests a second per account; stay under
RECORD_TABLES = ("companies", "contacts", "deals")
# Incremental audits: which canonical link columns of a table point into which table. A row
# whose link points at a record deleted since is read again (its association is gone in
# HubSpot, and deleting the other record does not modify it).
LINKS = {
    "contacts": {"company_id": "companies"},
    "deals": {"company_id": "companies", "contact_id": "contacts"},
    "activities": {"company_id": "companies", "contact_id": "contacts", "deal_id": "deals"},
}


class RecordReader:
    """Reads the record tables of one extraction (it remembers, per table, the ids read,
    deleted and merged away, which the incremental steps share)."""

    def __init__(self, transport: HubSpotTransport, sink, note: Callable[[str], None], *,
                 tenant: str, max_url_length: int, segments: dict[str, list[str]] | None = None,
                 apps: AppTracker | None = None):
        self.transport = transport
        self.segments = segments  # {contact id: list names}; None: contacts.segments not supplied
        self.apps = apps if apps is not None else AppTracker()
        self.sink = sink
        self.note = note
        self.tenant = tenant
        self.max_url_length = max_url_length
        self.search_limiter = RateLimiter(*SEARCH_RATE)
        self._gone: dict[str, set[str]] = {}  # incremental: table -> ids deleted (or merged away) since
        self._merged: dict[str, set[str]] = {}
        self._read_ids: dict[str, set[str]] = {}  # incremental: ids read in this run, per table

    def _url_fits(self, object_type: str, properties: list[str]) -> bool:
        query = urlencode([("limit", PAGE_SIZE), ("after", "x" * 40), ("archived", "false")]
                          + [("properties", p) for p in properties])
        line = f"GET {self.transport.base_url}/crm/v3/objects/{object_type}?{query} HTTP/1.1"
        return len(line) <= self.max_url_length

    def _objects(self, object_type: str, properties: list[str], after: str | None = None
                 ) -> Iterator[tuple[list[dict], dict]]:
        """Pages of HubSpot objects with ``properties``: one GET a page, or ids + batch read.

        Yields ``(objects, position)``; ``position`` continues the list after this page
        (HubSpot's list cursor, a keyset position on the object id, which does not expire).
        """
        use_batch = not self._url_fits(object_type, properties)
        while True:
            try:
                page = self.transport.required(f"{object_type} page", self.transport.client_call(
                    self.transport.objects_basic.get_page, object_type, limit=PAGE_SIZE, after=after,
                    properties=["hs_object_id"] if use_batch else properties, archived=False))
            except UrlTooLong:
                if use_batch:
                    raise ConnectorError(_("{table}: the server refused even a short request line (414)",
                                           table=object_type),
                                         where="hubspot") from None
                use_batch = True
                continue
            results = page.get("results") or []
            if use_batch and results:
                results = self._batch_read(object_type, [str(r["id"]) for r in results], properties)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            yield results, {"after": after, "done": not after}
            if not after:
                return

    def _changed(self, object_type: str, properties: list[str], since: datetime, after_id: str | None = None
                 ) -> Iterator[tuple[list[dict], dict]]:
        """Pages of objects created or modified since ``since``, through the search endpoint.

        Keyset paging: every request filters ``hs_object_id > last id`` sorted by
        ``hs_object_id``, so no query pages past HubSpot's 10,000-result cap and the
        position (the last id) stays valid across runs.
        """
        from hubspot.crm.objects.models import Filter, FilterGroup, PublicObjectSearchRequest

        modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        since_ms = str(int(aware(since).timestamp() * 1000))
        while True:
            filters = [Filter(property_name=modified, operator="GTE", value=since_ms)]
            if after_id is not None:
                filters.append(Filter(property_name="hs_object_id", operator="GT", value=str(after_id)))
            request = PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=filters)], properties=properties, limit=SEARCH_PAGE_SIZE,
                sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}])
            waited = self.search_limiter.acquire()
            if waited:
                self.transport.progress.waiting(waited)
            page = self.transport.required(f"{object_type} search", self.transport.client_call(
                self.transport.objects_search.do_search, object_type, public_object_search_request=request))
            results = page.get("results") or []
            more = bool(((page.get("paging") or {}).get("next") or {}).get("after")) and bool(results)
            if results:
                after_id = str(results[-1]["id"])
            yield results, {"after_id": after_id, "done": not more}
            if not more:
                return

    def _deleted(self, object_type: str, since: datetime) -> list[str]:
        """Ids of ``object_type`` records deleted since ``since`` (HubSpot's archived list)."""
        since = aware(since)
        ids = []
        for page in self.transport.pages(f"archived {object_type}", lambda after: self.transport.client_call(
                self.transport.objects_basic.get_page, object_type, limit=PAGE_SIZE, after=after,
                properties=["hs_object_id"], archived=True)):
            for obj in page.get("results") or []:
                at = mapping.utc_datetime(obj.get("archivedAt"))
                if at is None or at >= since:
                    ids.append(str(obj["id"]))
        return ids

    def _batch_read(self, object_type: str, ids: list[str], properties: list[str]) -> list[dict]:
        from hubspot.crm.objects.models import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

        request = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids], properties=properties, properties_with_history=[])
        body = self.transport.required(f"{object_type} batch read", self.transport.client_call(
            self.transport.objects_batch.read, object_type, request, archived=False))
        by_id = {str(r["id"]): r for r in body.get("results") or []}
        missing = [i for i in ids if i not in by_id]
        if missing:  # deleted between the list call and the batch read: note, do not invent
            self.note(ngettext("{object}: {n} record disappeared while being read (deleted meanwhile)",
                               "{object}: {n} records disappeared while being read (deleted meanwhile)",
                               len(missing), object=object_type))
        return [by_id[i] for i in ids if i in by_id]

    def _associations(self, from_type: str, ids: list[str]) -> dict[str, dict[str, str]]:
        """{canonical column: {from id: associated id}} for the pairs the audit needs."""
        from hubspot.crm.associations.v4.models import (BatchInputPublicFetchAssociationsBatchRequest,
                                                        PublicFetchAssociationsBatchRequest)

        out: dict[str, dict[str, str]] = {}
        for to_type, column in mapping.ASSOCIATIONS.get(from_type, {}).items():
            found: dict[str, list[dict]] = {}
            pending = [(i, None) for i in ids]
            while pending:
                batch, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
                request = BatchInputPublicFetchAssociationsBatchRequest(
                    inputs=[PublicFetchAssociationsBatchRequest(id=i, after=a) for i, a in batch])
                body = self.transport.required(f"{from_type}->{to_type} associations", self.transport.client_call(
                    self.transport.associations_batch.get_page, from_type, to_type, request))
                for result in body.get("results") or []:
                    from_id = str((result.get("from") or {}).get("id"))
                    found.setdefault(from_id, []).extend(result.get("to") or [])
                    nxt = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if nxt:
                        pending.append((from_id, nxt))
                for err in body.get("errors") or []:
                    if "NO_ASSOCIATIONS" not in str(err.get("subCategory") or "") and \
                            "associated" not in str(err.get("message") or ""):
                        raise ConnectorError(_("{source}->{target} associations: {error}", source=from_type,
                                               target=to_type, error=str(err.get("message"))),
                                             where="hubspot")
            out[column] = {k: mapping.primary_association(v) for k, v in found.items()}
        return out

    def read_table(self, table: str, custom_types: dict[str, dict[str, str]], previous) -> None:
        """One record table, resumable (kit.TableReader), maybe incremental.

        One source per HubSpot object type (activities come from six). A position is
        ``{"after": list cursor}`` (full reads) or ``{"after_id": last id read through
        search}`` (incremental), with ``"done"`` on the last page; ``meta`` keeps the mode,
        the ids merged away (seen on survivors) and the re-read step's progress.
        """
        reader = TableReader(self.sink, table)
        if reader.complete:
            return
        self.transport.progress = progress = self.sink.progress(table)
        if previous is not None and previous.records and table not in previous.records:
            previous = None  # the previous audit did not read this table: read it in full
        since = aware(previous.since) if previous is not None else None
        mode = "full" if since is None else "since"
        if reader.resuming and reader.meta.get("mode", mode) != mode:
            raise ConnectorError(_("{table}: cannot resume a {previous} read as a {mode} read", table=table,
                                   previous=str(reader.meta.get("mode")), mode=mode),
                                 where="hubspot", hint=_("resume with the same --incremental setting"))
        reader.meta["mode"] = mode
        if since is not None:
            reader.meta.setdefault("merged", [])  # ids merged away (gone), seen on survivors
        sources = [Source(object_type, self._pages(table, object_type, custom_types.get(object_type, {}), since,
                                                   reader.meta))
                   for object_type in mapping.OBJECT_TYPES[table]]

        def finish(reader: TableReader) -> int:
            if previous is None:
                return 0
            self._merged[table] = set(reader.meta.get("merged") or ())
            if reader.meta.get("relinked"):
                return 0
            relinked = self._reread_linked_to_deleted(table, custom_types, previous, reader)
            reader.save(relinked=True)
            progress.advance(records=relinked)
            return relinked

        reader.read(sources, previous=previous, deleted_ids=lambda: sorted(self._gone_ids(table, since)),
                    progress=progress, finish=finish)

    def _pages(self, table: str, object_type: str, types: dict[str, str], since: datetime | None, meta: dict
               ) -> Callable[[dict | None], Iterator[tuple[list[dict], dict]]]:
        """The rows of one object type with their associations, one association chunk
        (ASSOCIATION_BATCH records, one association call per pair) at a time: the reader
        commits each chunk with the position after it, one store transaction a chunk."""

        def to_rows(objs: list[dict]) -> list[dict]:
            rows = self._linked_rows(table, object_type, objs, types)
            if since is not None:
                self._read_ids.setdefault(table, set()).update(r["id"] for r in rows)
                for obj in objs:
                    merged = str((obj.get("properties") or {}).get("hs_merged_object_ids") or "")
                    meta["merged"] += [i for i in merged.split(";") if i.strip()]
            return rows

        def pages(position: dict | None) -> Iterator[tuple[list[dict], dict]]:
            position = position or {}
            if position.get("done"):
                return
            properties = sorted(set(mapping.needed_properties(object_type)) | set(types))
            if since is None:
                listed = self._objects(object_type, properties, position.get("after"))
            else:
                if table in RECORD_TABLES:
                    properties.append("hs_merged_object_ids")
                listed = self._changed(object_type, properties, since, position.get("after_id"))
            for chunk, after in _chunks(listed):
                yield to_rows(chunk), after

        return pages

    def _linked_rows(self, table: str, object_type: str, objs: list[dict], types: dict) -> list[dict]:
        """Canonical rows of ``objs`` with their association columns filled (one batch read
        per association pair for the whole chunk)."""
        if table in RECORD_TABLES:
            rows = [mapping.object_to_row(table, obj, types) for obj in objs]
            for obj in objs:
                self.apps.see(obj)
            if table == "contacts" and self.segments is not None:
                for row in rows:
                    row["segments"] = sorted(self.segments.get(row["id"], ())) or None  # in no list
        else:
            rows = [mapping.engagement_to_row(object_type, obj, types) for obj in objs]
        if rows:
            links = self._associations(object_type, [r["id"] for r in rows])
            for row in rows:
                for column, by_id in links.items():
                    row[column] = by_id.get(row["id"])
        return rows

    def _gone_ids(self, table: str, since: datetime) -> set[str]:
        """Ids of ``table`` deleted (archived) or merged away since ``since``; cached."""
        if table not in self._gone:
            gone = set(self._merged.get(table, ()))
            for object_type in mapping.OBJECT_TYPES[table]:
                gone.update(self._deleted(object_type, since))
            self._gone[table] = gone
        self._gone[table] |= self._merged.get(table, set())
        return self._gone[table]

    def _reread_linked_to_deleted(self, table: str, custom_types, previous, reader: TableReader) -> int:
        """Read again the unchanged rows whose company/contact/deal was deleted since.

        HubSpot drops the associations of a deleted record without modifying the records
        on the other side, so their carried rows would keep a link to a record that is
        gone. The previous snapshot says which rows point at the deleted ids; they are
        read with batch reads (100 a call) and win over the carried copies. A checkpoint
        after each chunk (``relink_at`` in the table's meta: object type and last id) makes
        this resumable too.
        """
        resume_at = reader.meta.get("relink_at")
        sink, links = self.sink, LINKS.get(table)
        if not links:
            return 0
        since = aware(previous.since)
        gone = {target: sorted(self._gone_ids(target, since)) for target in set(links.values())}
        if not any(gone.values()):
            return 0
        import duckdb

        gone = {target: ids for target, ids in gone.items() if ids}
        condition = " OR ".join(f"list_contains(${target}, {column})" for column, target in links.items()
                                if target in gone)
        kind = "type" if table == "activities" else "NULL"
        con = duckdb.connect(str(previous.path), read_only=True)
        try:
            found = con.execute(f"SELECT id, {kind} FROM canonical.{table} WHERE tenant = $tenant AND ({condition})",
                                {"tenant": self.tenant, **gone}).fetchall()
        finally:
            con.close()
        already = self._read_ids.get(table, set())
        by_type: dict[str, list[str]] = {}
        for record_id, activity_type in found:
            if record_id in already or record_id in self._gone_ids(table, since):
                continue
            object_type = table if table != "activities" else mapping.OBJECT_TYPE_OF_ACTIVITY.get(activity_type, "notes")
            by_type.setdefault(object_type, []).append(record_id)
        count = 0
        order = mapping.OBJECT_TYPES[table]
        for object_type in sorted(by_type, key=order.index):
            ids = sorted(by_type[object_type], key=_id_key)
            if resume_at:
                if order.index(object_type) < order.index(resume_at[0]):
                    continue
                if object_type == resume_at[0]:
                    ids = [i for i in ids if _id_key(i) > _id_key(resume_at[1])]
            types = custom_types.get(object_type, {})
            properties = sorted(set(mapping.needed_properties(object_type)) | set(types))
            for start in range(0, len(ids), ASSOCIATION_BATCH):
                objs = []
                for i in range(start, min(start + ASSOCIATION_BATCH, len(ids)), PAGE_SIZE):
                    objs += self._batch_read(object_type, ids[i: min(i + PAGE_SIZE, start + ASSOCIATION_BATCH)],
                                             properties)
                # modified since: the search pass read it (in this run or before an interruption)
                objs = [o for o in objs if (_modified(o, object_type) or since) < since]
                rows = self._linked_rows(table, object_type, objs, types)
                if rows:
                    sink.write(table, rows)
                    count += len(rows)
                last = ids[min(start + ASSOCIATION_BATCH, len(ids)) - 1]
                reader.save(relink_at=[object_type, last])
        return count


def _chunks(pages: Iterator[tuple[list[dict], dict]]) -> Iterator[tuple[list[dict], dict]]:
    """Pages grouped into chunks of at least ASSOCIATION_BATCH objects (the last one smaller),
    each with the position after its last page."""
    chunk: list[dict] = []
    position: dict = {}
    for page, position in pages:
        chunk += page
        if len(chunk) >= ASSOCIATION_BATCH:
            yield chunk, position
            chunk = []
    if chunk or position.get("done"):
        yield chunk, position


def _id_key(value: str):
    return (0, int(value)) if str(value).isdigit() else (1, str(value))


def _modified(obj: dict, object_type: str) -> datetime | None:
    props = obj.get("properties") or {}
    value = props.get("lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate") or obj.get("updatedAt")
    return mapping.utc_datetime(value)


def aware(value) -> datetime:
    """``value`` (datetime or ISO text) as an aware datetime (naive ones are UTC)."""
    if isinstance(value, str):
        value = mapping.utc_datetime(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

