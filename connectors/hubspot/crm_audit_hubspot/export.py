"""HubSpot's own export read through this connector's mapping (``--files-format hubspot-export``).

HubSpot exports one file per object (CSV, XLSX or XLS; ``hubspot-crm-exports-all-contacts-
2024-03-05.csv``) with property *labels* as headers (``Record ID``, ``First Name``,
``Lifecycle Stage``), enumerated values as their labels (``Marketing Qualified Lead``),
owners by name (``Contact owner``: ``Jane Doe``) and, when associations are included,
columns such as ``Associated Company IDs (Primary)``. This module turns each row back into
the object the API returns (internal property names and values) and hands it to the same
:func:`crm_audit_hubspot.mapping.object_to_row` as an API audit.

What an export does not hold: owners' ids and users (``owner_id`` is the owner's name, and
the users table is not supplied), pipelines (``deals.stage`` is the stage's label; whether a
deal is closed or won comes from ``Is Deal Closed?`` / ``Is Closed Won`` when exported, else
from the stage's name, ``model.STAGE_OUTCOMES``), activities, login history, marketing
emails and property definitions (the fields table is built from the headers).
"""

from __future__ import annotations

import re

from crm_audit_core import model
from crm_audit_core.connector import ExportFormat
from crm_audit_core.exports import ExportFiles, ExportResult

from . import mapping as m
from .i18n import _

# HubSpot's default property labels (lower-cased) -> internal property name, per object.
COMMON_LABELS = {
    "record id": "hs_object_id", "create date": "createdate", "record source": "hs_object_source",
    "record source detail 1": "hs_object_source_detail_1", "last activity date": "notes_last_updated",
    "street address": "address", "city": "city", "state/region": "state", "postal code": "zip",
    "country/region": "country", "phone number": "phone",
}
LABELS = {
    "contacts": {**COMMON_LABELS, "first name": "firstname", "last name": "lastname", "email": "email",
                 "job title": "jobtitle", "company name": "company", "lifecycle stage": "lifecyclestage",
                 "lead status": "hs_lead_status", "contact owner": "hubspot_owner_id",
                 "marketing emails bounced": "hs_email_bounce", "last modified date": "lastmodifieddate"},
    "companies": {**COMMON_LABELS, "company name": "name", "name": "name", "company domain name": "domain",
                  "industry": "industry", "company owner": "hubspot_owner_id",
                  "last modified date": "hs_lastmodifieddate"},
    "deals": {**COMMON_LABELS, "deal name": "dealname", "amount": "amount", "currency": "deal_currency_code",
              "pipeline": "pipeline", "deal stage": "dealstage", "is deal closed?": "hs_is_closed",
              "is closed won": "hs_is_closed_won", "close date": "closedate", "closed lost reason": "closed_lost_reason",
              "deal owner": "hubspot_owner_id", "last modified date": "hs_lastmodifieddate"},
}
# Association columns HubSpot adds (lower-cased) -> (canonical column, primary first).
ASSOCIATION_COLUMNS = {
    "contacts": {"company_id": ("associated company ids (primary)", "associated company ids", "associated company id")},
    "deals": {"company_id": ("associated company ids (primary)", "associated company ids", "associated company id"),
              "contact_id": ("associated contact ids (primary)", "associated contact ids", "associated contact id")},
    "companies": {},
}
# Columns an export carries that no canonical column needs (not reported as dropped custom fields).
NAME_COLUMNS = ("associated company", "associated contact", "associated deal", "associated contact ids",
                "associated deal ids", "associated company ids")
SIGNATURES = {  # labels that tell an object's file apart
    "contacts": {"first name", "lifecycle stage", "contact owner", "last name"},
    "companies": {"company domain name", "company owner"},
    "deals": {"deal name", "deal stage", "deal owner", "pipeline"},
}


def object_of(name: str, header: list[str]) -> str | None:
    labels = {h.strip().lower() for h in header}
    if "record id" not in labels:
        return None
    for table in ("contacts", "companies", "deals"):
        if table in name.lower() and len(SIGNATURES[table] & labels) >= 1:
            return table
    best = max(SIGNATURES, key=lambda t: len(SIGNATURES[t] & labels))
    return best if len(SIGNATURES[best] & labels) >= 2 else None


def detect(headers: dict[str, list[str]]) -> int:
    found = {object_of(n, h) for n, h in headers.items()}
    found.discard(None)
    return 10 * len(found) + 5 if found else 0


def _internal_value(prop: str, value: str) -> str | None:
    """A label as HubSpot's API writes the value."""
    text = (value or "").strip()
    if not text:
        return None
    if prop == "lifecyclestage":
        return re.sub(r"[\s_-]+", "", text.lower())
    if prop == "hs_object_source":
        return re.sub(r"[\s-]+", "_", text.upper())
    return text


def slug(label: str) -> str:
    """A custom property's internal name from its label (``Preferred language`` -> ``preferred_language``)."""
    return re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")


def _first_id(value: str) -> str | None:
    ids = [v.strip() for v in re.split(r"[;,]", value or "") if v.strip()]
    return ids[0] if ids else None


def _read_table(table: str, files: ExportFiles, names: list[str], result: ExportResult) -> None:
    labels = LABELS[table]
    for name in names:
        header, records = files.records(name)
        by_label = {h.strip().lower(): h for h in header}
        known = {h: labels[h.strip().lower()] for h in header if h.strip().lower() in labels}
        associations = ASSOCIATION_COLUMNS[table]
        used_assoc = {by_label[c] for cols in associations.values() for c in cols if c in by_label}
        ignored = {by_label[c] for c in NAME_COLUMNS if c in by_label}
        custom_headers = [h for h in header if h not in known and h not in used_assoc and h not in ignored]
        custom_types = {slug(h): "string" for h in custom_headers}
        rows = []
        for record in records:
            props = {prop: _internal_value(prop, record.get(h, "")) for h, prop in known.items()}
            props.update({slug(h): (record.get(h) or None) for h in custom_headers})
            obj = {"id": props.get("hs_object_id") or "", "properties": props}
            row = m.object_to_row(table, obj, custom_types)
            row["custom"] = {k: v for k, v in row["custom"].items() if v not in (None, "")}
            row["raw"] = record
            for column, candidates in associations.items():
                row[column] = next((_first_id(record.get(by_label[c], "")) for c in candidates
                                    if c in by_label and _first_id(record.get(by_label[c], ""))), None)
            if table == "deals" and "hs_is_closed" not in known.values():
                outcome = model.STAGE_OUTCOMES.get((row.get("stage") or "").strip().lower())
                row["is_closed"], row["is_won"] = outcome if outcome else (False, False)
            rows.append(row)
        rows = [r for r in rows if r["id"]]
        result.add(table, rows)
        result.report(name, table, header, set(known) | used_assoc | ignored | set(custom_headers), rows)
        result.add("fields", [m.property_to_row(table, {"name": prop, "label": h, "type": "string",
                                                          "hubspotDefined": True}) for h, prop in known.items()
                              if prop != "hs_object_id"]
                   + [m.property_to_row(table, {"name": slug(h), "label": h, "type": "string",
                                                "hubspotDefined": False}) for h in custom_headers])


def read(files: ExportFiles) -> ExportResult:
    result = ExportResult()
    by_table: dict[str, list[str]] = {}
    for name in files.names:
        table = object_of(name, files.header(name))
        if table:
            by_table.setdefault(table, []).append(name)
    for table in ("companies", "contacts", "deals"):
        if table in by_table:
            _read_table(table, files, by_table[table], result)
    if by_table:
        result.notes.append(_("HubSpot export: owners are named, not numbered, so owner_id holds the owner's name "
                              "and the users table is not supplied; pipelines, activities and login history are not "
                              "part of an export"))
    return result


EXPORT_FORMAT = ExportFormat(
    name="hubspot-export",
    detect=detect,
    read=read,
    description="HubSpot record exports (CSV or XLSX per object), property labels and association columns",
)
