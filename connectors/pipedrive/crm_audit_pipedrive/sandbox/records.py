"""The live record set a Pipedrive sandbox serves, and how it changes between audits.

It answers the list questions of the API (the records of an entity in ``id`` or
``update_time`` order, since a time, by deal status, the deleted ones, the ``/v1/recents``
feed) and hands out Pipedrive-like cursors: stateless base64url JSON naming the last
record served, which :meth:`CompanyRecords.expire_cursors` invalidates. Tests change the
company with ``update`` / ``add`` / ``delete``, which bump ``update_time`` as Pipedrive does.
"""

from __future__ import annotations

import base64
import json
import threading
import time

from .company import PipedriveData
from ..values import utc_datetime, v1_time

RECENT_ITEMS = {"person": "persons", "organization": "organizations", "activity": "activities", "note": "notes", "deal": "deals"}
SORT_KEYS = ("id", "update_time", "add_time")


class CompanyRecords:
    """``data`` (:class:`PipedriveData`) plus the deleted records, under one lock."""

    def __init__(self, data: PipedriveData):
        self.data = data
        self.lock = threading.Lock()
        # Deleted records (entity -> id -> record with is_deleted/update_time), served by
        # /v2/deals?status=deleted and /v1/recents, as Pipedrive keeps them for 30 days.
        self.deleted: dict[str, dict[int, dict]] = {}
        self.cursor_generation = 0
        self._version = 0
        self._views: dict = {}

    # -- changes between audits (tests) ------------------------------------------------

    def _find(self, entity: str, record_id) -> dict:
        for record in self.data.entities[entity]:
            if record.get("id") == int(record_id):
                return record
        raise KeyError(f"{entity} {record_id} not in the sandbox")

    def _touched(self, entity: str, record: dict, when: str | None = None) -> None:
        when = when or now_v2()
        record["update_time"] = v1_time(when) if entity == "notes" else when
        self._version += 1

    def update(self, entity: str, record_id, when: str | None = None, **values) -> dict:
        """Change a record (Pipedrive field names) and bump its update_time to now."""
        with self.lock:
            record = self._find(entity, record_id)
            record.update(values)
            self._touched(entity, record, when)
            return record

    def add(self, entity: str, record: dict, when: str | None = None) -> dict:
        """Add a record (Pipedrive shape, with its id); add_time/update_time default to now."""
        with self.lock:
            record = dict(record)
            record.setdefault("add_time", v1_time(when or now_v2()) if entity == "notes" else (when or now_v2()))
            self.data.entities[entity].append(record)
            self.data.entities[entity].sort(key=lambda r: r["id"])
            self._touched(entity, record, when)
            return record

    def delete(self, entity: str, record_id, when: str | None = None) -> dict:
        """Delete a record: gone from the lists, kept in the deleted feeds."""
        with self.lock:
            record = self._find(entity, record_id)
            self.data.entities[entity].remove(record)
            record = dict(record, is_deleted=True, active_flag=False)
            if entity == "deals":
                record["status"] = "deleted"
            self._touched(entity, record, when)
            self.deleted.setdefault(entity, {})[record["id"]] = record
            return record

    def get(self, entity: str, record_id) -> dict | None:
        with self.lock:
            try:
                return self._find(entity, record_id)
            except KeyError:
                return None

    def put(self, entity: str, record: dict, when: str | None = None) -> dict:
        """Replace the record with ``record``'s id, or add it; update_time becomes ``when`` (now)."""
        with self.lock:
            rows = self.data.entities[entity]
            for index, kept in enumerate(rows):
                if kept.get("id") == record["id"]:
                    rows[index] = record
                    break
            else:
                rows.append(record)
                rows.sort(key=lambda r: r["id"])
            self._touched(entity, record, when)
            return record

    def expire_cursors(self) -> None:
        """Every cursor handed out so far becomes invalid (HTTP 400), as an expired one would."""
        with self.lock:
            self.cursor_generation += 1

    # -- queries -------------------------------------------------------------------------

    def view(self, resource: str, sort_by: str, since: str | None, status: str | None):
        """(sort keys, records) of ``resource`` filtered and sorted (cached until the company changes)."""
        cache_key = (resource, sort_by, since, status, self._version)
        with self.lock:
            hit = self._views.get(cache_key)
            if hit is not None:
                return hit
            if status:
                wanted = set(status.split(","))
                records = []
                if wanted - {"deleted"}:
                    records += [r for r in self.data.entities.get(resource, []) if r.get("status") in wanted]
                if "deleted" in wanted:
                    records += list(self.deleted.get(resource, {}).values())
            else:
                records = self.data.entities.get(resource, [])
            if since:
                records = [r for r in records if time_key(r.get("update_time")) >= since]
            if sort_by == "id":
                keyed = sorted((("", int(r["id"])), r) for r in records) if records and "id" in records[0] else [(("", i), r) for i, r in enumerate(records)]
            else:
                keyed = sorted(((time_key(r.get(sort_by)), int(r["id"])), r) for r in records)
            keys = [k for k, _ in keyed]
            view = [r for _, r in keyed]
            if len(self._views) > 64:
                self._views.clear()
            self._views[cache_key] = (keys, view)
            return keys, view

    def recents(self, since_timestamp: str, items_param: str | None, public) -> list[dict]:
        """/v1/recents: changes since ``since_timestamp`` (UTC, ``YYYY-MM-DD HH:MM:SS``),
        oldest first; a deleted record comes back with ``active_flag: false``."""
        since = time_key(since_timestamp)
        items = [i for i in (items_param or ",".join(RECENT_ITEMS)).split(",") if i in RECENT_ITEMS]
        out = []
        with self.lock:
            for item in items:
                entity = RECENT_ITEMS[item]
                for record in self.data.entities.get(entity, []):
                    if time_key(record.get("update_time")) >= since:
                        out.append({"item": item, "id": record["id"], "data": dict(public(record), active_flag=True)})
                for record in self.deleted.get(entity, {}).values():
                    if time_key(record.get("update_time")) >= since:
                        out.append({"item": item, "id": record["id"],
                                    "data": {"id": record["id"], "active_flag": False, "update_time": record["update_time"]}})
        out.sort(key=lambda e: (time_key(e["data"].get("update_time")), e["item"], e["id"]))
        return out


def encode_cursor(entity: str, position, generation: int = 0) -> str:
    """A stateless cursor naming the last record served (sort key, id), as Pipedrive's
    base64url JSON cursors; ``g`` lets a test make every cursor handed out so far invalid."""
    raw = json.dumps({entity: position, "g": generation}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(entity: str, cursor: str, generation: int = 0):
    """The (sort key, id) a cursor names, or None when it is not one of this generation's."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded))
        if body.get("g", 0) != generation:
            return None
        key, rid = body[entity]
        return (str(key), int(rid))
    except Exception:
        return None


def now_v2() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def time_key(value) -> str:
    """update_time in one sortable form ('' when missing), whatever its API version."""
    dt = utc_datetime(value)
    return "" if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")
