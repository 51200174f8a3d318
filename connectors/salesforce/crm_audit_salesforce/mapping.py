"""Salesforce records <-> canonical rows.

The connector maps each record with ``<entity>_to_row`` (``user_to_row``,
``account_to_row``, ``contact_to_row``, ``lead_to_row``, ...); the sandbox builds
Salesforce records from a canonical tenant with the inverse ``row_to_<entity>`` functions
in :mod:`crm_audit_salesforce.sandbox.builder`, using the same constants from here, so the
two stay inverse mappings.

Ids: a canonical id read from Salesforce *is* the 18-character Salesforce id; the
sandbox's ids and their way back are in :mod:`.ids` (re-exported here).

Where Salesforce has no standard field for a canonical column, the connector reads an
org-specific custom field whose name is an option (defaults in :data:`MAPPED_CUSTOM_FIELDS`):
lifecycle stage, lead status on contacts, segments (a multi-select picklist, which is
``;``-separated exactly like the canonical list), source detail and loss reason.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlparse

from crm_audit_core.kit import utc_datetime

from .ids import (KEY_PREFIXES, PREFIX_OBJECTS, _checksum, from_salesforce_id, sobject_of,  # noqa: F401
                  to_salesforce_id)

UTC = timezone.utc

# --------------------------------------------------------------------- values

def format_datetime(value: Any) -> str | None:
    """Canonical timestamp -> Salesforce REST datetime string."""
    when = utc_datetime(value) if not isinstance(value, datetime) else value
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}+0000"


def format_date(value: Any) -> str | None:
    when = utc_datetime(value) if not isinstance(value, datetime) else value
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%d")


def as_bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes")


def as_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(float(value))


def as_text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def domain_from_website(website: str | None) -> str | None:
    """``https://www.example.com/about`` -> ``www.example.com`` (the host, as written)."""
    if not website:
        return None
    text = website.strip()
    host = urlparse(text if "//" in text else "//" + text).netloc.rsplit("@", 1)[-1].split(":")[0]
    return host or None


# How a record was created. Salesforce has no creation-channel field; LeadSource and
# AccountSource are the picklists orgs use for it. Canonical -> picklist value.
SOURCE_TO_PICKLIST = {
    "ui": "Other",
    "import": "Purchased List",
    "form": "Web",
    "api": "API",
    "integration": "Integration",
}
PICKLIST_TO_SOURCE = {v: k for k, v in SOURCE_TO_PICKLIST.items()}
# Salesforce's other standard LeadSource values are people talking to people.
PICKLIST_TO_SOURCE.update({v: "ui" for v in ("Phone Inquiry", "Partner Referral", "Employee Referral",
                                              "External Referral", "Partner", "Trade Show", "Word of mouth",
                                              "Advertisement", "Seminar - Internal", "Seminar - Partner")})

# Canonical user roles that are Salesforce profiles with another name.
ROLE_TO_PROFILE = {"integration": "Minimum Access - API Only Integrations"}
PROFILE_TO_ROLE = {v: k for k, v in ROLE_TO_PROFILE.items()}
PROFILE_TO_ROLE["Salesforce API Only System Integrations"] = "integration"

# Canonical columns with no standard Salesforce field: option name -> default field.
MAPPED_CUSTOM_FIELDS = {
    "lifecycle_field": "Lifecycle_Stage__c",  # Contact
    "lead_status_field": "Lead_Status__c",  # Contact (Lead has the standard Status)
    "segments_field": "Segments__c",  # Contact and Lead, multi-select picklist
    "source_detail_field": "Source_Detail__c",  # Account, Contact, Lead, Opportunity
    "loss_reason_field": "Loss_Reason__c",  # Opportunity (auto-detected when absent)
    "lead_account_field": "Account__c",  # Lead lookup to the Account it belongs to
}

LOGIN_SUCCESS = "Success"

# Canonical activity type <-> Task fields (meetings are Events unless they cannot be).
TASK_SUBTYPES = {"call": "Call", "email": "Email"}
TASK_TYPES = {"call": "Call", "email": "Email", "meeting": "Meeting", "sms": "SMS", "note": "Note", "task": "Other"}


def custom_field_api_name(name: str) -> str:
    """Canonical custom column -> Salesforce API name (custom names end with __c)."""
    return name if name.endswith("__c") else f"{name}__c"


# ------------------------------------------------------------ SOQL field lists

USER_FIELDS = ["Id", "Name", "Username", "Email", "IsActive", "LastLoginDate", "ProfileId",
               "Profile.Name", "Profile.UserLicense.Name", "Profile.PermissionsApiUserOnly", "UserRole.Name", "UserType",
               "CreatedDate"]
GUEST_USER_TYPE = "Guest"  # User.UserType of a site's or community's guest user
MFA_FIELDS = ["UserId", "HasTotp", "HasSalesforceAuthenticator", "HasU2F",
              "HasBuiltInAuthenticator"]
LOGIN_FIELDS = ["Id", "UserId", "LoginTime", "SourceIp", "Status", "Application", "LoginType", "ApiType",
                "ApiVersion"]
ORGANIZATION_FIELDS = ["Id", "Name", "OrganizationType", "IsSandbox", "InstanceName",
                       "DefaultCurrencyIsoCode", "CreatedDate"]
ACCOUNT_FIELDS = ["Id", "Name", "Website", "Industry", "Phone", "BillingStreet", "BillingCity",
                  "BillingState", "BillingPostalCode", "BillingCountry", "OwnerId",
                  "AccountSource", "CreatedById", "CreatedDate", "LastModifiedDate", "LastActivityDate"]
CONTACT_FIELDS = ["Id", "FirstName", "LastName", "Email", "Phone", "Title", "AccountId",
                  "Account.Name", "OwnerId", "MailingStreet", "MailingCity", "MailingState",
                  "MailingPostalCode", "MailingCountry", "LeadSource", "IsEmailBounced",
                  "CreatedById", "CreatedDate", "LastModifiedDate", "LastActivityDate"]
LEAD_FIELDS = ["Id", "FirstName", "LastName", "Email", "Phone", "Title", "Company", "Status",
               "OwnerId", "Street", "City", "State", "PostalCode", "Country", "LeadSource",
               "IsEmailBounced", "IsConverted", "ConvertedContactId", "CreatedById", "CreatedDate",
               "LastModifiedDate", "LastActivityDate"]
STAGE_FIELDS = ["Id", "MasterLabel", "ApiName", "SortOrder", "IsActive", "IsClosed", "IsWon"]
OPPORTUNITY_FIELDS = ["Id", "Name", "Amount", "StageName", "IsClosed", "IsWon", "CloseDate",
                      "OwnerId", "AccountId", "ContactId", "LeadSource", "CreatedById", "CreatedDate",
                      "LastModifiedDate", "LastActivityDate"]
TASK_FIELDS = ["Id", "Subject", "TaskSubtype", "Type", "OwnerId", "WhoId", "WhatId",
               "AccountId", "ActivityDate", "IsClosed", "Status", "CompletedDateTime",
               "CreatedDate"]
EVENT_FIELDS = ["Id", "Subject", "EventSubtype", "Type", "OwnerId", "WhoId", "WhatId",
                "AccountId", "StartDateTime", "EndDateTime", "CreatedDate"]
CAMPAIGN_FIELDS = ["Id", "Name", "Type", "Status", "IsActive", "NumberSent",
                   "NumberOfResponses", "NumberOfLeads", "NumberOfContacts", "StartDate",
                   "EndDate", "CreatedDate"]
CAMPAIGN_MEMBER_FIELDS = ["Id", "CampaignId", "Campaign.Name", "ContactId", "LeadId"]

# Campaigns of these types are lists (segments), not marketing campaigns: their members'
# contacts.segments, and no row of campaigns (option segment_campaign_types).
SEGMENT_CAMPAIGN_TYPES = ("List",)

# Which canonical columns this connector fills (checks needing others are skipped).
MAPPED_COLUMNS: dict[str, list[str]] = {
    "users": ["id", "name", "email", "role", "is_active", "is_admin", "last_login_at",
              "created_at", "mfa_enabled", "profile", "is_frozen", "api_only", "license"],
    "login_events": ["id", "user_id", "at", "ip", "status", "application", "api_type", "api_version",
                     "login_type"],
    "companies": ["id", "name", "domain", "industry", "phone", "street", "city", "state",
                  "postal_code", "country", "owner_id", "source", "source_detail",
                  "created_at", "updated_at"],
    "contacts": ["id", "first_name", "last_name", "email", "phone", "title", "company_id",
                 "company_name", "lifecycle_stage", "lead_status", "segments", "owner_id",
                 "street", "city", "state", "postal_code", "country", "source",
                 "source_detail", "email_bounced", "created_at", "updated_at",
                 "last_activity_at"],
    "deals": ["id", "name", "amount", "currency", "pipeline", "stage", "is_closed", "is_won",
              "close_date", "lost_reason", "owner_id", "company_id", "contact_id", "source",
              "source_detail", "created_at", "updated_at", "last_activity_at"],
    "stages": ["id", "pipeline", "name", "position", "is_closed", "is_won"],
    "activities": ["id", "type", "subject", "owner_id", "contact_id", "company_id", "deal_id",
                   "due_at", "is_done", "completed_at", "created_at"],
    "campaigns": ["id", "name", "type", "sent", "responses", "started_at"],
    "integrations": ["id", "name", "kind", "status", "last_sync_at", "created_at"],
    "fields": ["object", "name", "label", "type", "is_custom"],
    "platform": ["vendor", "edition", "api_version_used", "api_version_latest",
                 "api_versions_deprecated", "security_score", "security_score_source"],
    "security_settings": ["id", "group", "setting", "org_value", "recommended_value", "risk", "source"],
    "permissions": ["id", "user_id", "permission", "via", "via_name"],
    "oauth_grants": ["id", "app", "user_id", "created_at", "last_used_at", "use_count", "scope"],
    "audit_trail": ["id", "user_id", "action", "section", "display", "created_at"],
    "packages": ["id", "name", "namespace", "version", "state"],
}

# Columns Salesforce holds at date precision only (round trips compare the date).
DATE_ONLY = {
    "contacts": {"last_activity_at"},
    "deals": {"close_date", "last_activity_at"},
    "campaigns": {"started_at"},
}

# Every API version up to this one is retired or announced for retirement by Salesforce
# (versions 21.0-30.0 were retired in Summer '25).
LAST_RETIRED_VERSION = 30.0


# --------------------------------------------------------- vendor -> canonical

def _rel(record: dict, path: str) -> Any:
    """``Account.Name`` from a REST record (nested) or a Bulk record (flat key)."""
    if path in record:
        return record[path]
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _source(value: Any) -> str | None:
    return PICKLIST_TO_SOURCE.get(value) if value else None


def user_role(rec: dict) -> str | None:
    """users.role: 'guest' for a site's guest user, 'integration' on an API-only integration
    profile, else the user's role in the role hierarchy (``UserRole.Name``), else the profile."""
    if rec.get("UserType") == GUEST_USER_TYPE:
        return "guest"
    profile = as_text(_rel(rec, "Profile.Name"))
    if profile in PROFILE_TO_ROLE:
        return PROFILE_TO_ROLE[profile]
    return as_text(_rel(rec, "UserRole.Name")) or profile


def user_to_row(rec: dict, admin_ids: set[str], mfa: dict[str, bool] | None) -> dict:
    row = {
        "id": rec["Id"],
        "name": as_text(rec.get("Name")),
        "email": as_text(rec.get("Email")),
        "role": user_role(rec),
        "is_active": as_bool(rec.get("IsActive")),
        "is_admin": rec["Id"] in admin_ids,
        "last_login_at": utc_datetime(rec.get("LastLoginDate")),
        "created_at": utc_datetime(rec.get("CreatedDate")),
        "raw": rec,
    }
    if mfa is not None:
        row["mfa_enabled"] = mfa.get(rec["Id"], False)
    return row


def has_mfa(rec: dict) -> bool:
    return any(as_bool(rec.get(f)) for f in MFA_FIELDS[1:])


def login_to_row(rec: dict) -> dict:
    status = as_text(rec.get("Status"))
    return {
        "id": rec["Id"],
        "user_id": as_text(rec.get("UserId")),
        "at": utc_datetime(rec.get("LoginTime")),
        "ip": as_text(rec.get("SourceIp")),
        "status": None if status is None else ("success" if status == LOGIN_SUCCESS else "failure"),
        "application": as_text(rec.get("Application")),
        "api_type": as_text(rec.get("ApiType")),
        "api_version": _api_version(rec.get("ApiVersion")),
        "login_type": as_text(rec.get("LoginType")),
        "raw": rec,
    }


def _api_version(value: Any) -> str | None:
    """LoginHistory.ApiVersion as Salesforce spells versions ("52.0"); None for logins
    that used no API ("N/A" in Setup)."""
    text = as_text(value)
    if text is None:
        return None
    try:
        return f"{float(text):.1f}"
    except ValueError:
        return None


def account_to_row(rec: dict, cfg: dict, custom: list[str], types: dict) -> dict:
    return {
        "id": rec["Id"],
        "name": as_text(rec.get("Name")),
        "domain": domain_from_website(rec.get("Website")),
        "industry": as_text(rec.get("Industry")),
        "phone": as_text(rec.get("Phone")),
        "street": as_text(rec.get("BillingStreet")),
        "city": as_text(rec.get("BillingCity")),
        "state": as_text(rec.get("BillingState")),
        "postal_code": as_text(rec.get("BillingPostalCode")),
        "country": as_text(rec.get("BillingCountry")),
        "owner_id": as_text(rec.get("OwnerId")),
        "source": _source(rec.get("AccountSource")),
        "source_detail": as_text(rec.get(cfg.get("source_detail_field") or "", None)),
        "created_at": utc_datetime(rec.get("CreatedDate")),
        "updated_at": utc_datetime(rec.get("LastModifiedDate")),
        "raw": rec,
        "custom": custom_values(rec, custom, types),
    }


def _segments(value: Any) -> list[str]:
    if not value:
        return []
    return [s for s in str(value).split(";") if s]


def contact_to_row(rec: dict, cfg: dict, custom: list[str], types: dict) -> dict:
    return {
        "id": rec["Id"],
        "first_name": as_text(rec.get("FirstName")),
        "last_name": as_text(rec.get("LastName")),
        "email": as_text(rec.get("Email")),
        "phone": as_text(rec.get("Phone")),
        "title": as_text(rec.get("Title")),
        "company_id": as_text(rec.get("AccountId")),
        "company_name": as_text(_rel(rec, "Account.Name")),
        "lifecycle_stage": as_text(rec.get(cfg.get("lifecycle_field") or "", None)),
        "lead_status": as_text(rec.get(cfg.get("lead_status_field") or "", None)),
        "segments": _segments(rec.get(cfg.get("segments_field") or "", None)),
        "owner_id": as_text(rec.get("OwnerId")),
        "street": as_text(rec.get("MailingStreet")),
        "city": as_text(rec.get("MailingCity")),
        "state": as_text(rec.get("MailingState")),
        "postal_code": as_text(rec.get("MailingPostalCode")),
        "country": as_text(rec.get("MailingCountry")),
        "source": _source(rec.get("LeadSource")),
        "source_detail": as_text(rec.get(cfg.get("source_detail_field") or "", None)),
        "email_bounced": as_bool(rec.get("IsEmailBounced")),
        "created_at": utc_datetime(rec.get("CreatedDate")),
        "updated_at": utc_datetime(rec.get("LastModifiedDate")),
        "last_activity_at": utc_datetime(rec.get("LastActivityDate")),
        "raw": rec,
        "custom": custom_values(rec, custom, types),
    }


def lead_to_row(rec: dict, cfg: dict, custom: list[str], types: dict) -> dict:
    """An unconverted Lead is a contact at lifecycle stage ``lead``."""
    return {
        "id": rec["Id"],
        "first_name": as_text(rec.get("FirstName")),
        "last_name": as_text(rec.get("LastName")),
        "email": as_text(rec.get("Email")),
        "phone": as_text(rec.get("Phone")),
        "title": as_text(rec.get("Title")),
        "company_id": as_text(rec.get(cfg.get("lead_account_field") or "", None)),
        "company_name": as_text(rec.get("Company")),
        "lifecycle_stage": "lead",
        "lead_status": as_text(rec.get("Status")),
        "segments": _segments(rec.get(cfg.get("segments_field") or "", None)),
        "owner_id": as_text(rec.get("OwnerId")),
        "street": as_text(rec.get("Street")),
        "city": as_text(rec.get("City")),
        "state": as_text(rec.get("State")),
        "postal_code": as_text(rec.get("PostalCode")),
        "country": as_text(rec.get("Country")),
        "source": _source(rec.get("LeadSource")),
        "source_detail": as_text(rec.get(cfg.get("source_detail_field") or "", None)),
        "email_bounced": as_bool(rec.get("IsEmailBounced")),
        "created_at": utc_datetime(rec.get("CreatedDate")),
        "updated_at": utc_datetime(rec.get("LastModifiedDate")),
        "last_activity_at": utc_datetime(rec.get("LastActivityDate")),
        "raw": rec,
        "custom": custom_values(rec, custom, types),
    }


def opportunity_to_row(rec: dict, cfg: dict, custom: list[str], types: dict, default_currency: str | None,
                       stage_ids: dict[str, str], per_pipeline: bool = False) -> dict:
    """``stage`` is the stage's id (canonical deals.stage = stages.id): the OpportunityStage
    id, or with stages read per pipeline (``per_pipeline``) :func:`stage_key` of that id
    and the opportunity's record type."""
    loss_field = cfg.get("loss_reason_field")
    stage_id = stage_ids.get(rec.get("StageName"))
    if stage_id is None:
        stage = as_text(rec.get("StageName"))
    else:
        stage = stage_key(stage_id, _rel(rec, "RecordTypeId") if per_pipeline else None)
    return {
        "id": rec["Id"],
        "name": as_text(rec.get("Name")),
        "amount": as_float(rec.get("Amount")),
        "currency": as_text(rec.get("CurrencyIsoCode")) or default_currency,
        "pipeline": as_text(_rel(rec, "RecordType.Name")),
        "stage": stage,
        "is_closed": as_bool(rec.get("IsClosed")),
        "is_won": as_bool(rec.get("IsWon")),
        "close_date": utc_datetime(rec.get("CloseDate")),
        "lost_reason": as_text(rec.get(loss_field)) if loss_field else None,
        "owner_id": as_text(rec.get("OwnerId")),
        "company_id": as_text(rec.get("AccountId")),
        "contact_id": as_text(rec.get("ContactId")),
        "source": _source(rec.get("LeadSource")),
        "source_detail": as_text(rec.get(cfg.get("source_detail_field") or "", None)),
        "created_at": utc_datetime(rec.get("CreatedDate")),
        "updated_at": utc_datetime(rec.get("LastModifiedDate")),
        "last_activity_at": utc_datetime(rec.get("LastActivityDate")),
        "raw": rec,
        "custom": custom_values(rec, custom, types),
    }


# Salesforce's id of the master record type: the one of records without a record type.
MASTER_RECORD_TYPE = "012000000000000AAA"


def stage_key(stage_id: str, record_type_id: str | None) -> str:
    """The canonical id of a stage in one pipeline: the OpportunityStage id under the
    master record type (or none), ``<record type id>:<OpportunityStage id>`` under another."""
    if not record_type_id or record_type_id == MASTER_RECORD_TYPE:
        return stage_id
    return f"{record_type_id}:{stage_id}"


def stage_in_pipeline_to_row(rec: dict, key: str, pipeline: str | None, position: int, value: dict) -> dict:
    """One stage of one pipeline: the OpportunityStage ``rec`` as the picklist ``value`` of
    a record type offers it (the UI API's ``{"label", "value", ...}``), at ``position``
    (1-based) in that record type's picklist."""
    return {
        "id": key,
        "pipeline": pipeline,
        "name": as_text(value.get("value") or rec.get("ApiName") or rec.get("MasterLabel")),
        "position": position,
        "is_closed": as_bool(rec.get("IsClosed")),
        "is_won": as_bool(rec.get("IsWon")),
        "raw": {"stage": rec, "picklist_value": value},
    }


def stage_to_row(rec: dict) -> dict:
    """An org-wide OpportunityStage, without its pipelines (no UI API, or a file export)."""
    return {
        "id": rec["Id"],
        "name": as_text(rec.get("ApiName") or rec.get("MasterLabel")),
        "position": as_int(rec.get("SortOrder")),
        "is_closed": as_bool(rec.get("IsClosed")),
        "is_won": as_bool(rec.get("IsWon")),
        "raw": rec,
    }


def _links(rec: dict) -> dict:
    who, what = as_text(rec.get("WhoId")), as_text(rec.get("WhatId"))
    account = as_text(rec.get("AccountId"))
    if account is None and sobject_of(what) == "Account":
        account = what
    return {
        "contact_id": who if sobject_of(who) in ("Contact", "Lead", None) else None,
        "company_id": account,
        "deal_id": what if sobject_of(what) == "Opportunity" else None,
    }


def task_to_row(rec: dict, custom: list[str], types: dict) -> dict:
    subtype = rec.get("TaskSubtype")
    kind = {v: k for k, v in TASK_SUBTYPES.items()}.get(subtype)
    if subtype == "ListEmail":
        kind = "email"
    if kind is None:
        kind = {v: k for k, v in TASK_TYPES.items()}.get(rec.get("Type"), "task")
    return {
        "id": rec["Id"],
        "type": kind,
        "subject": as_text(rec.get("Subject")),
        "owner_id": as_text(rec.get("OwnerId")),
        **_links(rec),
        "due_at": utc_datetime(rec.get("ActivityDate")),
        "is_done": as_bool(rec.get("IsClosed")),
        "completed_at": utc_datetime(rec.get("CompletedDateTime")),
        "created_at": utc_datetime(rec.get("CreatedDate")),
        "raw": rec,
        "custom": custom_values(rec, custom, types),
    }


def event_to_row(rec: dict, as_of: datetime, custom: list[str], types: dict) -> dict:
    """An Event is a meeting; it is done once it has ended (before the audit date)."""
    end = utc_datetime(rec.get("EndDateTime"))
    done = end is not None and end < as_of
    return {
        "id": rec["Id"],
        "type": "meeting",
        "subject": as_text(rec.get("Subject")),
        "owner_id": as_text(rec.get("OwnerId")),
        **_links(rec),
        "due_at": utc_datetime(rec.get("StartDateTime")),
        "is_done": done,
        "completed_at": end if done else None,
        "created_at": utc_datetime(rec.get("CreatedDate")),
        "raw": rec,
        "custom": custom_values(rec, custom, types),
    }


def campaign_to_row(rec: dict) -> dict:
    return {
        "id": rec["Id"],
        "name": as_text(rec.get("Name")),
        "type": as_text(rec.get("Type")),
        "sent": as_int(rec.get("NumberSent")),
        "responses": as_int(rec.get("NumberOfResponses")),
        "started_at": utc_datetime(rec.get("StartDate")),
        "raw": rec,
    }


def field_to_row(table: str, field: dict, mapped: set[str]) -> dict:
    name = field["name"]
    return {
        "object": table,
        "name": name,
        "label": field.get("label"),
        "type": field.get("type"),
        # Custom fields the connector maps to canonical columns are part of the model.
        "is_custom": bool(field.get("custom", name.endswith("__c"))) and name not in mapped,
        "raw": field,
    }


def organization_to_row(org: dict | None, versions: list[dict], used: str, score: float | None = None) -> dict:
    """``score``: the Health Check score (security.read_health_check), None when not read."""
    offered = sorted((v["version"] for v in versions), key=float)
    return {
        "security_score": score,
        "security_score_source": "Salesforce Health Check" if score is not None else None,
        "vendor": "salesforce",
        "edition": as_text((org or {}).get("OrganizationType")),
        "api_version_used": used,
        "api_version_latest": offered[-1] if offered else None,
        "api_versions_deprecated": [v for v in offered if float(v) <= LAST_RETIRED_VERSION],
        "raw": {"organization": org, "versions": versions},
    }


def convert(value: Any, sf_type: str | None) -> Any:
    """A Bulk CSV string (or a REST JSON value) -> Python value for a describe type."""
    if value is None or value == "":
        return None
    if sf_type == "boolean":
        return as_bool(value)
    if sf_type in ("double", "currency", "percent"):
        return as_float(value)
    if sf_type in ("int", "long"):
        return as_int(value)
    return value


def custom_values(rec: dict, custom: list[str], types: dict) -> dict:
    return {name: convert(rec.get(name), types.get(name)) for name in custom if rec.get(name) not in (None, "")}
