"""Pipedrive JSON <-> canonical rows.

The connector reads with the ``*_to_row`` functions; the sandbox serves a canonical
tenant with the ``row_to_*`` functions, their inverses. Keeping both directions in one
module is what makes the round trip (tenant -> sandbox -> connector -> tenant) hold.

Pipedrive facts used here (shared/CRM-APIS.md section 3): v2 records carry ids as
integers, RFC3339 timestamps and ``custom_fields`` keyed by a 40-character hash; v1 users
and notes carry ``YYYY-MM-DD HH:MM:SS`` (UTC) timestamps; activity due dates are a date
plus an ``HH:MM`` time; deals say how they were created in ``origin`` (system value) and
``channel`` / ``channel_id`` (marketing source, editable).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .fields import FieldCatalog, field_hash
from .sources import LeadOrigins, origin_to_source, source_to_origin
from .values import (
    address_from_row, address_to_columns, clean, from_id, utc_datetime, primary_value, to_id, v1_time, v2_time,
    v_date,
)

# The canonical columns this connector fills, per table. A column absent here is one
# Pipedrive cannot supply (login history, MFA, bounces: see plugin.LIMITATIONS), so the
# checks that need it are skipped with a reason instead of passing on empty data.
# contacts.lifecycle_stage is filled when the account has the person field it lives in.
MAPPED_COLUMNS: dict[str, list[str]] = {
    "users": ["id", "name", "email", "role", "is_active", "is_admin", "last_login_at", "created_at"],
    "companies": [
        "id", "name", "domain", "industry", "phone", "street", "city", "state", "postal_code",
        "country", "owner_id", "source", "source_detail", "created_at", "updated_at",
    ],
    "contacts": [
        "id", "first_name", "last_name", "email", "phone", "title", "company_id", "company_name",
        "lifecycle_stage", "segments", "owner_id", "street", "city", "state", "postal_code", "country",
        "source", "source_detail", "created_at", "updated_at", "last_activity_at",
    ],
    "deals": [
        "id", "name", "amount", "currency", "pipeline", "stage", "is_closed", "is_won",
        "close_date", "lost_reason", "owner_id", "company_id", "contact_id", "source",
        "source_detail", "created_at", "updated_at", "last_activity_at",
    ],
    "stages": ["id", "pipeline", "name", "position", "is_closed", "is_won"],
    "activities": [
        "id", "type", "subject", "owner_id", "contact_id", "company_id", "deal_id", "due_at",
        "is_done", "completed_at", "created_at",
    ],
    "fields": ["object", "name", "label", "type", "is_custom"],
    "integrations": ["id", "name", "kind", "status", "last_sync_at", "created_at"],
    "platform": ["vendor", "api_version_used", "api_version_latest", "api_versions_deprecated"],
}

# Users (v1) and roles (v1)


def company_admin(user: dict) -> bool:
    """Whether a /v1/users user is a company admin (``is_admin``, or admin of the sales app)."""
    if user.get("is_admin"):
        return True
    return any(isinstance(a, dict) and a.get("admin") and (a.get("app") or "sales") == "sales"
               for a in user.get("access") or [])


def user_to_row(user: dict, role_names: dict[str, str]) -> dict:
    # A company admin: the legacy is_admin flag, or admin of the sales app (an admin of
    # another app only, e.g. account settings, is not: security.py lists that power).
    is_admin = company_admin(user)
    role_id = to_id(user.get("role_id"))
    return {
        "id": to_id(user.get("id")),
        "name": user.get("name"),
        "email": user.get("email"),
        "role": role_names.get(role_id) if role_id else None,
        "is_active": bool(user.get("active_flag")) and not user.get("is_deleted", False),
        "is_admin": is_admin,
        "last_login_at": utc_datetime(user.get("last_login")),
        "created_at": utc_datetime(user.get("created")),
        "raw": user,
    }


def row_to_user(row: dict, role_ids: dict[str, int], *, is_you: bool = False) -> dict:
    admin = bool(clean(row.get("is_admin")))
    role = clean(row.get("role"))
    return {
        "id": from_id(row["id"]),
        "name": clean(row.get("name")),
        "default_currency": "USD",
        "locale": "en_US",
        "lang": 1,
        "email": clean(row.get("email")),
        "phone": None,
        "activated": True,
        "last_login": v1_time(row.get("last_login_at")),
        "created": v1_time(row.get("created_at")),
        "modified": None,
        "has_created_company": is_you,
        "access": [{"app": "sales", "admin": admin, "permission_set_id": "admin" if admin else "regular"}],
        "active_flag": bool(clean(row.get("is_active"))),
        "timezone_name": "UTC",
        "timezone_offset": "+00:00",
        "role_id": role_ids.get(role) if role else None,
        "icon_url": None,
        "is_you": is_you,
        "is_deleted": False,
    }


# Organizations -> companies, persons -> contacts


def organization_to_row(org: dict, catalog: FieldCatalog | None, origins: LeadOrigins | None = None) -> dict:
    promoted, custom = catalog.decode(org.get("custom_fields")) if catalog else ({}, {})
    source, detail = origins.source_of("organization", org) if origins else (None, None)
    row = {
        "id": to_id(org.get("id")),
        "name": org.get("name"),
        "domain": promoted.get("domain"),
        "industry": promoted.get("industry"),
        "phone": promoted.get("phone"),
        **address_to_columns(org.get("address")),
        "owner_id": to_id(org.get("owner_id")),
        "source": source,
        "source_detail": detail,
        "created_at": utc_datetime(org.get("add_time")),
        "updated_at": utc_datetime(org.get("update_time")),
        "raw": org,
    }
    if custom:
        row["custom"] = custom
    return row


def row_to_organization(row: dict, custom_fields: dict) -> dict:
    """A canonical company -> a v2 organization (sandbox side); ``custom_fields`` already
    encoded (:func:`.fields.encode_custom`), website/industry/phone added here."""
    custom = dict(custom_fields)
    for column in ("domain", "industry", "phone"):
        custom[field_hash("companies", column)] = clean(row.get(column))
    return {
        "id": int(row["id"]), "name": clean(row.get("name")), "owner_id": from_id(clean(row.get("owner_id"))),
        "add_time": v2_time(row.get("created_at")), "update_time": v2_time(row.get("updated_at")),
        "is_deleted": False, "visible_to": 3, "address": address_from_row(row), "label_ids": [],
        "custom_fields": custom,
    }


def person_to_row(
    person: dict,
    catalog: FieldCatalog | None,
    org_names: dict[str, str],
    label_names: dict[str, str],
    activity_times: dict[str, datetime | None],
    origins: LeadOrigins | None = None,
) -> dict:
    promoted, custom = catalog.decode(person.get("custom_fields")) if catalog else ({}, {})
    source, detail = origins.source_of("person", person) if origins else (None, None)
    org_id = to_id(person.get("org_id"))
    labels = person.get("label_ids") or []
    segments = [label_names.get(str(i), str(i)) for i in labels]
    last_activity = to_id(person.get("last_activity_id"))
    row = {
        "id": to_id(person.get("id")),
        "first_name": person.get("first_name"),
        "last_name": person.get("last_name"),
        "email": primary_value(person.get("emails", person.get("email"))),
        "phone": primary_value(person.get("phones", person.get("phone"))),
        "title": person.get("job_title"),
        "company_id": org_id,
        "company_name": org_names.get(org_id) if org_id else None,
        "segments": segments,
        "owner_id": to_id(person.get("owner_id")),
        **address_to_columns(person.get("postal_address")),
        "source": source,
        "source_detail": detail,
        "created_at": utc_datetime(person.get("add_time")),
        "updated_at": utc_datetime(person.get("update_time")),
        "last_activity_at": activity_times.get(last_activity) if last_activity else None,
        "raw": person,
    }
    if catalog is not None and "lifecycle_stage" in catalog.promoted.values():
        # Only when the account keeps a lifecycle stage: otherwise the column is not supplied.
        row["lifecycle_stage"] = promoted.get("lifecycle_stage")
    if custom:
        row["custom"] = custom
    return row


def row_to_person(row: dict, custom_fields: dict, label_ids: dict[str, int]) -> dict:
    """A canonical contact -> a v2 person (sandbox side); ``label_ids``: segment -> label option id."""
    first, last = clean(row.get("first_name")), clean(row.get("last_name"))
    email, phone = clean(row.get("email")), clean(row.get("phone"))
    return {
        "id": int(row["id"]), "name": " ".join(p for p in (first, last) if p) or None,
        "first_name": first, "last_name": last, "owner_id": from_id(clean(row.get("owner_id"))),
        "org_id": from_id(clean(row.get("company_id"))),
        "add_time": v2_time(row.get("created_at")), "update_time": v2_time(row.get("updated_at")),
        "emails": [{"value": email, "primary": True, "label": "work"}] if email else [],
        "phones": [{"value": phone, "primary": True, "label": "work"}] if phone else [],
        "is_deleted": False, "visible_to": 3,
        "label_ids": [label_ids[str(s)] for s in (row.get("segments") or []) if str(s) in label_ids],
        "picture_id": None, "postal_address": address_from_row(row),
        "job_title": clean(row.get("title")), "notes": None, "birthday": None, "im": [],
        "custom_fields": custom_fields,
    }


# Deals

def deal_to_row(
    deal: dict,
    catalog: FieldCatalog | None,
    pipelines: dict[str, str],
    stages: dict[str, str],
    activity_times: dict[str, datetime | None],
) -> dict:
    _, custom = catalog.decode(deal.get("custom_fields")) if catalog else ({}, {})
    status = deal.get("status")
    closed = status in ("won", "lost")
    close_date = utc_datetime(deal.get("close_time")) if closed else None
    if close_date is None:
        close_date = utc_datetime(deal.get("expected_close_date"))
    last_activity = to_id(deal.get("last_activity_id"))
    source, detail = origin_to_source(deal.get("origin"), deal.get("origin_id"))
    row = {
        "id": to_id(deal.get("id")),
        "name": deal.get("title"),
        # Pipedrive keeps a deal with no value as value 0: read that as "no amount".
        "amount": float(deal["value"]) if deal.get("value") not in (None, 0, 0.0, "") else None,
        "currency": deal.get("currency"),
        "pipeline": pipelines.get(to_id(deal.get("pipeline_id"))),
        # The stage id (the stages table names it); won/lost deals keep the open stage
        # they were in, since Pipedrive records winning and losing as the deal's status.
        "stage": to_id(deal.get("stage_id")),
        "is_closed": closed,
        "is_won": status == "won",
        "close_date": close_date,
        "lost_reason": deal.get("lost_reason"),
        "owner_id": to_id(deal.get("owner_id")),
        "company_id": to_id(deal.get("org_id")),
        "contact_id": to_id(deal.get("person_id")),
        "source": source,
        "source_detail": detail,
        "created_at": utc_datetime(deal.get("add_time")),
        "updated_at": utc_datetime(deal.get("update_time")),
        "last_activity_at": activity_times.get(last_activity) if last_activity else None,
        "raw": deal,
    }
    if custom:
        row["custom"] = custom
    return row


def row_to_deal(row: dict, custom_fields: dict, pipeline_id: int | None, stage_id: int | None) -> dict:
    """A canonical deal -> a v2 deal (sandbox side): closed deals are won or lost by status."""
    closed, won = bool(clean(row.get("is_closed"))), bool(clean(row.get("is_won")))
    status = ("won" if won else "lost") if closed else "open"
    close = row.get("close_date")
    origin, origin_id = source_to_origin(row.get("source"), row.get("source_detail"))
    amount = clean(row.get("amount"))
    return {
        "id": int(row["id"]), "title": clean(row.get("name")), "creator_user_id": from_id(clean(row.get("owner_id"))),
        "owner_id": from_id(clean(row.get("owner_id"))), "person_id": from_id(clean(row.get("contact_id"))),
        "org_id": from_id(clean(row.get("company_id"))),
        "pipeline_id": pipeline_id, "stage_id": stage_id,
        "value": 0 if amount is None else amount, "currency": clean(row.get("currency")),
        "add_time": v2_time(row.get("created_at")), "update_time": v2_time(row.get("updated_at")),
        "stage_change_time": v2_time(row.get("updated_at")), "is_deleted": False, "is_archived": False,
        "status": status, "probability": None, "lost_reason": clean(row.get("lost_reason")), "visible_to": 3,
        "close_time": v2_time(close) if closed else None,
        "won_time": v2_time(close) if won else None,
        "lost_time": v2_time(close) if closed and not won else None,
        "expected_close_date": None if closed else v_date(close),
        "label_ids": [], "origin": origin,
        "origin_id": origin_id, "channel": None, "channel_id": None, "arr": None, "mrr": None, "acv": None,
        "custom_fields": custom_fields,
    }


# Activities (v2) and notes (v1)

# Pipedrive's default activity types are call, meeting, task, deadline, email, lunch;
# accounts add their own (key_string derived from the name, e.g. "sms", "whatsapp").
ACTIVITY_TYPE_MAP = {"deadline": "task", "lunch": "meeting", "text": "sms", "text_message": "sms"}


def activity_type(key: Any) -> str | None:
    if not key:
        return None
    key = str(key).lower()
    if key in ("call", "email", "meeting", "sms", "note", "task"):
        return key
    if key in ACTIVITY_TYPE_MAP:
        return ACTIVITY_TYPE_MAP[key]
    if "sms" in key:
        return "sms"
    return key


def activity_due(activity: dict) -> datetime | None:
    day = activity.get("due_date")
    if not day:
        return None
    due = utc_datetime(day)
    hhmm = activity.get("due_time")
    if hhmm:
        hour, minute, *rest = (int(p) for p in str(hhmm).split(":"))
        due = due.replace(hour=hour, minute=minute, second=rest[0] if rest else 0)
    return due


def activity_to_row(activity: dict, catalog: FieldCatalog | None = None) -> dict:
    _, custom = catalog.decode(activity.get("custom_fields")) if catalog else ({}, {})
    row = {
        "id": to_id(activity.get("id")),
        "type": activity_type(activity.get("type")),
        "subject": activity.get("subject"),
        "owner_id": to_id(activity.get("owner_id", activity.get("user_id"))),
        "contact_id": to_id(activity.get("person_id")),
        "company_id": to_id(activity.get("org_id")),
        "deal_id": to_id(activity.get("deal_id")),
        "due_at": activity_due(activity),
        "is_done": bool(activity.get("done")),
        "completed_at": utc_datetime(activity.get("marked_as_done_time")),
        "created_at": utc_datetime(activity.get("add_time")),
        "raw": activity,
    }
    if custom:
        row["custom"] = custom
    return row


def row_to_activity(row: dict, custom_fields: dict | None) -> dict:
    """A canonical activity (not a note) -> a v2 activity (sandbox side)."""
    due = utc_datetime(row.get("due_at"))
    return {
        "id": int(row["id"]), "subject": clean(row.get("subject")), "type": clean(row.get("type")),
        "owner_id": from_id(clean(row.get("owner_id"))), "creator_user_id": from_id(clean(row.get("owner_id"))),
        "is_deleted": False, "add_time": v2_time(row.get("created_at")),
        "update_time": v2_time(row.get("completed_at") or row.get("created_at")),
        "deal_id": from_id(clean(row.get("deal_id"))), "lead_id": None,
        "person_id": from_id(clean(row.get("contact_id"))), "org_id": from_id(clean(row.get("company_id"))),
        "project_id": None, "due_date": due.strftime("%Y-%m-%d") if due else None,
        "due_time": due.strftime("%H:%M:%S") if due and due.second else (due.strftime("%H:%M") if due else None),
        "duration": None, "busy": False, "done": bool(clean(row.get("is_done"))),
        "marked_as_done_time": v2_time(row.get("completed_at")), "location": None,
        "participants": [{"person_id": int(row["contact_id"]), "primary": True}] if clean(row.get("contact_id")) else [],
        "attendees": None, "public_description": None, "priority": None, "note": None,
        **({"custom_fields": custom_fields} if custom_fields is not None else {}),
    }


NOTE_ID_PREFIX = "note-"


def note_to_row(note: dict) -> dict:
    """Notes are their own object in Pipedrive (ids may repeat activity ids), so their
    canonical id carries a prefix."""
    content = note.get("content") or ""
    return {
        "id": f"{NOTE_ID_PREFIX}{note.get('id')}",
        "type": "note",
        "subject": content,
        "owner_id": to_id(note.get("user_id")),
        "contact_id": to_id(note.get("person_id")),
        "company_id": to_id(note.get("org_id")),
        "deal_id": to_id(note.get("deal_id")),
        "due_at": None,
        "is_done": True,
        "completed_at": utc_datetime(note.get("add_time")),
        "created_at": utc_datetime(note.get("add_time")),
        "raw": note,
    }


def row_to_note(row: dict) -> dict:
    """A canonical activity of type note -> a v1 note (sandbox side)."""
    return {
        "id": int(str(row["id"]).removeprefix(NOTE_ID_PREFIX)), "user_id": from_id(clean(row.get("owner_id"))),
        "deal_id": from_id(clean(row.get("deal_id"))), "person_id": from_id(clean(row.get("contact_id"))),
        "org_id": from_id(clean(row.get("company_id"))), "lead_id": None,
        "content": clean(row.get("subject")) or "", "add_time": v1_time(row.get("created_at")),
        "update_time": v1_time(row.get("created_at")), "active_flag": True,
        "pinned_to_deal_flag": False, "pinned_to_person_flag": False, "pinned_to_organization_flag": False,
    }


# Pipelines, stages, platform (webhooks and origins: .sources)


def stage_to_row(stage: dict, pipelines: dict[str, str]) -> dict:
    return {
        "id": to_id(stage.get("id")),
        "pipeline": pipelines.get(to_id(stage.get("pipeline_id"))),
        "name": stage.get("name"),
        "position": stage.get("order_nr"),
        # Won and lost are deal statuses in Pipedrive, never stages: every stage is open.
        "is_closed": False,
        "is_won": False,
        "raw": stage,
    }


def platform_row(company: dict | None = None) -> dict:
    return {
        "vendor": "pipedrive",
        # Entities are read through API v2; users, roles, notes, leads and webhooks have no v2
        # endpoint yet, so they are read through v1 (not deprecated for those).
        "api_version_used": "v2",
        "api_version_latest": "v2",
        # Pipedrive deprecated (2025-05) and removed from its SDKs (2026-03) the v1 list
        # endpoints of persons, organizations, deals, activities and products.
        "api_versions_deprecated": ["v1"],
        "raw": {
            "api_versions": {"v2": ["persons", "organizations", "deals", "activities", "pipelines", "stages", "*Fields"], "v1": ["users", "roles", "notes", "leads", "webhooks"]},
            **({"company": company} if company else {}),
        },
    }
