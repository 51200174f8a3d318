"""Changing the sandbox org between two audits (tests and benchmarks of incremental audits).

Two levels: the kit's canonical mutation API (:meth:`OrgChanges.put_record` /
:meth:`OrgChanges.delete_record`: a canonical row of a table, mapped with the org builder's
``row_to_<entity>``), and Salesforce-level edits for vendor-specific tests
(:meth:`update_sobject`, :meth:`add_sobject`, :meth:`delete_sobject`: fields by their API
names, e.g. converting a Lead or renaming an Account). Every change moves the record's
``LastModifiedDate`` and ``SystemModstamp`` to ``when`` (default now); a deletion is listed
by getDeleted until :meth:`purge_delete_log`.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from .. import mapping as m
from .builder import (
    Ids,
    is_event,
    opportunity_record,
    row_to_account,
    row_to_campaign,
    row_to_contact,
    row_to_event,
    row_to_lead,
    row_to_task,
    row_to_user,
)
from . import integrations as integ
from .org import Org

UTC = timezone.utc

# The canonical tables put_record maps, and the objects their records may be.
TABLE_OBJECTS = {"companies": ("Account",), "contacts": ("Contact", "Lead"), "deals": ("Opportunity",),
                 "activities": ("Task", "Event"), "campaigns": ("Campaign",), "users": ("User",)}


def _when(when: Any) -> datetime:
    return (m.utc_datetime(when) if when is not None else None) or datetime.now(UTC)


class OrgChanges:
    """The mutation API of one sandbox org (see the module docstring)."""

    def __init__(self, org: Org, lock: threading.RLock | threading.Lock):
        self.org = org
        self.lock = lock
        self._added = 0

    # -- canonical rows ------------------------------------------------------------------

    def put_record(self, table: str, row: dict, when: Any = None) -> str:
        """Create or update the canonical ``row`` of ``table``; returns its Salesforce id."""
        if table not in TABLE_OBJECTS:
            raise NotImplementedError(f"the Salesforce sandbox cannot change {table} "
                                      f"(it changes {', '.join(TABLE_OBJECTS)})")
        stamp = m.format_datetime(_when(when))
        org = self.org
        with self.lock:
            ids = Ids(org)
            known = org.ids.get(str(row["id"]))
            existing = org.by_id.get(known) if known else None
            sobject = m.sobject_of(known) if existing is not None else self._new_object(table, row)
            if existing is None:
                ids.assign(row["id"], sobject)
            record = self._record(sobject, row, ids, existing)
            if sobject in integ.PICKLISTS:
                integ.attribute(org, sobject, row, record)
            record.update(LastModifiedDate=stamp, SystemModstamp=stamp)
            if existing is not None:
                existing.update(record)
            else:
                base = {f: None for f in org.fields[sobject]}
                org.add(sobject, {**base, **record, "CreatedDate": record.get("CreatedDate") or stamp})
            if table == "contacts" and "CampaignMember" in org.fields:
                integ.set_segments(org, self._new_id, record["Id"], row.get("segments"), _when(when))
            return record["Id"]

    def delete_record(self, table: str, record_id: str, when: Any = None) -> str:
        """Delete a record of ``table`` (a canonical or Salesforce id); returns its Salesforce id."""
        if table not in TABLE_OBJECTS:
            raise NotImplementedError(f"the Salesforce sandbox cannot delete from {table}")
        return self.delete_sobject(record_id, _when(when))

    def _new_object(self, table: str, row: dict) -> str:
        if table == "contacts":
            return "Lead" if row.get("lifecycle_stage") == "lead" else "Contact"
        if table == "activities":
            return "Event" if is_event(row, self.org.as_of or datetime.now(UTC)) else "Task"
        return TABLE_OBJECTS[table][0]

    def _record(self, sobject: str, row: dict, ids: Ids, existing: dict | None) -> dict:
        org, cfg = self.org, self.org.cfg
        custom = {name: f["type"] for name, f in org.fields[sobject].items() if f.get("custom")}
        if sobject == "Account":
            return row_to_account(row, ids, cfg, custom)
        if sobject == "Contact":
            return row_to_contact(row, ids, cfg, custom)
        if sobject == "Lead":
            account = org.by_id.get(ids.ref(row.get("company_id"), "Account") or "") or {}
            return row_to_lead(row, ids, cfg, custom, row.get("company_name") or account.get("Name"))
        if sobject == "Opportunity":
            return opportunity_record(org, ids, row, custom)
        if sobject == "Task":
            return row_to_task(row, ids, custom)
        if sobject == "Event":
            return row_to_event(row, ids, custom)
        if sobject == "Campaign":
            return row_to_campaign(row, ids)
        record = row_to_user(row, ids, (existing or {}).get("ProfileId"))
        for kept in ("UserRoleId", "UserType"):  # the role hierarchy and guest type stay as built
            if existing and existing.get(kept) is not None:
                record[kept] = existing[kept]
        return record

    # -- Salesforce records ----------------------------------------------------------------

    def _resolve(self, record_id: str) -> dict:
        sf_id = self.org.ids.get(str(record_id), str(record_id))
        record = self.org.by_id.get(sf_id)
        if record is None:
            raise KeyError(f"no record {record_id!r} in the sandbox org")
        return record

    def update_sobject(self, record_id: str, when: datetime | None = None, **values) -> str:
        """Change fields of a record (a Salesforce or canonical id); returns its Salesforce id."""
        stamp = m.format_datetime(when or datetime.now(UTC))
        with self.lock:
            record = self._resolve(record_id)
            record.update(values, LastModifiedDate=stamp, SystemModstamp=stamp)
        return record["Id"]

    def _new_id(self, sobject: str) -> str:
        self._added += 1
        canonical = str(8_000_000_000 + self._added)
        self.org.ids.setdefault(canonical, m.to_salesforce_id(canonical, sobject))
        return m.to_salesforce_id(canonical, sobject)

    def add_sobject(self, sobject: str, when: datetime | None = None, **values) -> str:
        """Create a record of ``sobject``; returns its new Salesforce id."""
        stamp = m.format_datetime(when or datetime.now(UTC))
        with self.lock:
            self._added += 1
            canonical = str(8_000_000_000 + self._added)
            sf_id = m.to_salesforce_id(canonical, sobject)
            base = {f: None for f in self.org.fields[sobject]}
            self.org.add(sobject, {**base, **values, "Id": sf_id, "CreatedDate": stamp, "LastModifiedDate": stamp,
                                   "SystemModstamp": stamp})
            self.org.ids[canonical] = sf_id
        return sf_id

    def delete_sobject(self, record_id: str, when: datetime | None = None) -> str:
        """Delete a record: gone from queries, listed by getDeleted. Returns its Salesforce id."""
        at = (when or datetime.now(UTC)).astimezone(UTC)
        with self.lock:
            record = self._resolve(record_id)
            sobject = next(n for n, rows in self.org.records.items() if any(r is record for r in rows))
            self.org.records[sobject] = [r for r in self.org.records[sobject] if r is not record]
            self.org.by_id.pop(record["Id"], None)
            self.org.deleted.setdefault(sobject, []).append((record["Id"], at))
        return record["Id"]

    def purge_delete_log(self, until: datetime | None = None) -> None:
        """Empty the delete log up to ``until`` (an admin emptying the Recycle Bin)."""
        self.org.purged_until = (until or datetime.now(UTC)).astimezone(UTC)
