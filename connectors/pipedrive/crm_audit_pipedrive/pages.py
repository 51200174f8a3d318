"""How Pipedrive's lists are paged: v2 cursor lists (in ``update_time`` order, from
``updated_since`` in an incremental audit, resumable from a position that keeps the cursor
and a keyset position), v1 offset lists, and the feeds of what changed since the previous
audit (deleted deals, ``/v1/recents``). Each resumable source is ``pages(position)`` for a
:class:`crm_audit_core.kit.Source`: an iterator of (records, position after that page)."""

from __future__ import annotations

from typing import Callable, Iterator

from . import mapping
from .client import BadRequest, PipedriveClient
from .values import to_id, v1_time, v2_time


class PipedrivePages:
    """The lists of one company, ``page_limit`` records a page; ``since`` (the previous
    audit's time, or None) narrows the v2 lists to the records changed since."""

    def __init__(self, client: PipedriveClient, page_limit: int, since=None):
        self.client = client
        self.page_limit = page_limit
        self.since = since

    def cursor(self, path: str, params: dict) -> Iterator[list[dict]]:
        """Every page of a v2 list (not resumable: for the small lists read in full)."""
        cursor = None
        while True:
            query = dict(params, limit=self.page_limit)
            if cursor:
                query["cursor"] = cursor
            body = self.client.get("v2", path, query)
            yield body.get("data") or []
            cursor = (body.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return

    def offset(self, path: str) -> Iterator[list[dict]]:
        """Every page of a v1 offset list (not resumable: for the small lists read in full)."""
        start = 0
        while True:
            body = self.client.get("v1", path, {"start": start, "limit": self.page_limit})
            data = body.get("data") or []
            yield data
            pagination = (body.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection"):
                return
            next_start = pagination.get("next_start")
            start = int(next_start) if next_start is not None else start + len(data)
            if not data:
                return

    def v2_source(self, path: str, params: dict) -> Callable:
        """Pages of a v2 list in a stable order (``sort_by=update_time``, then id), from
        ``updated_since`` in an incremental audit. The position after each page keeps the
        vendor cursor *and* a keyset position (the last update_time and the ids read at
        that time): a resumed run tries the cursor and, if Pipedrive no longer accepts
        it, continues from ``updated_since=<time>`` skipping the ids already read."""

        def pages(position: dict | None):
            base = dict(params, limit=self.page_limit, sort_by="update_time", sort_direction="asc")
            if self.since is not None:
                base["updated_since"] = v2_time(self.since)
            cursor, last_time, ids_at = None, None, []
            if position:
                cursor, last_time, ids_at = position.get("cursor"), position.get("time"), list(position.get("ids") or [])
                if position.get("since"):
                    base["updated_since"] = position["since"]
                if not cursor and position.get("done"):
                    return
            skip: set = set()
            while True:
                query = dict(base)
                if cursor:
                    query["cursor"] = cursor
                try:
                    body = self.client.get("v2", path, query)
                except BadRequest:
                    if not cursor:
                        raise
                    # The cursor is no longer valid: continue from the keyset position.
                    cursor, skip = None, set(ids_at)
                    if last_time:
                        base["updated_since"] = last_time
                    continue
                data = body.get("data") or []
                for record in data:
                    when = record.get("update_time")
                    if when == last_time:
                        ids_at.append(record.get("id"))
                    else:
                        last_time, ids_at = when, [record.get("id")]
                if skip:
                    data = [r for r in data if r.get("id") not in skip]
                cursor = (body.get("additional_data") or {}).get("next_cursor")
                after = {"cursor": cursor, "time": last_time, "ids": ids_at,
                             "since": base.get("updated_since"), "done": not cursor}
                yield data, after
                if not cursor:
                    return

        return pages

    def notes_source(self) -> Callable:
        """v1 /notes by offset (no modified-since filter; the position is the next offset)."""

        def pages(position: dict | None):
            start = int((position or {}).get("start") or 0)
            if position and position.get("done"):
                return
            while True:
                body = self.client.get("v1", "/notes", {"start": start, "limit": self.page_limit, "sort": "id ASC"})
                data = body.get("data") or []
                pagination = (body.get("additional_data") or {}).get("pagination") or {}
                more = bool(pagination.get("more_items_in_collection")) and bool(data)
                next_start = pagination.get("next_start")
                start = int(next_start) if next_start is not None else start + len(data)
                yield data, {"start": start, "done": not more}
                if not more:
                    return

        return pages

    def list_source(self, getter: Callable[[], list]) -> Callable:
        def pages(position: dict | None):
            if position and position.get("done"):
                return
            yield getter(), {"done": True}

        return pages

    def deletions(self, read_notes: bool) -> tuple[dict[str, set], list[dict]]:
        """Ids deleted since the previous audit, and the notes changed since.

        * deals: ``GET /api/v2/deals?status=deleted&updated_since=...`` (Pipedrive keeps
          deleted deals for 30 days);
        * persons, organizations, activities, notes: ``GET /v1/recents`` since that time
          (every change of those kinds; a deleted record comes back inactive). Pipedrive's
          v2 lists have no deleted filter for them.
        """
        deleted: dict[str, set] = {"contacts": set(), "companies": set(), "activities": set(), "deals": set()}
        changed_notes: list[dict] = []
        base = {"status": "deleted", "updated_since": v2_time(self.since)}
        for page in self.cursor("/deals", base):
            deleted["deals"].update(str(d.get("id")) for d in page)
        kinds = {"person": "contacts", "organization": "companies", "activity": "activities", "note": "activities"}
        items = "person,organization,activity" + (",note" if read_notes else "")
        start = 0
        since = v1_time(self.since)
        while True:
            body = self.client.get("v1", "/recents", {"since_timestamp": since, "items": items, "start": start, "limit": self.page_limit})
            data = body.get("data") or []
            for entry in data:
                item, record = entry.get("item"), entry.get("data") or {}
                if item not in kinds:
                    continue
                rid = to_id(entry.get("id", record.get("id")))
                gone = record.get("active_flag") is False or record.get("is_deleted") is True or record.get("deleted") is True
                if item == "note":
                    if gone:
                        deleted["activities"].add(f"{mapping.NOTE_ID_PREFIX}{rid}")
                    else:
                        changed_notes.append(record)
                elif gone:
                    deleted[kinds[item]].add(rid)
            pagination = (body.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection") or not data:
                break
            next_start = pagination.get("next_start")
            start = int(next_start) if next_start is not None else start + len(data)
        return deleted, changed_notes
