"""Pipedrive JSON <-> canonical rows.

The connector reads with the ``*_to_row`` functions; the sandbox serves a canonical
tenant with the ``*_from_row`` functions, their inverses. Keeping both directions in one
module is what makes the round trip (tenant -> sandbox -> connector -> tenant) hold.

Pipedrive facts used here (shared/CRM-APIS.md section 3): v2 records carry ids as
integers, RFC3339 timestamps and ``custom_fields`` keyed by a 40-character hash; v1 users
and notes carry ``YYYY-MM-DD HH:MM:SS`` (UTC) timestamps; activity due dates are a date
plus an ``HH:MM`` time; deals say how they were created in ``origin`` (system value) and
``channel`` / ``channel_id`` (marketing source, editable).
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timezone
from typing import Any

UTC = timezone.utc

# Canonical table -> Pipedrive entity (fields endpoints are "<entity>Fields").
FIELD_ENTITIES = {
    "contacts": "person",
    "companies": "organization",
    "deals": "deal",
    "activities": "activity",
}

# The canonical columns this connector fills, per table. A column absent here is one
# Pipedrive cannot supply (e.g. login history, MFA, lifecycle stage), so the checks that
# need it are skipped with a reason instead of passing on empty data.
MAPPED_COLUMNS: dict[str, list[str]] = {
    "users": ["id", "name", "email", "role", "is_active", "is_admin", "last_login_at", "created_at"],
    "companies": [
        "id", "name", "domain", "industry", "phone", "street", "city", "state", "postal_code",
        "country", "owner_id", "created_at", "updated_at",
    ],
    "contacts": [
        "id", "first_name", "last_name", "email", "phone", "title", "company_id", "company_name",
        "segments", "owner_id", "street", "city", "state", "postal_code", "country",
        "created_at", "updated_at", "last_activity_at",
    ],
    "deals": [
        "id", "name", "amount", "currency", "pipeline", "stage", "is_closed", "is_won",
        "close_date", "lost_reason", "owner_id", "company_id", "contact_id", "source",
        "created_at", "updated_at", "last_activity_at",
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

# Organization fields whose *name* says they hold a canonical column. Pipedrive has no
# built-in website/industry/phone on organizations; accounts add them as fields (newer
# accounts get "Website" and "Industry" preset), so they arrive keyed by hash.
ORG_PROMOTED_FIELDS = {
    "website": "domain",
    "domain": "domain",
    "industry": "industry",
    "phone": "phone",
}

# ---------------------------------------------------------------------------------
# Scalars
# ---------------------------------------------------------------------------------


def to_id(value: Any) -> str | None:
    """Pipedrive ids are integers (v1 sometimes nests them as ``{"value": id, ...}``)."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("value", value.get("id"))
        if value is None:
            return None
    return str(value)


def from_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


_V1_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def parse_ts(value: Any) -> datetime | None:
    """RFC3339 (v2), ``YYYY-MM-DD HH:MM:SS`` (v1, UTC) or ``YYYY-MM-DD`` -> aware UTC."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = str(value).strip()
    if _V1_TS.match(text):
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    if len(text) == 10:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _as_utc(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return parse_ts(value)


def v2_time(value: Any) -> str | None:
    dt = _as_utc(value)
    return None if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def v1_time(value: Any) -> str | None:
    dt = _as_utc(value)
    return None if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S")


def v_date(value: Any) -> str | None:
    dt = _as_utc(value)
    return None if dt is None else dt.strftime("%Y-%m-%d")


def slug(label: str) -> str:
    """The canonical name of a custom field from its Pipedrive label ("Customer tier" ->
    "customer_tier"): Pipedrive has no API name for custom fields, only the hash."""
    # A parenthetical is an explanation, not part of the name: "Tax ID (NPWP)" -> tax_id.
    text = re.sub(r"\([^)]*\)", " ", str(label))
    text = re.sub(r"[^0-9a-zA-Z\u00C0-\uFFFF]+", "_", text.strip().lower())
    return text.strip("_") or "field"


def field_hash(object_name: str, name: str) -> str:
    """A stable 40-character hash key, as Pipedrive gives custom fields (sandbox side)."""
    return hashlib.sha1(f"{object_name}:{name}".encode()).hexdigest()


def _clean(value: Any) -> Any:
    """None for NaN and empty strings (pyarrow/pandas hand NaN for missing floats)."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    return value


# ---------------------------------------------------------------------------------
# Addresses (v2 organization ``address`` / person ``postal_address``)
# ---------------------------------------------------------------------------------

_ADDRESS_COLUMNS = ("street", "city", "state", "postal_code", "country")


def address_to_columns(address: Any) -> dict:
    if not isinstance(address, dict):
        return {c: None for c in _ADDRESS_COLUMNS}
    route = address.get("route")
    number = address.get("street_number")
    street = " ".join(p for p in (route, number) if p) or None
    if street is None and not any(address.get(k) for k in ("locality", "country", "postal_code")):
        street = address.get("value") or None
    return {
        "street": street,
        "city": address.get("locality"),
        "state": address.get("admin_area_level_1"),
        "postal_code": address.get("postal_code"),
        "country": address.get("country"),
    }


def address_from_row(row: dict) -> dict | None:
    parts = {c: _clean(row.get(c)) for c in _ADDRESS_COLUMNS}
    if not any(parts.values()):
        return None
    formatted = ", ".join(str(v) for v in (parts["street"], parts["postal_code"], parts["city"], parts["state"], parts["country"]) if v)
    return {
        "value": formatted,
        "street_number": None,
        "route": parts["street"],
        "subpremise": None,
        "sublocality": None,
        "locality": parts["city"],
        "admin_area_level_1": parts["state"],
        "admin_area_level_2": None,
        "country": parts["country"],
        "postal_code": parts["postal_code"],
        "formatted_address": formatted,
    }


def _primary(items: Any) -> str | None:
    if not isinstance(items, list) or not items:
        return None
    for item in items:
        if isinstance(item, dict) and item.get("primary") and item.get("value"):
            return item["value"]
    first = items[0]
    return (first.get("value") if isinstance(first, dict) else first) or None


# ---------------------------------------------------------------------------------
# Users (v1) and roles (v1)
# ---------------------------------------------------------------------------------


def user_to_row(user: dict, role_names: dict[str, str]) -> dict:
    access = user.get("access") or []
    is_admin = any(bool(a.get("admin")) for a in access if isinstance(a, dict))
    if not access and "is_admin" in user:  # the legacy flag, when the API still sends it
        is_admin = bool(user.get("is_admin"))
    role_id = to_id(user.get("role_id"))
    return {
        "id": to_id(user.get("id")),
        "name": user.get("name"),
        "email": user.get("email"),
        "role": role_names.get(role_id) if role_id else None,
        "is_active": bool(user.get("active_flag")) and not user.get("is_deleted", False),
        "is_admin": is_admin,
        "last_login_at": parse_ts(user.get("last_login")),
        "created_at": parse_ts(user.get("created")),
        "raw": user,
    }


def user_from_row(row: dict, role_ids: dict[str, int], *, is_you: bool = False) -> dict:
    admin = bool(_clean(row.get("is_admin")))
    role = _clean(row.get("role"))
    return {
        "id": from_id(row["id"]),
        "name": _clean(row.get("name")),
        "default_currency": "USD",
        "locale": "en_US",
        "lang": 1,
        "email": _clean(row.get("email")),
        "phone": None,
        "activated": True,
        "last_login": v1_time(row.get("last_login_at")),
        "created": v1_time(row.get("created_at")),
        "modified": None,
        "has_created_company": is_you,
        "access": [{"app": "sales", "admin": admin, "permission_set_id": "admin" if admin else "regular"}],
        "active_flag": bool(_clean(row.get("is_active"))),
        "timezone_name": "UTC",
        "timezone_offset": "+00:00",
        "role_id": role_ids.get(role) if role else None,
        "icon_url": None,
        "is_you": is_you,
        "is_deleted": False,
    }


# ---------------------------------------------------------------------------------
# Fields (v2 personFields / organizationFields / dealFields / activityFields)
# ---------------------------------------------------------------------------------

# Pipedrive field_type -> the field-type vocabulary of the canonical ``fields`` table
# (string, number, boolean, datetime, enumeration, json).
FIELD_TYPES = {
    "varchar": "string", "varchar_auto": "string", "text": "string", "phone": "string",
    "address": "string", "time": "string", "timerange": "string",
    "user": "string", "org": "string", "people": "string",
    "double": "number", "monetary": "number", "int": "number",
    "date": "datetime", "daterange": "datetime",
    "enum": "enumeration", "set": "enumeration", "visible_to": "enumeration", "status": "enumeration",
    "stage": "enumeration", "boolean": "boolean",
}
# canonical field type (or logical column type) -> Pipedrive field_type (sandbox side).
FIELD_TYPES_BACK = {
    "string": "varchar", "number": "double", "datetime": "date", "enumeration": "enum",
    "boolean": "enum", "json": "text",
    "str": "varchar", "float": "double", "int": "double", "timestamp": "date", "list": "set", "bool": "enum",
}
ENUM_TYPES = ("enumeration", "boolean", "list", "bool")


class FieldCatalog:
    """The field definitions of one entity: decodes ``custom_fields`` hashes and options."""

    def __init__(self, table: str, fields: list[dict]):
        self.table = table
        self.fields = fields
        self.by_code = {f.get("field_code"): f for f in fields}
        self.labels_by_option: dict[str, dict[str, str]] = {}
        for f in fields:
            opts = f.get("options") or []
            self.labels_by_option[f.get("field_code")] = {str(o.get("id")): o.get("label") for o in opts if isinstance(o, dict)}
        self.promoted: dict[str, str] = {}
        if table == "companies":
            for f in fields:
                if f.get("is_custom_field"):
                    column = ORG_PROMOTED_FIELDS.get(str(f.get("field_name", "")).strip().lower())
                    if column and column not in self.promoted.values():
                        self.promoted[f["field_code"]] = column

    def rows(self) -> list[dict]:
        out = []
        for f in self.fields:
            custom = bool(f.get("is_custom_field"))
            label = f.get("field_name")
            out.append(
                {
                    "object": self.table,
                    "name": slug(label) if custom else f.get("field_code"),
                    "label": label,
                    "type": FIELD_TYPES.get(f.get("field_type"), "string"),
                    "is_custom": custom,
                    "raw": f,
                }
            )
        return out

    def option_label(self, code: str, value: Any) -> Any:
        labels = self.labels_by_option.get(code) or {}
        if not labels or value is None:
            return value
        if isinstance(value, dict):  # include_option_labels form {id, label}
            return value.get("label")
        return labels.get(str(value), value)

    def decode(self, custom_fields: Any) -> tuple[dict, dict]:
        """-> (canonical columns promoted from custom fields, {custom name: value})."""
        promoted: dict = {}
        custom: dict = {}
        if not isinstance(custom_fields, dict):
            return promoted, custom
        for code, value in custom_fields.items():
            field = self.by_code.get(code)
            if field is None:
                if value is not None:
                    custom[code] = value  # a field we were not told about: keep it by hash
                continue
            ftype = field.get("field_type")
            if ftype == "set":
                if isinstance(value, str):
                    value = [v for v in value.split(",") if v]
                value = [self.option_label(code, v) for v in (value or [])] or None
            elif ftype == "enum":
                value = self.option_label(code, value)
            elif ftype in ("monetary",) and isinstance(value, dict):
                value = value.get("value")
            elif ftype == "address" and isinstance(value, dict):
                value = value.get("value") or value.get("formatted_address")
            if code in self.promoted:
                promoted[self.promoted[code]] = value
            elif value is not None and value != "":
                custom[slug(field.get("field_name"))] = value
        return promoted, custom


def field_to_v2(object_table: str, row: dict, options: list[dict] | None = None, multi: bool = False) -> dict:
    """A canonical ``fields`` row -> a v2 field definition (sandbox side)."""
    custom = bool(row.get("is_custom"))
    ftype = FIELD_TYPES_BACK.get(row.get("type") or "string", "varchar")
    if options:
        ftype = "set" if row.get("type") == "list" or multi else "enum"
    return {
        "field_name": row.get("label") or row.get("name"),
        "field_code": field_hash(object_table, row["name"]) if custom else row["name"],
        "field_type": ftype,
        "is_custom_field": custom,
        "is_optional_response_field": False,
        "options": options,
        "subfields": None,
    }


# ---------------------------------------------------------------------------------
# Organizations -> companies, persons -> contacts
# ---------------------------------------------------------------------------------


def organization_to_row(org: dict, catalog: FieldCatalog | None) -> dict:
    promoted, custom = catalog.decode(org.get("custom_fields")) if catalog else ({}, {})
    row = {
        "id": to_id(org.get("id")),
        "name": org.get("name"),
        "domain": promoted.get("domain"),
        "industry": promoted.get("industry"),
        "phone": promoted.get("phone"),
        **address_to_columns(org.get("address")),
        "owner_id": to_id(org.get("owner_id")),
        "created_at": parse_ts(org.get("add_time")),
        "updated_at": parse_ts(org.get("update_time")),
        "raw": org,
    }
    if custom:
        row["custom"] = custom
    return row


def person_to_row(
    person: dict,
    catalog: FieldCatalog | None,
    org_names: dict[str, str],
    label_names: dict[str, str],
    activity_times: dict[str, datetime | None],
) -> dict:
    _, custom = catalog.decode(person.get("custom_fields")) if catalog else ({}, {})
    org_id = to_id(person.get("org_id"))
    labels = person.get("label_ids") or []
    segments = [label_names.get(str(i), str(i)) for i in labels]
    last_activity = to_id(person.get("last_activity_id"))
    row = {
        "id": to_id(person.get("id")),
        "first_name": person.get("first_name"),
        "last_name": person.get("last_name"),
        "email": _primary(person.get("emails", person.get("email"))),
        "phone": _primary(person.get("phones", person.get("phone"))),
        "title": person.get("job_title"),
        "company_id": org_id,
        "company_name": org_names.get(org_id) if org_id else None,
        "segments": segments,
        "owner_id": to_id(person.get("owner_id")),
        **address_to_columns(person.get("postal_address")),
        "created_at": parse_ts(person.get("add_time")),
        "updated_at": parse_ts(person.get("update_time")),
        "last_activity_at": activity_times.get(last_activity) if last_activity else None,
        "raw": person,
    }
    if custom:
        row["custom"] = custom
    return row


# ---------------------------------------------------------------------------------
# Deals
# ---------------------------------------------------------------------------------

# Deal ``origin`` (system value: how the deal was created) -> canonical ``source``.
ORIGIN_TO_SOURCE = {
    "ManuallyCreated": "ui",
    "Import": "import",
    "API": "api",
    "WebForms": "form",
    "LeadBooster": "form",
    "LiveChat": "form",
    "WebVisitors": "form",
    "Chatbot": "form",
    "Prospector": "integration",
    "Marketplace": "integration",
    "MarketplaceApp": "integration",
    "Messaging": "integration",
    "Campaigns": "integration",
}
SOURCE_TO_ORIGIN = {"ui": "ManuallyCreated", "import": "Import", "api": "API", "form": "WebForms", "integration": "Marketplace"}


def origin_to_source(origin: Any) -> str | None:
    if not origin:
        return None
    return ORIGIN_TO_SOURCE.get(origin, "integration")


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
    close_date = parse_ts(deal.get("close_time")) if closed else None
    if close_date is None:
        close_date = parse_ts(deal.get("expected_close_date"))
    last_activity = to_id(deal.get("last_activity_id"))
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
        "source": origin_to_source(deal.get("origin")),
        "created_at": parse_ts(deal.get("add_time")),
        "updated_at": parse_ts(deal.get("update_time")),
        "last_activity_at": activity_times.get(last_activity) if last_activity else None,
        "raw": deal,
    }
    if custom:
        row["custom"] = custom
    return row


# ---------------------------------------------------------------------------------
# Activities (v2) and notes (v1)
# ---------------------------------------------------------------------------------

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
    due = parse_ts(day)
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
        "completed_at": parse_ts(activity.get("marked_as_done_time")),
        "created_at": parse_ts(activity.get("add_time")),
        "raw": activity,
    }
    if custom:
        row["custom"] = custom
    return row


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
        "completed_at": parse_ts(note.get("add_time")),
        "created_at": parse_ts(note.get("add_time")),
        "raw": note,
    }


# ---------------------------------------------------------------------------------
# Pipelines, stages, webhooks, platform
# ---------------------------------------------------------------------------------


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


WEBHOOK_KINDS = {"general": "webhook", "application": "app", "automation": "automation"}
WEBHOOK_TYPES = {v: k for k, v in WEBHOOK_KINDS.items()}


def webhook_to_row(hook: dict) -> dict:
    status_code = hook.get("last_http_status")
    if not hook.get("is_active"):
        status = "inactive"
    elif status_code is not None and not 200 <= int(status_code) < 300:
        status = "failing"
    else:
        status = "active"
    return {
        "id": to_id(hook.get("id")),
        "name": hook.get("name") or hook.get("subscription_url"),
        "kind": WEBHOOK_KINDS.get(hook.get("type"), hook.get("type") or "webhook"),
        "status": status,
        "last_sync_at": parse_ts(hook.get("last_delivery_time")),
        "created_at": parse_ts(hook.get("add_time")),
        "raw": hook,
    }


def platform_row(company: dict | None = None) -> dict:
    return {
        "vendor": "pipedrive",
        # Entities are read through API v2; users, roles, notes and webhooks have no v2
        # endpoint yet, so they are read through v1 (not deprecated for those).
        "api_version_used": "v2",
        "api_version_latest": "v2",
        # Pipedrive deprecated (2025-05) and removed from its SDKs (2026-03) the v1 list
        # endpoints of persons, organizations, deals, activities and products.
        "api_versions_deprecated": ["v1"],
        "raw": {
            "api_versions": {"v2": ["persons", "organizations", "deals", "activities", "pipelines", "stages", "*Fields"], "v1": ["users", "roles", "notes", "webhooks"]},
            **({"company": company} if company else {}),
        },
    }
