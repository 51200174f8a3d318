"""Builds the sandbox's HubSpot objects from a canonical tenant, one builder per entity.

Each ``build_*`` function takes the canonical rows it needs (big tables are read one
Arrow batch at a time) and returns HubSpot-shaped JSON: property definitions,
CRM objects with their associations, owners and settings users with roles, login
activity, deal pipelines and marketing emails. The ``row_to_*`` functions shape one
canonical row as HubSpot returns it (canonical -> vendor; the reverse of mapping.py).
"""

from __future__ import annotations

from typing import Any

from crm_audit_core.sandbox.server import iter_tenant_rows

from .. import mapping

ALL_OBJECT_TYPES = ("contacts", "companies", "deals", "calls", "emails", "meetings", "notes", "tasks",
                    "communications")
DEFAULT_PROPERTIES = {
    "contacts": ["firstname", "lastname", "email"],
    "companies": ["name", "domain"],
    "deals": ["dealname", "amount", "closedate", "pipeline", "dealstage"],
}
DATETIME_PROPERTIES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "hs_createdate", "closedate",
                       "hs_timestamp", "notes_last_updated", "hs_task_completion_date"}
CREATED = "2020-01-01T00:00:00.000Z"  # creation date of what the tenant does not date
# Canonical link columns of each record table -> the object type they associate with.
RECORD_LINKS = {
    "contacts": (("company_id", "companies"),),
    "deals": (("company_id", "companies"), ("contact_id", "contacts")),
    "activities": (("contact_id", "contacts"), ("company_id", "companies"), ("deal_id", "deals")),
}

Associations = dict[tuple[str, str], dict[str, list[str]]]


def id_key(value: Any):
    """Sort key of a HubSpot id: numeric ids in numeric order, others after them."""
    return (0, int(value)) if str(value).isdigit() else (1, str(value))


def custom_fields(fields: list[dict]) -> dict[str, list[dict]]:
    """The tenant's custom field rows per canonical table."""
    custom: dict[str, list[dict]] = {}
    for f in fields:
        if f.get("is_custom"):
            custom.setdefault(f["object"], []).append(f)
    return custom


def associate(associations: Associations, from_type: str, from_id: Any, to_type: str, to_id: Any) -> None:
    associations.setdefault((from_type, to_type), {}).setdefault(str(from_id), []).append(str(to_id))


# ---------------------------------------------------------------------------- properties

def row_to_property(name: str, label: str, typ: str, hubspot_defined: bool, created: str) -> dict:
    """One property definition as ``/crm/v3/properties/{type}`` lists it."""
    return {
        "name": name, "label": label, "type": typ, "fieldType": mapping.HUBSPOT_FIELD_TYPE.get(typ, "text"),
        "groupName": "custom" if not hubspot_defined else "default", "description": "", "displayOrder": -1,
        "hasUniqueValue": False, "hidden": False, "formField": not hubspot_defined,
        "hubspotDefined": hubspot_defined, "calculated": False, "externalOptions": False,
        "createdAt": created, "updatedAt": created, "archived": False, "options": [],
        "modificationMetadata": {"archivable": not hubspot_defined, "readOnlyDefinition": hubspot_defined,
                                 "readOnlyValue": False},
    }


def build_properties(fields: list[dict], extra_properties: int = 0) -> dict[str, list[dict]]:
    """Property definitions per object type: HubSpot-defined ones (labelled from the tenant's
    standard field rows), the tenant's custom ones, and ``extra_properties`` padding ones on
    contacts, companies and deals (portals with 1,000+ properties)."""
    custom = custom_fields(fields)
    properties: dict[str, list[dict]] = {}
    for object_type in ALL_OBJECT_TYPES:
        table = "activities" if object_type in mapping.ACTIVITY_TYPE_OF else object_type
        standard = set(mapping.needed_properties(object_type)) | set(DEFAULT_PROPERTIES.get(object_type, []))
        standard |= {"createdate", "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"}
        standard_labels = {}
        if table in mapping.TYPED_PROPERTIES:
            labels = {f["name"]: f for f in fields if f.get("object") == table and not f.get("is_custom")}
            for column, prop in mapping.TYPED_PROPERTIES[table].items():
                if column in labels:
                    standard_labels[prop] = labels[column].get("label")
        props = [row_to_property(name, standard_labels.get(name) or name.replace("_", " ").title(),
                                 "datetime" if name in DATETIME_PROPERTIES else "string", True, CREATED)
                 for name in sorted(standard)]
        for f in custom.get(table, []):
            typ = mapping.hubspot_type(f.get("type"))
            props.append(row_to_property(f["name"], f.get("label") or f["name"], typ, False,
                                         mapping.format_time(f.get("created_at")) or CREATED))
        for i in range(extra_properties if object_type in ("contacts", "companies", "deals") else 0):
            props.append(row_to_property(f"audit_padding_custom_property_{object_type}_{i:05d}",
                                         f"Padding {i}", "string", False, CREATED))
        properties[object_type] = props
    return properties


# ---------------------------------------------------------------------------- CRM objects

def build_records(tenant: Any, table: str, custom_names: list[str], objects: dict[str, list[dict]],
                  associations: Associations, app_ids: dict[str, str] | None = None,
                  segments: dict[str, list[str]] | None = None) -> None:
    """Append the HubSpot objects of a contacts/companies/deals table to ``objects[table]``
    and their company/contact associations to ``associations``; records an integration
    created carry its app id (``app_ids``: {name: id}); ``segments`` collects each contact's
    list names ({contact id: names})."""
    for row in iter_tenant_rows(tenant, table):
        objects[table].append(mapping.row_to_object(table, row, custom_names, app_ids))
        if segments is not None and row.get("segments"):
            segments[str(row["id"])] = list(row["segments"])
        for column, to in RECORD_LINKS.get(table, ()):
            if row.get(column):
                associate(associations, table, row["id"], to, row[column])


def build_engagements(tenant: Any, custom_names: list[str], objects: dict[str, list[dict]],
                      associations: Associations) -> None:
    """Append the canonical activities as calls, emails, meetings, notes, tasks and
    communications, with their contact/company/deal associations."""
    for row in iter_tenant_rows(tenant, "activities"):
        object_type, obj = mapping.row_to_engagement(row, custom_names)
        objects[object_type].append(obj)
        for column, to in RECORD_LINKS["activities"]:
            if row.get(column):
                associate(associations, object_type, row["id"], to, row[column])


# ---------------------------------------------------------------------------- users

def user_number(user_id: Any) -> int:
    """The numeric HubSpot user id of a canonical user (owners have their own ids)."""
    return int(user_id) if str(user_id).isdigit() else abs(hash(user_id)) % 10**8


def build_roles(users: list[dict]) -> list[dict]:
    roles = sorted({u["role"] for u in users if u.get("role")})
    return [{"id": str(100 + i), "name": r, "requiresBillingWrite": False} for i, r in enumerate(roles)]


def row_to_owner(user: dict) -> dict:
    """A canonical user as a CRM owner (``/crm/v3/owners``; inactive users are archived)."""
    first, _, last = (user.get("name") or "").partition(" ")
    when = mapping.format_time(user.get("created_at")) or CREATED
    number = user_number(user["id"])
    return {
        "id": str(user["id"]), "email": user.get("email"), "firstName": first or None, "lastName": last or None,
        "userId": number, "userIdIncludingInactive": number, "type": "PERSON",
        "archived": not user.get("is_active", True), "createdAt": when, "updatedAt": when, "teams": [],
    }


def row_to_settings_user(user: dict, role_id: dict[str, str]) -> dict:
    """A canonical user as a settings user (``/settings/v3/users``: role and super admin)."""
    return {
        "id": str(user_number(user["id"])), "email": user.get("email") or f"user{user['id']}@example.com",
        "roleId": role_id.get(user.get("role")), "roleIds": [role_id[user["role"]]] if user.get("role") else [],
        "primaryTeamId": None, "secondaryTeamIds": [], "superAdmin": bool(user.get("is_admin")),
        "sendWelcomeEmail": False,
    }


def build_users(users: list[dict], permissions: list[dict] | None = None
                ) -> tuple[list[dict], list[dict], list[dict]]:
    """(owners, settings users, roles) of the tenant's users, in id order. A user is a
    super admin when the tenant says it is an admin or holds ``super_admin`` (permissions)."""
    roles = build_roles(users)
    role_id = {r["name"]: r["id"] for r in roles}
    ordered = sorted(users, key=lambda u: id_key(u["id"]))
    supers = {str(p.get("user_id")) for p in permissions or () if p.get("permission") == "super_admin"}
    settings = []
    for u in ordered:
        user = row_to_settings_user(u, role_id)
        user["superAdmin"] = user["superAdmin"] or str(u["id"]) in supers
        settings.append(user)
    return [row_to_owner(u) for u in ordered], settings, roles


def row_to_audit_log(entry: dict, user_email: dict[str, str | None]) -> dict:
    """A canonical audit_trail row as ``/account-info/v3/activity/audit-logs`` lists it
    (``section`` "CATEGORY/SUB" -> category and subCategory)."""
    category, _, sub = str(entry.get("section") or "").partition("/")
    user_id = entry.get("user_id")
    return {
        "id": str(entry["id"]), "category": category or None, "subCategory": sub or None,
        "action": entry.get("action"), "targetObjectId": entry.get("display"),
        "occurredAt": mapping.format_time(entry.get("created_at")),
        "actingUser": {"userId": user_number(user_id) if user_id is not None else None,
                       "userEmail": user_email.get(str(user_id))},
    }


def build_audit_logs(entries: list[dict], users: list[dict]) -> list[dict]:
    """The audit log, oldest first (the sandbox filters on occurredAfter/occurredBefore)."""
    emails = {str(u["id"]): u.get("email") for u in users}
    logs = [row_to_audit_log(e, emails) for e in entries]
    return sorted(logs, key=lambda e: (e["occurredAt"] or "", e["id"]))


def row_to_login(event: dict, user_number_of: dict[str, int]) -> dict:
    """A canonical login event as ``/account-info/v3/activity/login`` lists it."""
    return {
        "id": str(event["id"]), "loginAt": mapping.format_time(event.get("at")),
        "userId": user_number_of.get(str(event.get("user_id")), event.get("user_id")),
        "email": None, "loginSucceeded": event.get("status") == "success", "ipAddress": event.get("ip"),
        "countryCode": None, "regionCode": None, "location": None, "userAgent": event.get("application"),
    }


def build_logins(events: list[dict], owners: list[dict]) -> list[dict]:
    user_number_of = {o["id"]: o["userId"] for o in owners}
    return [row_to_login(e, user_number_of) for e in sorted(events, key=lambda e: id_key(e["id"]))]


# ---------------------------------------------------------------------------- pipelines, emails

def row_to_stage(stage: dict, order: int) -> dict:
    return {
        "id": str(stage["id"]), "label": stage.get("name") or str(stage["id"]),
        "displayOrder": stage.get("position") if stage.get("position") is not None else order,
        "archived": False,
        "metadata": {"isClosed": "true" if stage.get("is_closed") else "false",
                     "probability": "1.0" if stage.get("is_won") else ("0.0" if stage.get("is_closed") else "0.2")},
        "createdAt": CREATED, "updatedAt": CREATED, "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def build_pipelines(stages: list[dict]) -> list[dict]:
    """Deal pipelines (``/crm/v3/pipelines/deals``) from the canonical stages."""
    by_pipeline: dict[str, list[dict]] = {}
    for s in stages:
        by_pipeline.setdefault(str(s.get("pipeline") or "default"), []).append(s)
    pipelines = []
    for order, (pipeline_id, rows) in enumerate(sorted(by_pipeline.items())):
        ordered = sorted(rows, key=lambda s: (s.get("position") or 0, str(s["id"])))
        pipelines.append({
            "id": pipeline_id, "label": pipeline_id, "displayOrder": order, "archived": False,
            "createdAt": CREATED, "updatedAt": CREATED,
            "stages": [row_to_stage(s, i) for i, s in enumerate(ordered)],
        })
    return pipelines


def row_to_marketing_email(campaign: dict) -> dict:
    """A canonical campaign as a marketing email with its statistics (``/marketing/v3/emails``)."""
    when = mapping.format_time(campaign.get("started_at"))
    counters = {k: int(campaign[col]) for k, col in (("sent", "sent"), ("delivered", "delivered"),
                                                       ("open", "opened"), ("click", "responses"))
                if campaign.get(col) is not None}
    return {
        "id": str(campaign["id"]), "name": campaign.get("name"), "subject": campaign.get("name"),
        "type": "BATCH_EMAIL", "state": "PUBLISHED" if when else "DRAFT", "isPublished": bool(when),
        "publishDate": when, "createdAt": when or CREATED, "updatedAt": when or CREATED, "archived": False,
        "subcategory": "batch", "sendOnPublish": True, "content": {"widgets": {}, "flexAreas": {}},
        "from": {"fromName": "Marketing", "replyTo": "marketing@example.com"},
        "to": {"contactIds": {"include": [], "exclude": []}, "contactLists": {"include": [], "exclude": []},
               "suppressGraymail": False},
        "stats": {"counters": counters, "ratios": {}, "deviceBreakdown": {}, "qualifierStats": {}},
    }


def build_marketing_emails(campaigns: list[dict]) -> list[dict]:
    return [row_to_marketing_email(c) for c in sorted(campaigns, key=lambda c: id_key(c["id"]))]


# ---------------------------------------------------------------------------- lists (segments)

LIST_CREATED = "2021-01-01T00:00:00.000Z"


def row_to_list(list_id: str, name: str, size: int) -> dict:
    """A contact list as ``POST /crm/v3/lists/search`` returns it (PublicObjectListSearchResult)."""
    return {
        "listId": list_id, "listVersion": 1, "name": name, "objectTypeId": "0-1", "processingType": "MANUAL",
        "processingStatus": "COMPLETE", "createdAt": LIST_CREATED, "updatedAt": LIST_CREATED,
        "filtersUpdatedAt": LIST_CREATED, "createdById": "1", "updatedById": "1",
        "additionalProperties": {"hs_list_size": str(size)},
    }


def build_lists(segments: dict[str, list[str]]) -> tuple[list[dict], dict[str, list[str]]]:
    """(contact lists, {list id: member contact ids in id order}) from each contact's
    segment names: one MANUAL contact list per distinct name, ids in name order."""
    by_name: dict[str, list[str]] = {}
    for contact_id, names in segments.items():
        for name in names:
            by_name.setdefault(name, []).append(contact_id)
    lists, members = [], {}
    for number, name in enumerate(sorted(by_name), start=1):
        list_id = str(number)
        members[list_id] = sorted(set(by_name[name]), key=id_key)
        lists.append(row_to_list(list_id, name, len(members[list_id])))
    return lists, members
