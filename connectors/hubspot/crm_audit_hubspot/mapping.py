"""HubSpot JSON <-> canonical rows.

The connector reads with ``<entity>_to_row`` functions (vendor dict -> canonical row); the
sandbox serves CRM objects with ``row_to_<entity>`` functions (canonical row -> vendor
dict; the sandbox-only shapes of owners, pipelines and emails are in sandbox/builders.py).
Keeping both directions of CRM objects in one module is what makes the round trip
(tenant -> sandbox -> connector) checkable.

Property names follow HubSpot's default CRM properties (see shared/CRM-APIS.md 2.3).
All HubSpot property values are strings or null; timestamps are ISO-8601 UTC strings.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from crm_audit_core.kit import utc_datetime

# Canonical table -> HubSpot object types read into it.
OBJECT_TYPES = {
    "contacts": ("contacts",),
    "companies": ("companies",),
    "deals": ("deals",),
    "activities": ("calls", "emails", "meetings", "notes", "tasks", "communications"),
}

# HubSpot engagement object type <-> canonical activity type.
ACTIVITY_TYPE_OF = {
    "calls": "call",
    "emails": "email",
    "meetings": "meeting",
    "notes": "note",
    "tasks": "task",
    "communications": "sms",
}
OBJECT_TYPE_OF_ACTIVITY = {v: k for k, v in ACTIVITY_TYPE_OF.items()}

# canonical column -> HubSpot property, per CRM object.
CONTACT_PROPERTIES = {
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "phone": "phone",
    "title": "jobtitle",
    "company_name": "company",
    "lifecycle_stage": "lifecyclestage",
    "lead_status": "hs_lead_status",
    "owner_id": "hubspot_owner_id",
    "street": "address",
    "city": "city",
    "state": "state",
    "postal_code": "zip",
    "country": "country",
    "source": "hs_object_source",
    "source_detail": "hs_object_source_detail_1",
    "email_bounced": "hs_email_bounce",
    "created_at": "createdate",
    "updated_at": "lastmodifieddate",
    "last_activity_at": "notes_last_updated",
}
COMPANY_PROPERTIES = {
    "name": "name",
    "domain": "domain",
    "industry": "industry",
    "phone": "phone",
    "street": "address",
    "city": "city",
    "state": "state",
    "postal_code": "zip",
    "country": "country",
    "owner_id": "hubspot_owner_id",
    "source": "hs_object_source",
    "source_detail": "hs_object_source_detail_1",
    "created_at": "createdate",
    "updated_at": "hs_lastmodifieddate",
}
DEAL_PROPERTIES = {
    "name": "dealname",
    "amount": "amount",
    "currency": "deal_currency_code",
    "pipeline": "pipeline",
    "stage": "dealstage",
    "is_closed": "hs_is_closed",
    "is_won": "hs_is_closed_won",
    "close_date": "closedate",
    "lost_reason": "closed_lost_reason",
    "owner_id": "hubspot_owner_id",
    "source": "hs_object_source",
    "source_detail": "hs_object_source_detail_1",
    "created_at": "createdate",
    "updated_at": "hs_lastmodifieddate",
    "last_activity_at": "notes_last_updated",
}
# Per engagement type: subject, whether done, completion time. ``hs_timestamp`` is the
# activity's date (a task's due date), ``hs_createdate`` its creation.
ACTIVITY_SUBJECT = {
    "calls": "hs_call_title",
    "emails": "hs_email_subject",
    "meetings": "hs_meeting_title",
    "notes": "hs_note_body",
    "tasks": "hs_task_subject",
    "communications": "hs_communication_body",
}
ACTIVITY_STATUS = {  # property, value meaning "done", value for "not done"
    "calls": ("hs_call_status", "COMPLETED", "SCHEDULED"),
    "emails": ("hs_email_status", "SENT", "SCHEDULED"),
    "meetings": ("hs_meeting_outcome", "COMPLETED", "SCHEDULED"),
    "tasks": ("hs_task_status", "COMPLETED", "NOT_STARTED"),
}
ACTIVITY_COMPLETED = {"tasks": "hs_task_completion_date"}
ACTIVITY_COMMON = {"owner_id": "hubspot_owner_id", "due_at": "hs_timestamp", "created_at": "hs_createdate"}

TYPED_PROPERTIES = {
    "contacts": CONTACT_PROPERTIES,
    "companies": COMPANY_PROPERTIES,
    "deals": DEAL_PROPERTIES,
}

# Record-source properties read besides the mapped ones: the app (integration) that created a
# record is hs_object_source_id (its app id) with hs_object_source_label; its name is
# hs_object_source_detail_1 (the source_detail column). See docs/connectors/hubspot.md.
SOURCE_ID = "hs_object_source_id"
SOURCE_LABEL = "hs_object_source_label"


# What each CRM object needs read (the connector asks for these plus every custom property).
def needed_properties(object_type: str) -> list[str]:
    if object_type in TYPED_PROPERTIES:
        props = list(TYPED_PROPERTIES[object_type].values()) + [SOURCE_ID, SOURCE_LABEL]
    else:
        props = list(ACTIVITY_COMMON.values()) + [ACTIVITY_SUBJECT[object_type]]
        if object_type in ACTIVITY_STATUS:
            props.append(ACTIVITY_STATUS[object_type][0])
        if object_type in ACTIVITY_COMPLETED:
            props.append(ACTIVITY_COMPLETED[object_type])
        if object_type == "communications":
            props.append("hs_communication_channel_type")
    return sorted(set(props) | {"hs_object_id"})


# hs_object_source values -> canonical source vocabulary (model.SOURCES). Values HubSpot
# documents for its "Record source" property; others (ANALYTICS, AUTOMATION_PLATFORM, ...)
# are kept lower-cased (the raw object keeps the original).
SOURCE_OF = {
    "CRM_UI": "ui",
    "MOBILE_IOS": "ui",
    "MOBILE_ANDROID": "ui",
    "IMPORT": "import",
    "FORM": "form",
    "FORMS": "form",
    "API": "api",
    "BATCH_UPDATE": "api",
    "INTEGRATION": "integration",
}
HUBSPOT_SOURCE = {"ui": "CRM_UI", "import": "IMPORT", "form": "FORM", "api": "API", "integration": "INTEGRATION"}

BOOL_COLUMNS = {"is_closed", "is_won", "email_bounced"}
FLOAT_COLUMNS = {"amount"}
TIME_COLUMNS = {"created_at", "updated_at", "last_activity_at", "close_date", "due_at", "completed_at"}

# HubSpot property type <-> canonical logical type (fields.type).
LOGICAL_TYPE = {
    "string": "str",
    "phone_number": "str",
    "number": "float",
    "bool": "bool",
    "datetime": "timestamp",
    "date": "timestamp",
    "enumeration": "list",
    "json": "json",
}
HUBSPOT_TYPE = {"str": "string", "int": "number", "float": "number", "bool": "bool", "timestamp": "datetime",
                "list": "enumeration", "json": "json"}


def hubspot_type(field_type: str | None) -> str:
    """The HubSpot property type of a canonical field type (a HubSpot type name passes
    through; anything else is a string property)."""
    field_type = field_type or "str"
    if field_type in HUBSPOT_TYPE:
        return HUBSPOT_TYPE[field_type]
    return field_type if field_type in LOGICAL_TYPE else "string"


HUBSPOT_FIELD_TYPE = {"string": "text", "number": "number", "bool": "booleancheckbox", "datetime": "date",
                      "enumeration": "checkbox", "json": "text", "date": "date", "phone_number": "phonenumber"}

# Daily API allowance -> edition (shared/CRM-APIS.md 2.4).
EDITION_BY_DAILY_LIMIT = {250_000: "starter", 625_000: "professional", 1_000_000: "enterprise"}
DAILY_LIMIT_BY_EDITION = {"free": 250_000, "starter": 250_000, "professional": 625_000, "enterprise": 1_000_000}

MAPPED_COLUMNS: dict[str, list[str]] = {
    "users": ["id", "name", "email", "role", "is_active", "is_admin", "last_login_at", "created_at"],
    "login_events": ["id", "user_id", "at", "ip", "status", "application"],
    "companies": ["id"] + list(COMPANY_PROPERTIES),
    "contacts": ["id", "company_id", "segments"] + list(CONTACT_PROPERTIES),
    "deals": ["id", "company_id", "contact_id"] + list(DEAL_PROPERTIES),
    "stages": ["id", "pipeline", "name", "position", "is_closed", "is_won"],
    "activities": ["id", "type", "subject", "owner_id", "contact_id", "company_id", "deal_id", "due_at",
                   "is_done", "completed_at", "created_at"],
    "campaigns": ["id", "name", "type", "sent", "delivered", "opened", "responses", "started_at"],
    "fields": ["object", "name", "label", "type", "is_custom", "created_at"],
    "platform": ["vendor", "edition", "api_version_used"],
    "integrations": ["id", "name", "status", "last_sync_at"],
}

API_VERSION_USED = "v3"

# Association pairs read through the v4 batch endpoint: (from, to) -> canonical column.
ASSOCIATIONS = {
    "contacts": {"companies": "company_id"},
    "deals": {"companies": "company_id", "contacts": "contact_id"},
    **{t: {"contacts": "contact_id", "companies": "company_id", "deals": "deal_id"} for t in ACTIVITY_TYPE_OF},
}
# HubSpot-defined association type ids used by the sandbox (the primary ones carry the
# "Primary" label, which the connector prefers when a record has several associations).
ASSOCIATION_TYPE_IDS = {
    ("contacts", "companies"): (1, "Primary"),
    ("deals", "companies"): (5, "Primary"),
    ("deals", "contacts"): (3, None),
    ("calls", "contacts"): (194, None), ("calls", "companies"): (182, None), ("calls", "deals"): (206, None),
    ("emails", "contacts"): (198, None), ("emails", "companies"): (186, None), ("emails", "deals"): (210, None),
    ("meetings", "contacts"): (200, None), ("meetings", "companies"): (188, None), ("meetings", "deals"): (212, None),
    ("notes", "contacts"): (202, None), ("notes", "companies"): (190, None), ("notes", "deals"): (214, None),
    ("tasks", "contacts"): (204, None), ("tasks", "companies"): (192, None), ("tasks", "deals"): (216, None),
    ("communications", "contacts"): (81, None), ("communications", "companies"): (87, None),
    ("communications", "deals"): (85, None),
}


# ---------------------------------------------------------------------------- values

def format_time(value: Any) -> str | None:
    """Canonical timestamp -> HubSpot's ISO form with milliseconds and Z."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = utc_datetime(value)
    if not value.tzinfo:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def parse_bool(value: Any) -> bool | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def parse_float(value: Any) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def to_property_string(value: Any) -> str | None:
    """Canonical Python value -> a HubSpot property value (always a string)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ";".join(str(v) for v in value)
    return str(value)


def _column_value(column: str, raw_value: Any) -> Any:
    if column in TIME_COLUMNS:
        return utc_datetime(raw_value)
    if column == "email_bounced":
        number = parse_float(raw_value)
        return None if number is None else number > 0
    if column in BOOL_COLUMNS:
        return parse_bool(raw_value)
    if column in FLOAT_COLUMNS:
        return parse_float(raw_value)
    if column == "source":
        return None if raw_value in (None, "") else SOURCE_OF.get(raw_value, str(raw_value).lower())
    return None if raw_value == "" else raw_value


def custom_value(hubspot_type: str, value: Any) -> Any:
    """A custom property's string value -> a typed Python value."""
    if value in (None, ""):
        return None
    if hubspot_type == "number":
        number = parse_float(value)
        return int(number) if number is not None and number.is_integer() and "." not in str(value) else number
    if hubspot_type == "bool":
        return parse_bool(value)
    if hubspot_type in ("datetime", "date"):
        try:
            return utc_datetime(value)
        except ValueError:
            return value
    return value


# ---------------------------------------------------------------------------- vendor -> canonical

def object_to_row(table: str, obj: dict, custom_types: dict[str, str]) -> dict:
    """A HubSpot CRM object (contacts/companies/deals) -> canonical row (associations added later)."""
    props = obj.get("properties") or {}
    row: dict[str, Any] = {"id": str(obj["id"])}
    for column, prop in TYPED_PROPERTIES[table].items():
        row[column] = _column_value(column, props.get(prop))
    if row.get("created_at") is None:
        row["created_at"] = utc_datetime(obj.get("createdAt"))
    if row.get("updated_at") is None:
        row["updated_at"] = utc_datetime(obj.get("updatedAt"))
    row["custom"] = {name: custom_value(typ, props.get(name)) for name, typ in custom_types.items() if name in props}
    row["raw"] = obj
    return row


def engagement_to_row(object_type: str, obj: dict, custom_types: dict[str, str]) -> dict:
    props = obj.get("properties") or {}
    row: dict[str, Any] = {"id": str(obj["id"]), "type": ACTIVITY_TYPE_OF[object_type]}
    for column, prop in ACTIVITY_COMMON.items():
        row[column] = _column_value(column, props.get(prop))
    if row.get("created_at") is None:
        row["created_at"] = utc_datetime(obj.get("createdAt"))
    row["subject"] = props.get(ACTIVITY_SUBJECT[object_type]) or None
    if object_type in ACTIVITY_STATUS:
        prop, done_value, _ = ACTIVITY_STATUS[object_type]
        status = props.get(prop)
        row["is_done"] = None if status in (None, "") else status == done_value
    else:
        row["is_done"] = True  # notes and messages are records of something that happened
    if object_type in ACTIVITY_COMPLETED:
        row["completed_at"] = utc_datetime(props.get(ACTIVITY_COMPLETED[object_type]))
    else:
        row["completed_at"] = row["due_at"] if row["is_done"] else None
    row["custom"] = {name: custom_value(typ, props.get(name)) for name, typ in custom_types.items() if name in props}
    row["raw"] = obj
    return row


def owner_to_row(owner: dict, settings_user: dict | None, role_names: dict[str, str]) -> dict:
    name = " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p) or None
    row = {
        "id": str(owner["id"]),
        "name": name,
        "email": owner.get("email"),
        "is_active": not owner.get("archived", False),
        "created_at": utc_datetime(owner.get("createdAt")),
        "raw": {"owner": owner, "user": settings_user},
    }
    if settings_user is not None:
        role_id = settings_user.get("roleId")
        row["role"] = role_names.get(str(role_id), role_id) if role_id else None
        row["is_admin"] = bool(settings_user.get("superAdmin"))
    else:
        row["role"] = None
        row["is_admin"] = None
    return row


def login_to_row(event: dict, owner_of_user: dict[str, str]) -> dict:
    user_id = event.get("userId")
    return {
        "id": str(event.get("id")),
        "user_id": owner_of_user.get(str(user_id), str(user_id) if user_id is not None else None),
        "at": utc_datetime(event.get("loginAt")),
        "ip": event.get("ipAddress"),
        "status": "success" if event.get("loginSucceeded") else "failure",
        "application": event.get("userAgent"),
        "raw": event,
    }


def pipeline_to_rows(pipeline: dict) -> list[dict]:
    rows = []
    for stage in pipeline.get("stages") or []:
        meta = stage.get("metadata") or {}
        is_closed = parse_bool(meta.get("isClosed"))
        probability = parse_float(meta.get("probability"))
        rows.append({
            "id": str(stage["id"]),
            "pipeline": str(pipeline["id"]),
            "name": stage.get("label"),
            "position": stage.get("displayOrder"),
            "is_closed": bool(is_closed),
            "is_won": bool(is_closed) and probability is not None and probability >= 1.0,
            "raw": stage,
        })
    return rows


def property_to_row(table: str, prop: dict) -> dict:
    return {
        "object": table,
        "name": prop["name"],
        "label": prop.get("label"),
        "type": LOGICAL_TYPE.get(prop.get("type"), prop.get("type")),
        "is_custom": not prop.get("hubspotDefined", False),
        "created_at": utc_datetime(prop.get("createdAt")),
        "raw": prop,
    }


def marketing_email_to_row(email: dict) -> dict:
    counters = ((email.get("stats") or {}).get("counters")) or {}
    return {
        "id": str(email["id"]),
        "name": email.get("name"),
        "type": "email",
        "sent": counters.get("sent"),
        "delivered": counters.get("delivered"),
        "opened": counters.get("open"),
        "responses": counters.get("click"),
        "started_at": utc_datetime(email.get("publishDate") or email.get("publishedAt")),
        "raw": email,
    }


def account_to_row(details: dict | None, daily_limit: int | None) -> dict:
    edition = EDITION_BY_DAILY_LIMIT.get(daily_limit) if daily_limit else None
    if edition is None and daily_limit:
        edition = "enterprise" if daily_limit > 1_000_000 else None
    return {
        "vendor": "hubspot",
        "edition": edition,
        "api_version_used": API_VERSION_USED,
        "raw": {"details": details, "daily_limit": daily_limit},
    }


def primary_association(to_items: list[dict]) -> str | None:
    """The associated id to keep when a record has several: the 'Primary' one, else the first."""
    if not to_items:
        return None
    for item in to_items:
        for kind in item.get("associationTypes") or []:
            if (kind.get("label") or "").lower() == "primary":
                return str(item["toObjectId"])
    return str(to_items[0]["toObjectId"])


# ---------------------------------------------------------------------------- canonical -> vendor

def row_to_object(table: str, row: dict, custom_names: list[str], app_ids: dict[str, str] | None = None) -> dict:
    """A canonical contacts/companies/deals row -> a HubSpot object with all its properties.

    ``app_ids`` ({integration name: id}): a record an integration created carries the app's
    id in ``hs_object_source_id`` and "INTEGRATION" in ``hs_object_source_label``."""
    props: dict[str, Any] = {"hs_object_id": str(row["id"])}
    for column, prop in TYPED_PROPERTIES[table].items():
        value = row.get(column)
        if column == "source" and value is not None:
            value = HUBSPOT_SOURCE.get(value, str(value).upper())
        elif column == "email_bounced" and value is not None:
            value = "1" if value else "0"
        props[prop] = to_property_string(value)
    props[SOURCE_ID] = props[SOURCE_LABEL] = None
    if row.get("source") == "integration" and row.get("source_detail"):
        props[SOURCE_ID] = app_ids[row["source_detail"]] if app_ids is not None else None
        props[SOURCE_LABEL] = "INTEGRATION"
    for name in custom_names:
        props[name] = to_property_string(row.get(name))
    created = format_time(row.get("created_at")) or "2020-01-01T00:00:00.000Z"
    updated = format_time(row.get("updated_at")) or created
    props.setdefault("createdate", created)
    props["lastmodifieddate" if table == "contacts" else "hs_lastmodifieddate"] = updated
    return {"id": str(row["id"]), "properties": props, "createdAt": created, "updatedAt": updated,
            "archived": False}


def row_to_engagement(row: dict, custom_names: list[str]) -> tuple[str, dict]:
    """A canonical activities row -> (HubSpot object type, engagement object)."""
    object_type = OBJECT_TYPE_OF_ACTIVITY.get(row.get("type"), "notes")
    props: dict[str, Any] = {"hs_object_id": str(row["id"])}
    for column, prop in ACTIVITY_COMMON.items():
        props[prop] = to_property_string(row.get(column))
    props[ACTIVITY_SUBJECT[object_type]] = row.get("subject")
    if object_type in ACTIVITY_STATUS:
        prop, done_value, open_value = ACTIVITY_STATUS[object_type]
        done = row.get("is_done")
        props[prop] = None if done is None else (done_value if done else open_value)
    if object_type in ACTIVITY_COMPLETED:
        props[ACTIVITY_COMPLETED[object_type]] = to_property_string(row.get("completed_at"))
    if object_type == "communications":
        props["hs_communication_channel_type"] = "SMS"
    for name in custom_names:
        props[name] = to_property_string(row.get(name))
    created = format_time(row.get("created_at")) or "2020-01-01T00:00:00.000Z"
    props["hs_createdate"] = created
    props["hs_lastmodifieddate"] = created
    return object_type, {"id": str(row["id"]), "properties": props, "createdAt": created, "updatedAt": created,
                         "archived": False}
