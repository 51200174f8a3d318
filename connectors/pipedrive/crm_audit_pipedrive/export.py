"""Pipedrive's own export read through this connector's mapping (``--files-format pipedrive-export``).

Pipedrive exports each list view (deals, people, organizations, activities) as its own
CSV or Excel file with ``Entity - Field`` headers (``Deal - Title``, ``Person - Email``,
``Organization - Name``, ``Activity - Due date``); linked records and owners are written
by name (``Deal - Organization``, ``Deal - Owner``), and a deal's outcome as its status
(``Won``, ``Lost``, ``Open``). This module turns each row back into the record the API
returns and hands it to the same ``*_to_row`` functions of
:mod:`crm_audit_pipedrive.mapping` as an API audit.

What an export does not hold: users (owners are names: ``owner_id`` holds the name),
stage ids and pipelines' stage lists (``deals.stage`` is the stage's name), custom-field
hashes (custom columns keep their labels), login history and webhooks (no integrations).
A link written by name is resolved to the id of the exported record of that name when
exactly one has it; an ``... ID`` column, when exported, is used first.
"""

from __future__ import annotations

import re

from crm_audit_core.connector import ExportFormat
from crm_audit_core.exports import ExportFiles, ExportResult

from . import mapping as m
from .i18n import _

PREFIXES = {"organization": "companies", "person": "contacts", "deal": "deals", "activity": "activities"}
# field label (lower-cased, after the "Entity - " prefix) -> the API record's key, per entity.
FIELDS = {
    "organization": {"id": "id", "name": "name", "owner": "owner_id", "address": "address",
                     "organization created": "add_time", "update time": "update_time"},
    "person": {"id": "id", "name": "name", "first name": "first_name", "last name": "last_name", "email": "email",
               "phone": "phone", "job title": "job_title", "organization": "org_id", "organization id": "org_id",
               "owner": "owner_id", "label": "label", "person created": "add_time", "update time": "update_time",
               "last activity date": "last_activity"},
    "deal": {"id": "id", "title": "title", "value": "value", "currency": "currency", "currency of value": "currency",
             "pipeline": "pipeline", "stage": "stage", "status": "status", "lost reason": "lost_reason",
             "owner": "owner_id", "organization": "org_id", "organization id": "org_id",
             "contact person": "person_id", "contact person id": "person_id", "deal created": "add_time",
             "update time": "update_time", "won time": "won_time", "lost time": "lost_time",
             "deal closed on": "close_time", "close time": "close_time", "expected close date": "expected_close_date",
             "last activity date": "last_activity"},
    "activity": {"id": "id", "subject": "subject", "type": "type", "due date": "due_date", "due time": "due_time",
                 "done": "done", "assigned to user": "owner_id", "deal": "deal_id", "deal id": "deal_id",
                 "contact person": "person_id", "person": "person_id", "person id": "person_id",
                 "organization": "org_id", "organization id": "org_id", "marked as done time": "marked_as_done_time",
                 "add time": "add_time"},
}
_HEADER = re.compile(r"^\s*(organization|person|deal|activity)\s*[-\u2013]\s*(.+?)\s*$", re.IGNORECASE)


def split(header: str) -> tuple[str, str] | None:
    match = _HEADER.match(header)
    return (match.group(1).lower(), match.group(2).lower()) if match else None


def entity_of(header: list[str]) -> str | None:
    """The entity a file lists: the prefix of most of its headers."""
    counts: dict[str, int] = {}
    for h in header:
        parts = split(h)
        if parts:
            counts[parts[0]] = counts.get(parts[0], 0) + 1
    if not counts:
        return None
    entity = max(counts, key=counts.get)
    return entity if counts[entity] >= 2 else None


def detect(headers: dict[str, list[str]]) -> int:
    found = {entity_of(h) for h in headers.values()}
    found.discard(None)
    return 10 * len(found) + 5 if found else 0


def _yes(value: str) -> bool:
    return str(value or "").strip().lower() in ("yes", "true", "1", "done", "y")


def _record(entity: str, row: dict) -> tuple[dict, dict, set[str]]:
    """(the API-shaped record, its custom values by label, the headers used)."""
    record: dict = {}
    custom: dict = {}
    used: set[str] = set()
    for header, value in row.items():
        parts = split(header)
        if not parts or parts[0] != entity:
            continue
        key = FIELDS[entity].get(parts[1])
        if key is None:
            if value not in (None, ""):
                custom[header.split("-", 1)[1].strip()] = value
            used.add(header)
            continue
        used.add(header)
        if value not in (None, "") and (key not in record or parts[1].endswith(" id")):
            record[key] = value
    return record, custom, used


def read(files: ExportFiles) -> ExportResult:
    result = ExportResult()
    by_entity: dict[str, list[str]] = {}
    for name in files.names:
        entity = entity_of(files.header(name))
        if entity:
            by_entity.setdefault(entity, []).append(name)
    parsed: dict[str, list[tuple[str, list[str], dict, dict, set[str]]]] = {}
    for entity, names in by_entity.items():
        for name in names:
            header, rows = files.records(name)
            for row in rows:
                record, custom, used = _record(entity, row)
                if record.get("id"):
                    parsed.setdefault(entity, []).append((name, header, record, custom, used))
    ids_by_name: dict[str, dict[str, str | None]] = {}
    for entity, key in (("organization", "name"), ("person", "name"), ("deal", "title")):
        names: dict[str, str | None] = {}
        for _name, _header, record, _custom, _used in parsed.get(entity, []):
            label = (record.get(key) or "").strip()
            if label:
                names[label] = None if label in names else str(record["id"])  # ambiguous names resolve to nothing
        ids_by_name[entity] = names

    def link(entity: str, value) -> str | None:
        if value in (None, ""):
            return None
        text = str(value).strip()
        return text if text.isdigit() else ids_by_name.get(entity, {}).get(text)

    orgs = {str(r["id"]): r.get("name") for _name, _header, r, _custom, _used in parsed.get("organization", [])}
    rows_by: dict[tuple[str, str], tuple[list[str], list[dict], set[str]]] = {}
    for entity, items in parsed.items():
        for name, header, record, custom, used in items:
            if entity == "organization":
                address = record.pop("address", None)
                record["address"] = {"value": address} if address else None
                row = m.organization_to_row(record, None)
            elif entity == "person":
                record["org_id"] = link("organization", record.get("org_id"))
                record["emails"] = [{"value": record.pop("email"), "primary": True}] if record.get("email") else []
                record["phones"] = [{"value": record.pop("phone"), "primary": True}] if record.get("phone") else []
                if not record.get("first_name") and record.get("name"):
                    record["first_name"], _sep, record["last_name"] = record["name"].partition(" ")
                labels = [s.strip() for s in str(record.pop("label", "") or "").split(",") if s.strip()]
                row = m.person_to_row(record, None, orgs, {}, {})
                row["segments"] = labels
                row["last_activity_at"] = m.utc_datetime(record.get("last_activity"))
            elif entity == "deal":
                record["org_id"] = link("organization", record.get("org_id"))
                record["person_id"] = link("person", record.get("person_id"))
                record["status"] = str(record.get("status") or "open").strip().lower()
                record["close_time"] = record.get("close_time") or record.get("won_time") or record.get("lost_time")
                pipeline, stage = record.get("pipeline"), record.get("stage")
                row = m.deal_to_row(record, None, {str(pipeline): pipeline} if pipeline else {}, {}, {})
                row["pipeline"], row["stage"] = pipeline, stage
                row["amount"] = float(str(record["value"]).replace(",", "")) if record.get("value") not in (
                    None, "", "0", "0.0") else None
                row["last_activity_at"] = m.utc_datetime(record.get("last_activity"))
            else:
                record["done"] = _yes(record.get("done"))
                record["deal_id"] = link("deal", record.get("deal_id"))
                record["person_id"] = link("person", record.get("person_id"))
                record["org_id"] = link("organization", record.get("org_id"))
                row = m.activity_to_row(record)
            if custom:
                row["custom"] = custom
            row["raw"] = record
            table = PREFIXES[entity]
            _first, out, seen = rows_by.setdefault((name, table), (header, [], set()))
            out.append(row)
            seen.update(used)
    for (name, table), (header, rows, used) in rows_by.items():
        result.add(table, rows)
        result.report(name, table, header, used, rows)
    if rows_by:
        result.notes.append(_("Pipedrive export: owners are named, not numbered, so owner_id holds the owner's "
                              "name and the users table is not supplied; stages are named by the deal's stage"))
    return result


EXPORT_FORMAT = ExportFormat(
    name="pipedrive-export",
    detect=detect,
    read=read,
    description="Pipedrive list exports (CSV or XLSX per entity) with 'Deal - Title' style headers",
)
