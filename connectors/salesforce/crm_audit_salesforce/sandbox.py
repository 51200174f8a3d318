"""A local Salesforce: serves a canonical tenant as Salesforce REST + Bulk 2.0 over HTTPS.

simple-salesforce always speaks ``https://`` (shared/CRM-APIS.md, section 0), so the
sandbox serves real TLS on 127.0.0.1 with a throwaway CA made at start (trustme); the
connector trusts it through its ``ca_bundle`` option (``SandboxHandle.options``).

What it emulates (shapes from shared/CRM-APIS.md section 1):

* ``GET /services/data/`` version list (no auth, no usage header);
* ``GET /services/data/vXX.X/query[/]?q=`` with a small SOQL engine (SELECT fields and
  one-level parent fields FROM object, WHERE of ANDed or ORed comparisons on dates, ids,
  strings, numbers and booleans, ORDER BY, LIMIT, ``COUNT()``); anything else is a
  ``MALFORMED_QUERY``; unknown fields ``INVALID_FIELD``; unknown objects ``INVALID_TYPE``.
  Batches honour ``Sforce-Query-Options: batchSize=N`` (200..2000, default 2000) and page
  with ``nextRecordsUrl`` (``/query/<locator>-<offset>``);
* ``GET sobjects``, ``sobjects/{Name}/describe``, ``limits/``;
* ``GET limits/recordCount[?sObjects=A,B]`` (API 40.0 and later): ``{"sObjects": [{"count",
  "name"}]}``, a cached snapshot as in Salesforce: taken when the sandbox starts and not
  moved by ``add_record``/``delete_record`` until :meth:`SalesforceSandbox.refresh_record_counts`
  (``record_counts=`` at start, or ``app.record_counts[...] = n``, serves stale counts);
* Bulk 2.0 query jobs (``POST jobs/query``, job info, CSV results with ``Sforce-Locator``
  and ``Sforce-NumberOfRecords``; 409 when read under another API version);
* ``Sforce-Limit-Info: api-usage=N/M`` on every authenticated response; over the daily
  allowance or the optional per-window ``rate_limit``: 403 ``REQUEST_LIMIT_EXCEEDED``;
* URLs over 16,384 characters: 414; SOQL over 100,000 characters: ``MALFORMED_QUERY``;
* a wrong or expired session: 401 with Salesforce's JSON *list* body;
* login endpoints for the password (SOAP ``/services/Soap/u/{v}``) and OAuth
  (``/services/oauth2/token``: JWT bearer and password grants) modes;
* ``GET sobjects/{Name}/deleted/?start=&end=`` (getDeleted: the delete log of the last
  15 days, ``earliestDateAvailable`` moved by :meth:`SalesforceSandbox.purge_delete_log`);
  every record object has ``SystemModstamp`` (= ``LastModifiedDate``);
* changing the org between audits: ``handle.extra["app"]`` has ``update_record``,
  ``add_record``, ``delete_record`` (timestamps move to now), for incremental tests;
* the request log (``handle.requests``) notes for query, queryMore and Bulk result
  pages the ``object`` and how many ``records`` it served;
* fault injection (``FAULT_KINDS``): ``"429"`` is Salesforce's throttle, which is a 403
  ``REQUEST_LIMIT_EXCEEDED`` (Salesforce does not send 429) for the concurrent-request
  limit ("ConcurrentRequests (Concurrent API Requests) Limit exceeded.", SalesforceLabs/OrgCheck#432);
  the spent daily allowance is the same 403 with "TotalRequests Limit exceeded." (shared/CRM-APIS.md
  1.5), answered once ``api_used`` reaches ``daily_limit``; :meth:`SalesforceSandbox.spend_daily_allowance`
  lets other integrations spend it mid-run.

Canonical decimal ids become 18-character Salesforce ids with the right key prefix
(:func:`crm_audit_salesforce.mapping.to_salesforce_id`); ``handle.extra["ids"]`` maps
each canonical id to the Salesforce id it was served under.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from crm_audit_core.connector import FAULT_KINDS, SandboxHandle

from . import mapping as m

UTC = timezone.utc
MAX_URL_LENGTH = 16_384
MAX_SOQL_LENGTH = 100_000
DEFAULT_BATCH = 2000
MIN_BATCH, MAX_BATCH = 200, 2000
DEFAULT_BULK_PAGE = 50_000
LATEST_VERSION = "62.0"

# ------------------------------------------------------------------ the org


def _standard_type(name: str) -> str:
    if name == "Id":
        return "id"
    if name.endswith("Id") and name not in ("ApiName",):
        return "reference"
    if name.startswith(("Is", "Has", "Permissions")):
        return "boolean"
    if name in ("CloseDate", "ActivityDate", "StartDate", "EndDate", "LastActivityDate"):
        return "date"
    if name.endswith(("Date", "DateTime", "Time")):
        return "datetime"
    if name == "Amount":
        return "currency"
    if name in ("NumberSent",):
        return "double"
    if name.startswith("Number") or name == "SortOrder":
        return "int"
    return "string"


CANONICAL_TO_SF_TYPE = {
    "string": "string", "number": "double", "enumeration": "picklist", "boolean": "boolean", "datetime": "datetime",
    "str": "string", "int": "double", "float": "double", "bool": "boolean",
    "timestamp": "datetime", "date": "date", "list": "multipicklist", "json": "textarea",
}

STANDARD_FIELDS = {
    "User": m.USER_FIELDS[:-1] + ["UserRoleId", "LastModifiedDate"],
    "Profile": ["Id", "Name", "CreatedDate"],
    "PermissionSet": m.PERMISSION_SET_FIELDS,
    "PermissionSetAssignment": m.ASSIGNMENT_FIELDS,
    "TwoFactorMethodsInfo": ["Id"] + m.MFA_FIELDS,
    "LoginHistory": m.LOGIN_FIELDS,
    "Organization": m.ORGANIZATION_FIELDS,
    "Account": m.ACCOUNT_FIELDS,
    "Contact": [f for f in m.CONTACT_FIELDS if "." not in f],
    "Lead": m.LEAD_FIELDS,
    "OpportunityStage": m.STAGE_FIELDS,
    "Opportunity": m.OPPORTUNITY_FIELDS,
    "RecordType": ["Id", "Name", "DeveloperName", "SobjectType", "IsActive"],
    "Task": m.TASK_FIELDS,
    "Event": m.EVENT_FIELDS,
    "Campaign": m.CAMPAIGN_FIELDS,
}
for _name in STANDARD_FIELDS:
    fields_ = STANDARD_FIELDS[_name]
    for extra in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        if extra not in fields_ and _name not in ("PermissionSetAssignment", "TwoFactorMethodsInfo", "OpportunityStage"):
            fields_ = fields_ + [extra]
    STANDARD_FIELDS[_name] = fields_


@dataclass
class Org:
    """The tenant as Salesforce records, plus describe metadata."""

    records: dict[str, list[dict]] = field(default_factory=dict)
    fields: dict[str, dict[str, dict]] = field(default_factory=dict)  # object -> name -> describe
    by_id: dict[str, dict] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)  # canonical id -> Salesforce id
    versions: list[str] = field(default_factory=list)
    api_version: str = LATEST_VERSION
    deleted: dict[str, list[tuple[str, datetime]]] = field(default_factory=dict)  # object -> [(Id, when)]
    purged_until: datetime | None = None  # the delete log holds nothing older (getDeleted)

    def add_object(self, name: str, custom: dict[str, str] | None = None, extra: list[str] = ()) -> None:
        describe = {}
        for f in list(STANDARD_FIELDS.get(name, ["Id"])) + list(extra):
            describe[f] = {"name": f, "label": _label(f), "type": _standard_type(f), "custom": False}
        for f, sf_type in (custom or {}).items():
            describe[f] = {"name": f, "label": _label(f[:-3]), "type": sf_type, "custom": True}
        self.fields[name] = describe
        self.records.setdefault(name, [])

    def add(self, name: str, record: dict) -> dict:
        record = {k: v for k, v in record.items()}
        if "SystemModstamp" in self.fields.get(name, {}) and "SystemModstamp" not in record:
            record["SystemModstamp"] = record.get("LastModifiedDate") or record.get("CreatedDate")
        self.records[name].append(record)
        self.by_id[record["Id"]] = record
        return record


def _label(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").strip()


def _tenant_rows(tenant: Any, table: str) -> list[dict]:
    if tenant is None:
        return []
    if isinstance(tenant, dict):
        return list(tenant.get(table) or [])
    tables = getattr(tenant, "tables", {}) or {}
    if table not in tables:
        return []
    return list(tenant.rows(table))


def _tenant_as_of(tenant: Any, as_of: Any) -> datetime:
    if as_of is None:
        as_of = getattr(tenant, "as_of", None)
    if as_of is None:
        manifest = getattr(tenant, "manifest", None) or {}
        as_of = manifest.get("as_of")
    if as_of is None and isinstance(tenant, dict):
        as_of = tenant.get("as_of")
    return m.parse_datetime(as_of) or datetime.now(UTC)


def _version(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).lstrip("vV")
    try:
        return f"{float(text):.1f}"
    except ValueError:
        return None


def salesforce_versions(platform: dict) -> tuple[list[str], str]:
    """The versions the org offers and the one in use, from the tenant's platform row.

    Salesforce versions (``"58.0"``) are served as they are. A generator's vendor-neutral
    versions keep their meaning instead: the latest is 62.0; a deprecated version in use
    becomes 30.0 (the retired range 20.0-30.0 is then offered); an older one 58.0.
    """
    latest = _version(platform.get("api_version_latest"))
    used = _version(platform.get("api_version_used"))
    deprecated = [v for v in map(_version, platform.get("api_versions_deprecated") or []) if v]
    if latest and float(latest) >= 31.0 and (not used or float(used) >= 20.0):
        used = used or latest
        low = min([20.0] + [float(v) for v in deprecated]) if (deprecated or float(used) <= m.LAST_RETIRED_VERSION) else 31.0
        low = min(low, float(used))
        return [f"{v:.1f}" for v in range(int(low), int(float(latest)) + 1)], used
    raw_used = str(platform.get("api_version_used") or "")
    raw_deprecated = {str(v) for v in platform.get("api_versions_deprecated") or []}
    if raw_used and raw_used in raw_deprecated:
        sf_used = "30.0"
    elif raw_used and raw_used != str(platform.get("api_version_latest") or ""):
        sf_used = "58.0"
    else:
        sf_used = LATEST_VERSION
    low = 20 if raw_deprecated else 31
    return [f"{v:.1f}" for v in range(low, int(float(LATEST_VERSION)) + 1)], sf_used


def _custom_columns(rows: list[dict], table: str, declared: dict[str, dict]) -> dict[str, str]:
    """Custom columns of a canonical table -> {Salesforce API name: Salesforce type}."""
    canonical = set(m.MAPPED_COLUMNS.get(table, [])) | {"id", "tenant", "raw", "custom"}
    from crm_audit_core.model import TABLES

    if table in TABLES:
        canonical |= set(TABLES[table].column_names)
    names: dict[str, str] = {}
    for name, decl in declared.items():
        names[m.custom_field_api_name(name)] = CANONICAL_TO_SF_TYPE.get(decl.get("type") or "str", "string")
    for row in rows[:1000]:
        for key, value in row.items():
            if key in canonical:
                continue
            api = m.custom_field_api_name(key)
            if api not in names:
                names[api] = _infer_type(value)
        for key, value in (row.get("custom") or {}).items():
            api = m.custom_field_api_name(key)
            if api not in names:
                names[api] = _infer_type(value)
    return names


def _infer_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "double"
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, list):
        return "multipicklist"
    return "string"


def _sf_value(value: Any, sf_type: str) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from pyarrow
        return None
    if sf_type == "datetime":
        return m.format_datetime(value)
    if sf_type == "date":
        return m.format_date(value)
    if sf_type == "boolean":
        return bool(value)
    if sf_type in ("double", "currency", "percent"):
        return float(value)
    if sf_type == "int":
        return int(value)
    if sf_type == "multipicklist":
        return ";".join(value) if isinstance(value, (list, tuple)) else str(value)
    return str(value) if not isinstance(value, str) else value


def _customs(row: dict, table: str, custom: dict[str, str]) -> dict:
    out = {}
    values = dict(row.get("custom") or {})
    canonical = set(m.MAPPED_COLUMNS.get(table, [])) | {"tenant", "raw", "custom"}
    for key, value in row.items():
        if key not in canonical:
            values.setdefault(key, value)
    for key, value in values.items():
        api = m.custom_field_api_name(key)
        if api in custom:
            out[api] = _sf_value(value, custom[api])
    return out


def build_org(tenant: Any, as_of: datetime, options: dict) -> Org:
    """Canonical tenant -> Salesforce records (the inverse of the connector's mapping)."""
    org = Org()
    sid = org.ids
    counter = iter(range(9_000_000_000, 10_000_000_000))

    def new_id(obj: str) -> str:
        return m.to_salesforce_id(str(next(counter)), obj)

    def ref(canonical_id: Any, obj: str) -> str | None:
        if canonical_id in (None, ""):
            return None
        key = str(canonical_id)
        if key in sid:
            return sid[key]
        return m.to_salesforce_id(key, obj)

    def dt(value):
        return m.format_datetime(value)

    declared: dict[str, dict[str, dict]] = {}
    for f in _tenant_rows(tenant, "fields"):
        if f.get("is_custom"):
            declared.setdefault(f.get("object"), {})[f["name"]] = f

    cfg = {k: options.get(k, v) for k, v in m.MAPPED_CUSTOM_FIELDS.items()}

    # ---- ids first, so references resolve whatever the order (activities, which nothing
    # refers to, get theirs below: a 1M tenant's contacts and activities as Python rows
    # need not be held at once)
    contacts = _tenant_rows(tenant, "contacts")
    for row in _tenant_rows(tenant, "users"):
        sid[str(row["id"])] = m.to_salesforce_id(row["id"], "User")
    for row in _tenant_rows(tenant, "companies"):
        sid[str(row["id"])] = m.to_salesforce_id(row["id"], "Account")
    for row in contacts:
        obj = "Lead" if row.get("lifecycle_stage") == "lead" else "Contact"
        sid[str(row["id"])] = m.to_salesforce_id(row["id"], obj)
    for row in _tenant_rows(tenant, "deals"):
        sid[str(row["id"])] = m.to_salesforce_id(row["id"], "Opportunity")
    for row in _tenant_rows(tenant, "stages"):
        sid[str(row["id"])] = m.to_salesforce_id(row["id"], "OpportunityStage")
    for row in _tenant_rows(tenant, "campaigns"):
        sid[str(row["id"])] = m.to_salesforce_id(row["id"], "Campaign")
    for row in _tenant_rows(tenant, "login_events"):
        sid[str(row["id"])] = m.to_salesforce_id(row["id"], "LoginHistory")

    # ---- platform
    platform = (_tenant_rows(tenant, "platform") or [{}])[0]
    org.versions, org.api_version = salesforce_versions(platform)
    deals = _tenant_rows(tenant, "deals")
    currencies = Counter(d.get("currency") for d in deals if d.get("currency"))
    default_currency = currencies.most_common(1)[0][0] if currencies else "USD"
    org.add_object("Organization")
    org.add("Organization", {
        "Id": new_id("Organization"), "Name": str(platform.get("name") or options.get("org_name") or "Sandbox Org"),
        "OrganizationType": platform.get("edition") or "Enterprise Edition",
        "IsSandbox": True, "InstanceName": "SANDBOX1", "DefaultCurrencyIsoCode": default_currency,
        "CreatedDate": dt(as_of - timedelta(days=3650)), "LastModifiedDate": dt(as_of),
    })

    # ---- users, profiles, permission sets, MFA
    for name in ("User", "Profile", "PermissionSet", "PermissionSetAssignment", "TwoFactorMethodsInfo"):
        org.add_object(name)
    profiles: dict[str, dict] = {}
    profile_sets: dict[str, dict] = {}
    admin_set = org.add("PermissionSet", {
        "Id": new_id("PermissionSet"), "Name": "Modify_All_Data_Admins", "IsOwnedByProfile": False,
        "PermissionsModifyAllData": True, "PermissionsViewAllData": True,
        "CreatedDate": dt(as_of), "LastModifiedDate": dt(as_of)})
    for row in _tenant_rows(tenant, "users"):
        role = row.get("role")
        profile = None
        if role:
            pname = m.ROLE_TO_PROFILE.get(role, role)
            if pname not in profiles:
                profiles[pname] = org.add("Profile", {"Id": new_id("Profile"), "Name": pname,
                                                      "CreatedDate": dt(as_of), "LastModifiedDate": dt(as_of)})
                profile_sets[pname] = org.add("PermissionSet", {
                    "Id": new_id("PermissionSet"), "Name": "X00e" + pname.replace(" ", "")[:20],
                    "IsOwnedByProfile": True, "PermissionsModifyAllData": False,
                    "PermissionsViewAllData": False, "CreatedDate": dt(as_of), "LastModifiedDate": dt(as_of)})
            profile = profiles[pname]
        user_id = sid[str(row["id"])]
        org.add("User", {
            "Id": user_id, "Name": row.get("name"), "Username": row.get("email") or f"user{row['id']}@sandbox.invalid",
            "Email": row.get("email"), "IsActive": bool(row.get("is_active")),
            "LastLoginDate": dt(row.get("last_login_at")), "ProfileId": profile["Id"] if profile else None,
            "UserType": "Standard", "UserRoleId": None, "CreatedDate": dt(row.get("created_at")),
            "LastModifiedDate": dt(row.get("created_at")),
        })
        if profile:
            org.add("PermissionSetAssignment", {"Id": new_id("PermissionSetAssignment"), "AssigneeId": user_id,
                                                "PermissionSetId": profile_sets[profile["Name"]]["Id"]})
        if row.get("is_admin"):
            org.add("PermissionSetAssignment", {"Id": new_id("PermissionSetAssignment"), "AssigneeId": user_id,
                                                "PermissionSetId": admin_set["Id"]})
        if row.get("mfa_enabled") is not None:
            org.add("TwoFactorMethodsInfo", {"Id": new_id("TwoFactorMethodsInfo"), "UserId": user_id,
                                             "HasTotp": bool(row.get("mfa_enabled")), "HasSalesforceAuthenticator": False,
                                             "HasU2F": False, "HasBuiltInAuthenticator": False})

    org.add_object("LoginHistory")
    for row in _tenant_rows(tenant, "login_events"):
        org.add("LoginHistory", {
            "Id": sid[str(row["id"])], "UserId": ref(row.get("user_id"), "User"), "LoginTime": dt(row.get("at")),
            "SourceIp": row.get("ip"), "Status": m.LOGIN_SUCCESS if row.get("status") == "success" else (
                "Invalid Password" if row.get("status") else None),
            "Application": row.get("application"), "LoginType": "Application"})

    # ---- companies
    companies = _tenant_rows(tenant, "companies")
    custom = _custom_columns(companies, "companies", declared.get("companies", {}))
    org.add_object("Account", custom, extra=[cfg["source_detail_field"]])
    org.fields["Account"][cfg["source_detail_field"]]["custom"] = True
    for row in companies:
        org.add("Account", {
            "Id": sid[str(row["id"])], "Name": row.get("name"), "Website": row.get("domain"),
            "Industry": row.get("industry"), "Phone": row.get("phone"), "BillingStreet": row.get("street"),
            "BillingCity": row.get("city"), "BillingState": row.get("state"),
            "BillingPostalCode": row.get("postal_code"), "BillingCountry": row.get("country"),
            "OwnerId": ref(row.get("owner_id"), "User"), "AccountSource": m.SOURCE_TO_PICKLIST.get(row.get("source")),
            cfg["source_detail_field"]: row.get("source_detail"),
            "CreatedDate": dt(row.get("created_at")), "LastModifiedDate": dt(row.get("updated_at")),
            "LastActivityDate": None, **_customs(row, "companies", custom)})

    # ---- contacts and leads
    custom = _custom_columns(contacts, "contacts", declared.get("contacts", {}))
    helper = [cfg["lifecycle_field"], cfg["lead_status_field"], cfg["segments_field"], cfg["source_detail_field"]]
    org.add_object("Contact", custom, extra=helper)
    org.add_object("Lead", custom, extra=[cfg["segments_field"], cfg["source_detail_field"], cfg["lead_account_field"]])
    org.fields["Lead"][cfg["lead_account_field"]].update(custom=True, type="reference")
    for obj in ("Contact", "Lead"):
        for h in helper:
            if h in org.fields[obj]:
                org.fields[obj][h]["custom"] = True
                org.fields[obj][h]["type"] = "multipicklist" if h == cfg["segments_field"] else "picklist"
    companies_by_id = {str(c["id"]): c for c in companies}
    for row in contacts:
        common = {
            "Id": sid[str(row["id"])], "FirstName": row.get("first_name"), "LastName": row.get("last_name"),
            "Email": row.get("email"), "Phone": row.get("phone"), "Title": row.get("title"),
            "OwnerId": ref(row.get("owner_id"), "User"), "LeadSource": m.SOURCE_TO_PICKLIST.get(row.get("source")),
            "IsEmailBounced": bool(row.get("email_bounced")),
            "CreatedDate": dt(row.get("created_at")), "LastModifiedDate": dt(row.get("updated_at")),
            "LastActivityDate": m.format_date(row.get("last_activity_at")),
            cfg["segments_field"]: _sf_value(row.get("segments") or None, "multipicklist"),
            cfg["source_detail_field"]: row.get("source_detail"),
            **_customs(row, "contacts", custom),
        }
        if common["Id"].startswith(m.KEY_PREFIXES["Lead"]):
            company = row.get("company_name") or (companies_by_id.get(str(row.get("company_id"))) or {}).get("name")
            org.add("Lead", {**common, "Company": company, "Status": row.get("lead_status"),
                             "Street": row.get("street"), "City": row.get("city"), "State": row.get("state"),
                             "PostalCode": row.get("postal_code"), "Country": row.get("country"),
                             "IsConverted": False, "ConvertedContactId": None,
                             cfg["lead_account_field"]: ref(row.get("company_id"), "Account")})
        else:
            org.add("Contact", {**common, "AccountId": ref(row.get("company_id"), "Account"),
                                "MailingStreet": row.get("street"), "MailingCity": row.get("city"),
                                "MailingState": row.get("state"), "MailingPostalCode": row.get("postal_code"),
                                "MailingCountry": row.get("country"), cfg["lifecycle_field"]: row.get("lifecycle_stage"),
                                cfg["lead_status_field"]: row.get("lead_status")})
    del contacts, companies, companies_by_id

    # ---- stages, record types (pipelines), opportunities
    org.add_object("OpportunityStage")
    for row in _tenant_rows(tenant, "stages"):
        if any(s["ApiName"] == row.get("name") for s in org.records["OpportunityStage"]):
            continue  # Salesforce stage names are org-wide
        org.add("OpportunityStage", {
            "Id": sid[str(row["id"])], "MasterLabel": row.get("name"), "ApiName": row.get("name"),
            "SortOrder": row.get("position"), "IsActive": True, "IsClosed": bool(row.get("is_closed")),
            "IsWon": bool(row.get("is_won"))})
    org.add_object("RecordType")
    record_types: dict[str, dict] = {}
    for row in deals:
        p = row.get("pipeline")
        if p and p not in record_types:
            record_types[p] = org.add("RecordType", {"Id": new_id("RecordType"), "Name": p,
                                                     "DeveloperName": re.sub(r"\W", "_", str(p)),
                                                     "SobjectType": "Opportunity", "IsActive": True,
                                                     "CreatedDate": dt(as_of), "LastModifiedDate": dt(as_of)})
    custom = _custom_columns(deals, "deals", declared.get("deals", {}))
    extra = [cfg["loss_reason_field"]]
    if record_types:
        extra.append("RecordTypeId")
    if len(currencies) > 1:
        extra.append("CurrencyIsoCode")
    org.add_object("Opportunity", custom, extra=extra)
    org.fields["Opportunity"][cfg["loss_reason_field"]].update(custom=True, type="picklist")
    stage_names = {str(s["id"]): s.get("name") for s in _tenant_rows(tenant, "stages")}
    for row in deals:
        rec = {
            "Id": sid[str(row["id"])], "Name": row.get("name"), "Amount": row.get("amount"),
            "StageName": stage_names.get(str(row.get("stage")), row.get("stage")),
            "IsClosed": bool(row.get("is_closed")), "IsWon": bool(row.get("is_won")),
            "CloseDate": m.format_date(row.get("close_date")), "OwnerId": ref(row.get("owner_id"), "User"),
            "AccountId": ref(row.get("company_id"), "Account"), "ContactId": ref(row.get("contact_id"), "Contact"),
            "LeadSource": m.SOURCE_TO_PICKLIST.get(row.get("source")), "CreatedDate": dt(row.get("created_at")),
            "LastModifiedDate": dt(row.get("updated_at")), "LastActivityDate": m.format_date(row.get("last_activity_at")),
            cfg["loss_reason_field"]: row.get("lost_reason"), **_customs(row, "deals", custom),
        }
        if record_types:
            rec["RecordTypeId"] = record_types[row["pipeline"]]["Id"] if row.get("pipeline") else None
        if "CurrencyIsoCode" in extra:
            rec["CurrencyIsoCode"] = row.get("currency")
        org.add("Opportunity", rec)

    # ---- activities
    del deals
    activities = _tenant_rows(tenant, "activities")
    for row in activities:
        sid[str(row["id"])] = m.to_salesforce_id(row["id"], "Event" if _is_event(row, as_of) else "Task")
    custom = _custom_columns(activities, "activities", declared.get("activities", {}))
    org.add_object("Task", custom)
    org.add_object("Event", custom)
    for row in activities:
        ident = sid[str(row["id"])]
        deal = ref(row.get("deal_id"), "Opportunity")
        account = ref(row.get("company_id"), "Account")
        base = {
            "Id": ident, "Subject": row.get("subject"), "OwnerId": ref(row.get("owner_id"), "User"),
            "WhoId": ref(row.get("contact_id"), "Contact"), "WhatId": deal or account, "AccountId": account,
            "CreatedDate": dt(row.get("created_at")), "LastModifiedDate": dt(row.get("created_at")),
            **_customs(row, "activities", custom),
        }
        if ident.startswith(m.KEY_PREFIXES["Event"]):
            end = row.get("completed_at") if row.get("is_done") else row.get("due_at")
            org.add("Event", {**base, "EventSubtype": "Event", "Type": "Meeting",
                              "StartDateTime": dt(row.get("due_at")), "EndDateTime": dt(end)})
        else:
            kind = row.get("type") or "task"
            org.add("Task", {**base, "TaskSubtype": m.TASK_SUBTYPES.get(kind, "Task"), "Type": m.TASK_TYPES.get(kind),
                             "ActivityDate": m.format_date(row.get("due_at")), "IsClosed": bool(row.get("is_done")),
                             "Status": "Completed" if row.get("is_done") else "Not Started",
                             "CompletedDateTime": dt(row.get("completed_at"))})

    # ---- campaigns
    org.add_object("Campaign")
    for row in _tenant_rows(tenant, "campaigns"):
        org.add("Campaign", {
            "Id": sid[str(row["id"])], "Name": row.get("name"), "Type": row.get("type"), "Status": "Completed",
            "IsActive": False, "NumberSent": _sf_value(row.get("sent"), "double"),
            "NumberOfResponses": _sf_value(row.get("responses"), "int"), "NumberOfLeads": 0, "NumberOfContacts": 0,
            "StartDate": m.format_date(row.get("started_at")), "EndDate": None,
            "CreatedDate": dt(row.get("started_at")), "LastModifiedDate": dt(row.get("started_at"))})
    return org


def _is_event(row: dict, as_of: datetime) -> bool:
    """A meeting is served as an Event when an Event can say the same thing (an Event is
    done once it has ended); otherwise it is a Task of type Meeting."""
    if row.get("type") != "meeting" or row.get("due_at") is None:
        return False
    due = m.parse_datetime(row.get("due_at"))
    if row.get("is_done"):
        done_at = m.parse_datetime(row.get("completed_at"))
        return done_at is not None and done_at < as_of
    return due >= as_of


# ------------------------------------------------------------------- SOQL


class SoqlError(Exception):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+ORDER\s+BY\s+(?P<order>[\w.]+)(?:\s+(?P<dir>ASC|DESC))?(?:\s+NULLS\s+(?:FIRST|LAST))?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_COND = re.compile(
    r"\s*(?P<field>[\w.]+)\s*(?P<op>=|!=|<>|<=|>=|<|>|\s+NOT\s+IN\s+|\s+IN\s+)\s*"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\([^)]*\)|[^\s)]+)\s*",
    re.IGNORECASE,
)
_DATETIME_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")
_DATE_LITERAL = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Soql:
    fields: list[str]
    object: str
    conditions: list[tuple[str, str, Any]]
    joiner: str
    order: tuple[str, bool] | None
    limit: int | None
    count: bool = False


def _literal(text: str) -> Any:
    t = text.strip()
    if t.startswith("("):
        return [_literal(p) for p in t[1:-1].split(",") if p.strip()]
    if t.startswith("'"):
        return t[1:-1].replace("\\'", "'")
    low = t.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "null":
        return None
    if _DATETIME_LITERAL.match(t) or _DATE_LITERAL.match(t):
        return m.parse_datetime(t)
    try:
        return float(t)
    except ValueError:
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{t}'") from None


def parse_soql(text: str, org: Org) -> Soql:
    if len(text) > MAX_SOQL_LENGTH:
        raise SoqlError("MALFORMED_QUERY", f"Query string is longer than {MAX_SOQL_LENGTH} characters")
    match = _SOQL.match(text)
    if not match:
        raise SoqlError("MALFORMED_QUERY", "unexpected token: the sandbox understands "
                        "SELECT fields FROM object [WHERE ...] [ORDER BY field] [LIMIT n]")
    obj = match["object"]
    if obj not in org.fields:
        raise SoqlError("INVALID_TYPE", f"sObject type '{obj}' is not supported. If you are attempting to use a "
                        "custom object, be sure to append the '__c' after the entity name.")
    raw_fields = [f.strip() for f in match["fields"].split(",")]
    count = len(raw_fields) == 1 and raw_fields[0].lower() == "count()"
    fields = [] if count else raw_fields
    for f in fields + ([match["order"]] if match["order"] else []):
        _check_field(org, obj, f)
    conditions: list[tuple[str, str, Any]] = []
    joiner = "AND"
    where = match["where"]
    if where:
        pos, joiners = 0, set()
        while True:
            cond = _COND.match(where, pos)
            if not cond:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token in WHERE: '{where[pos:pos + 30]}'")
            _check_field(org, obj, cond["field"])
            conditions.append((cond["field"], cond["op"].strip().upper(), _literal(cond["value"])))
            pos = cond.end()
            if pos >= len(where):
                break
            j = re.match(r"(AND|OR)\s+", where[pos:], re.IGNORECASE)
            if not j:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token in WHERE: '{where[pos:pos + 30]}'")
            joiners.add(j[1].upper())
            pos += j.end()
        if len(joiners) > 1:
            raise SoqlError("MALFORMED_QUERY", "the sandbox does not mix AND and OR without parentheses")
        joiner = joiners.pop() if joiners else "AND"
    order = (match["order"], (match["dir"] or "ASC").upper() == "DESC") if match["order"] else None
    limit = int(match["limit"]) if match["limit"] else None
    return Soql(fields, obj, conditions, joiner, order, limit, count)


def _check_field(org: Org, obj: str, name: str) -> None:
    if "." in name:
        rel, _, target = name.partition(".")
        ref_field = rel + "Id"
        if ref_field in org.fields[obj] and re.match(r"^\w+$", target):
            return
    elif name in org.fields[obj]:
        return
    raise SoqlError("INVALID_FIELD", f"\nSELECT {name} FROM {obj}\n       ^\nERROR at Row:1:Column:8\n"
                    f"No such column '{name}' on entity '{obj}'. If you are attempting to use a custom field, be "
                    "sure to append the '__c' after the custom field name. Please reference your WSDL or the "
                    "describe call for the appropriate names.")


def _value(org: Org, record: dict, name: str) -> Any:
    if "." in name:
        rel, _, target = name.partition(".")
        parent = org.by_id.get(record.get(rel + "Id") or "")
        return None if parent is None else parent.get(target)
    return record.get(name)


def _comparable(value: Any, like: Any) -> Any:
    if isinstance(like, datetime):
        return m.parse_datetime(value)
    if isinstance(like, float) and value is not None and not isinstance(value, bool):
        return float(value)
    return value


def _matches(org: Org, record: dict, q: Soql) -> bool:
    results = []
    for name, op, lit in q.conditions:
        value = _value(org, record, name)
        if op in ("IN", "NOT IN"):
            hit = value in lit
            results.append(hit if op == "IN" else not hit)
            continue
        if lit is None or value is None:
            eq = (value is None) == (lit is None) and value == lit
            results.append(eq if op == "=" else (not eq if op in ("!=", "<>") else False))
            continue
        left = _comparable(value, lit)
        try:
            results.append({"=": left == lit, "!=": left != lit, "<>": left != lit, "<": left < lit,
                            ">": left > lit, "<=": left <= lit, ">=": left >= lit}[op])
        except TypeError:
            results.append(False)
    return all(results) if q.joiner == "AND" else any(results)


def run_soql(org: Org, q: Soql) -> list[dict]:
    rows = [r for r in org.records[q.object] if not q.conditions or _matches(org, r, q)]
    if q.order:
        name, desc = q.order
        rows.sort(key=lambda r: (_value(org, r, name) is None, str(_value(org, r, name) or "")), reverse=desc)
    if q.limit is not None:
        rows = rows[: q.limit]
    return rows


def rest_record(org: Org, record: dict, q: Soql, version: str) -> dict:
    out: dict[str, Any] = {"attributes": {"type": q.object, "url": f"/services/data/v{version}/sobjects/{q.object}/{record['Id']}"}}
    for name in q.fields:
        if "." in name:
            rel, _, target = name.partition(".")
            parent = org.by_id.get(record.get(rel + "Id") or "")
            if parent is None:
                out[rel] = None
            else:
                ptype = m.sobject_of(parent["Id"]) or rel
                nested = out.get(rel) or {"attributes": {"type": ptype, "url": f"/services/data/v{version}/sobjects/{ptype}/{parent['Id']}"}}
                nested[target] = parent.get(target)
                out[rel] = nested
        else:
            out[name] = record.get(name)
    return out


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
        if re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$", text):
            text = text[:-5] + "Z"  # Bulk CSV datetimes end in Z
    return '"' + text.replace('"', '""') + '"'


# ------------------------------------------------------------------ server


def _error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    body = json.dumps([{"message": message, "errorCode": code}])
    return Response(body, status=status, content_type="application/json;charset=UTF-8", headers=headers or {})


class SalesforceSandbox:
    """The WSGI app: state, request log, faults, limits."""

    def __init__(self, org: Org, token: str, *, rate_limit=None, daily_limit: int = 100_000, api_used: int = 0,
                 slow_seconds: float = 2.0, bulk_in_progress_polls: int = 0, login_history: bool = True,
                 mfa_info: bool = True, username: str = "auditor@sandbox.invalid", password: str = "sandbox-password",
                 security_token: str = "sandbox-security-token", consumer_key: str = "sandbox-consumer-key",
                 record_counts: dict[str, int] | None = None, record_count_access: bool = True,
                 limit_info_on_refusal: bool = True):
        self.org = org
        self.tokens = {token}
        self.requests: list[dict] = []
        self.faults: list[dict] = []
        self.lock = threading.Lock()
        if isinstance(rate_limit, (int, float)):
            rate_limit = (int(rate_limit), 1.0)
        self.rate_limit = rate_limit
        self.window: deque[float] = deque()
        self.daily_limit = daily_limit
        self.api_used = api_used
        self.slow_seconds = slow_seconds
        self.bulk_in_progress_polls = bulk_in_progress_polls
        self.unavailable = set()
        if not login_history:
            self.unavailable.add("LoginHistory")
        if not mfa_info:
            self.unavailable.add("TwoFactorMethodsInfo")
        self.cursors: dict[str, tuple[list[dict], Soql, str]] = {}
        self.jobs: dict[str, dict] = {}
        self.credentials = {"username": username, "password": password, "security_token": security_token,
                            "consumer_key": consumer_key}
        self.public_key = None  # PEM for JWT bearer checks, set by start_sandbox when given
        # limits/recordCount serves a cached snapshot, like Salesforce's (refreshed "at
        # variable time intervals"): taken now, overridable, moved only by refresh_record_counts()
        self.record_counts: dict[str, int] = {n: len(rows) for n, rows in org.records.items()}
        self.record_counts.update(record_counts or {})
        if not record_count_access:
            self.unavailable.add("recordCount")
        self._spend_after: int | None = None
        self.limit_info_on_refusal = limit_info_on_refusal  # Sforce-Limit-Info on the quota's 403

    # -- faults
    def inject(self, kind: str, times: int = 1, path_contains: str | None = None, *, after: int = 0,
               sobject: str | None = None) -> None:
        """The next ``times`` matching requests fail with ``kind``. Salesforce extras:
        ``after``: let that many matching requests through first; ``sobject``: match only
        query / queryMore / Bulk requests on that object (e.g. ``"Contact"``)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.append({"kind": kind, "times": times, "path_contains": path_contains, "after": after,
                                "sobject": sobject})

    def _object_of(self, request: Request) -> str | None:
        """The object a query, queryMore or Bulk request reads (for ``inject(sobject=)``)."""
        soql = request.args.get("q")
        if soql:
            found = re.search(r"\bFROM\s+(\w+)", soql, re.IGNORECASE)
            return found[1] if found else None
        tail = request.path.rstrip("/").rsplit("/", 1)[-1]
        if "-" in tail and tail.rpartition("-")[0] in self.cursors:
            return self.cursors[tail.rpartition("-")[0]][1].object
        job = re.search(r"/jobs/query/(\w+)", request.path)
        if job and job[1] in self.jobs:
            return self.jobs[job[1]]["soql"].object
        return None

    def _take_fault(self, path: str, sobject: str | None = None) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault["times"] > 0 and (not fault["path_contains"] or fault["path_contains"] in path) and (
                        not fault.get("sobject") or fault["sobject"] == sobject):
                    if fault.get("after", 0) > 0:
                        fault["after"] -= 1
                        continue
                    fault["times"] -= 1
                    kind = fault["kind"]
                    self.faults = [f for f in self.faults if f["times"] > 0]
                    return kind
        return None

    # -- WSGI
    def __call__(self, environ, start_response):
        request = Request(environ)
        entry = {"method": request.method, "path": request.path,
                 "query": {k: v for k, v in request.args.items()}, "status": None}
        try:
            response = self.handle(request, environ, entry)
        except _Dropped:
            entry["status"] = 0
            self._log(entry)
            raise ConnectionResetError("sandbox dropped the connection")
        entry["status"] = response.status_code
        self._log(entry)
        return response(environ, start_response)

    def _log(self, entry: dict) -> None:
        with self.lock:
            self.requests.append(entry)

    def handle(self, request: Request, environ, entry) -> Response:
        path = request.path
        uri_length = len(environ.get("REQUEST_URI") or environ.get("RAW_URI") or "") or (
            len(path) + len(environ.get("QUERY_STRING", "")) + 1)
        fault = self._take_fault(path, self._object_of(request) if any(f.get("sobject") for f in self.faults) else None)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        elif fault == "drop":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            raise _Dropped()
        elif fault == "429":
            # the transient throttle (retry it); the spent daily allowance is _count_call's
            return _error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded.")
        elif fault == "500":
            return _error(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if "
                          "you contact support: 1234567890-12345 (-1234567890)")
        elif fault == "503":
            return _error(503, "SERVER_UNAVAILABLE", "Server unavailable: too many requests")
        elif fault == "expire-token":
            with self.lock:
                self.tokens.clear()

        if uri_length > MAX_URL_LENGTH:
            return _error(414, "URI_TOO_LONG", f"The request URI is longer than {MAX_URL_LENGTH} characters")
        if path.rstrip("/") == "/services/data":
            response = self._versions()
        elif path == "/services/oauth2/token" and request.method == "POST":
            response = self._oauth_token(request)
        elif path.startswith("/services/Soap/u/") and request.method == "POST":
            response = self._soap_login(request, path)
        else:
            match = re.match(r"^/services/data/v(\d+\.\d)/(.*)$", path)
            if not match:
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            version, rest = match[1], match[2]
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.tokens:
                return _error(401, "INVALID_SESSION_ID", "Session expired or invalid",
                              headers={"WWW-Authenticate": "Token"})
            if version not in self.org.versions:
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            limited = self._count_call()
            if limited is not None:
                return limited
            response = self._api(request, version, rest, entry)
            response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.daily_limit}"
        if fault == "malformed":
            response = Response('{"totalSize": 3, "done": tru', status=200,
                                content_type=response.content_type, headers=dict(response.headers))
            response.headers.pop("Content-Length", None)
        elif fault == "truncated":
            body = response.get_data()
            cut = body[: max(1, len(body) // 2)]
            headers = dict(response.headers)
            response = Response(cut, status=response.status_code, headers=headers)
            response.headers["Content-Length"] = str(len(body))
        return response

    def _count_call(self) -> Response | None:
        with self.lock:
            now = time.monotonic()
            if self.rate_limit:
                calls, per = self.rate_limit
                while self.window and now - self.window[0] >= per:
                    self.window.popleft()
                if len(self.window) >= calls:
                    return _error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
                self.window.append(now)
            if self._spend_after is not None:
                if self._spend_after <= 0:
                    self.api_used, self._spend_after = max(self.api_used, self.daily_limit), None
                else:
                    self._spend_after -= 1
            if self.api_used >= self.daily_limit:
                headers = {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.daily_limit}"}
                return _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.",
                              headers=headers if self.limit_info_on_refusal else None)
            self.api_used += 1
        return None

    def _versions(self) -> Response:
        body = [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in self.org.versions]
        return Response(json.dumps(body), content_type="application/json;charset=UTF-8")

    def _json(self, body: Any, status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json;charset=UTF-8")

    def _api(self, request: Request, version: str, rest: str, entry: dict) -> Response:
        method = request.method
        parts = rest.rstrip("/").split("/")
        try:
            if method == "GET" and parts[0] in ("query", "queryAll") and len(parts) == 1:
                soql = request.args.get("q", "")
                entry["soql"] = soql
                q = parse_soql(soql, self.org)
                return self._query(q, version, request, entry)
            if method == "GET" and parts[0] in ("query", "queryAll") and len(parts) == 2:
                return self._query_more(parts[1], version, entry)
            if method == "GET" and len(parts) == 3 and parts[0] == "sobjects" and parts[2] == "deleted":
                return self._get_deleted(parts[1], request)
            if method == "GET" and parts == ["sobjects"]:
                return self._describe_global(version)
            if method == "GET" and len(parts) == 3 and parts[0] == "sobjects" and parts[2] == "describe":
                return self._describe(parts[1], version)
            if method == "GET" and parts == ["limits"]:
                return self._limits()
            if method == "GET" and parts == ["limits", "recordCount"]:
                return self._record_count(request, version)
            if parts[:2] == ["jobs", "query"]:
                return self._bulk(request, version, parts[2:], entry)
        except SoqlError as exc:
            return _error(exc.status, exc.code, exc.message)
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _check_access(self, obj: str) -> None:
        if obj in self.unavailable:
            raise SoqlError("INSUFFICIENT_ACCESS", f"insufficient access rights on object {obj}", status=403)

    def _query(self, q: Soql, version: str, request: Request, entry: dict | None = None) -> Response:
        self._check_access(q.object)
        rows = run_soql(self.org, q)
        if q.count:
            return self._json({"totalSize": len(rows), "done": True, "records": []})
        batch = DEFAULT_BATCH
        opts = request.headers.get("Sforce-Query-Options", "")
        found = re.search(r"batchSize\s*=\s*(\d+)", opts)
        if found:
            batch = min(MAX_BATCH, max(MIN_BATCH, int(found[1])))
        locator = "01g" + uuid.uuid4().hex[:15]
        with self.lock:
            self.cursors[locator] = (rows, q, str(batch))
        return self._page(locator, 0, version, entry)

    def _page(self, locator: str, offset: int, version: str, entry: dict | None = None) -> Response:
        rows, q, batch = self.cursors[locator]
        size = int(batch)
        chunk = rows[offset : offset + size]
        if entry is not None:  # the request log says what each page served
            entry.update(object=q.object, records=len(chunk), offset=offset)
        body: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows),
                                "records": [rest_record(self.org, r, q, version) for r in chunk]}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{offset + size}"
        return self._json(body)

    def _query_more(self, token: str, version: str, entry: dict | None = None) -> Response:
        locator, _, offset = token.rpartition("-")
        if locator not in self.cursors or not offset.isdigit():
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(locator, int(offset), version, entry)

    def _get_deleted(self, name: str, request: Request) -> Response:
        """``sobjects/{Name}/deleted/?start=&end=``: the delete log of the last 15 days."""
        if name not in self.org.fields:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        start, end = m.parse_datetime(request.args.get("start")), m.parse_datetime(request.args.get("end"))
        if start is None or end is None or end < start:
            return _error(400, "INVALID_REPLICATION_DATE", "start and end must be date-times, start before end")
        start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
        now = datetime.now(UTC)
        earliest = now - timedelta(days=15)
        if self.org.purged_until is not None and self.org.purged_until > earliest:
            earliest = self.org.purged_until
        with self.lock:
            found = [{"id": rid, "deletedDate": m.format_datetime(when)}
                     for rid, when in self.org.deleted.get(name, []) if start <= when <= end + timedelta(minutes=1)]
        return self._json({"deletedRecords": found, "earliestDateAvailable": m.format_datetime(earliest),
                           "latestDateCovered": m.format_datetime(min(end, now))})

    # -- changing the org between audits (tests of incremental audits)
    def _resolve(self, record_id: str) -> dict:
        sf_id = self.org.ids.get(str(record_id), str(record_id))
        record = self.org.by_id.get(sf_id)
        if record is None:
            raise KeyError(f"no record {record_id!r} in the sandbox org")
        return record

    def update_record(self, record_id: str, when: datetime | None = None, **values) -> str:
        """Change fields of a record (a Salesforce or canonical id); its LastModifiedDate
        and SystemModstamp move to ``when`` (default now). Returns the Salesforce id."""
        stamp = m.format_datetime(when or datetime.now(UTC))
        with self.lock:
            record = self._resolve(record_id)
            record.update(values, LastModifiedDate=stamp, SystemModstamp=stamp)
        return record["Id"]

    def add_record(self, sobject: str, when: datetime | None = None, **values) -> str:
        """Create a record of ``sobject``; returns its new Salesforce id."""
        stamp = m.format_datetime(when or datetime.now(UTC))
        with self.lock:
            self._added = getattr(self, "_added", 0) + 1
            canonical = str(8_000_000_000 + self._added)
            sf_id = m.to_salesforce_id(canonical, sobject)
            base = {f: None for f in self.org.fields[sobject]}
            self.org.add(sobject, {**base, **values, "Id": sf_id, "CreatedDate": stamp, "LastModifiedDate": stamp,
                                   "SystemModstamp": stamp})
            self.org.ids[canonical] = sf_id
        return sf_id

    def delete_record(self, record_id: str, when: datetime | None = None) -> str:
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

    def _describe_global(self, version: str) -> Response:
        sobjects = [{"name": n, "label": _label(n), "keyPrefix": m.KEY_PREFIXES.get(n), "custom": False,
                     "queryable": True, "createable": False, "updateable": False, "deletable": False,
                     "urls": {"sobject": f"/services/data/v{version}/sobjects/{n}",
                              "describe": f"/services/data/v{version}/sobjects/{n}/describe"}}
                    for n in sorted(self.org.fields)]
        return self._json({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    def _describe(self, name: str, version: str) -> Response:
        if name not in self.org.fields:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        fields = [{**f, "nillable": f["name"] != "Id", "createable": f["name"] != "Id", "updateable": True,
                   "calculated": False, "length": 255 if f["type"] == "string" else 0, "picklistValues": [],
                   "referenceTo": [], "relationshipName": f["name"][:-2] if f["type"] == "reference" else None}
                  for f in self.org.fields[name].values()]
        return self._json({"name": name, "label": _label(name), "custom": False, "queryable": True,
                           "keyPrefix": m.KEY_PREFIXES.get(name), "fields": fields, "childRelationships": [],
                           "recordTypeInfos": [], "urls": {"describe": f"/services/data/v{version}/sobjects/{name}/describe"}})

    def _limits(self) -> Response:
        return self._json({
            "DailyApiRequests": {"Max": self.daily_limit, "Remaining": self.daily_limit - self.api_used},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - len(self.jobs)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
            "FileStorageMB": {"Max": 1024, "Remaining": 1000},
        })

    def _record_count(self, request: Request, version: str) -> Response:
        """``limits/recordCount``: approximate counts; objects not in the org are left out."""
        if float(version) < 40.0:  # "available in REST API version 40.0 and later"
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        if "recordCount" in self.unavailable:
            return _error(403, "INSUFFICIENT_ACCESS", "insufficient access rights: View Setup and Configuration "
                          "is required")
        wanted = request.args.get("sObjects")
        names = [n.strip() for n in wanted.split(",") if n.strip()] if wanted else sorted(self.org.fields)
        with self.lock:
            found = [{"count": self.record_counts.get(n, 0), "name": n} for n in names if n in self.org.fields]
        return self._json({"sObjects": found})

    def refresh_record_counts(self) -> None:
        """Salesforce recomputing its cached record counts (limits/recordCount)."""
        with self.lock:
            self.record_counts = {n: len(rows) for n, rows in self.org.records.items()}

    def spend_daily_allowance(self, after: int = 0) -> None:
        """Other integrations spend the rest of the daily allowance once ``after`` more
        counted calls have been answered: from then on every call gets 403
        ``REQUEST_LIMIT_EXCEEDED`` "TotalRequests Limit exceeded."."""
        with self.lock:
            self._spend_after = after

    # -- Bulk 2.0
    def _bulk(self, request: Request, version: str, parts: list[str], entry: dict) -> Response:
        if request.method == "POST" and not parts:
            try:
                body = json.loads(request.get_data() or b"{}")
            except ValueError:
                return _error(400, "JSON_PARSER_ERROR", "malformed JSON body")
            soql = body.get("query") or ""
            entry["soql"] = soql
            q = parse_soql(soql, self.org)
            self._check_access(q.object)
            rows = run_soql(self.org, q)
            job_id = "750" + uuid.uuid4().hex[:15]
            now = m.format_datetime(datetime.now(UTC))
            job = {"id": job_id, "operation": body.get("operation", "query"), "object": q.object,
                   "createdById": "005000000000000AAA", "createdDate": now, "systemModstamp": now,
                   "state": "UploadComplete", "concurrencyMode": "Parallel", "contentType": "CSV",
                   "apiVersion": float(version), "lineEnding": body.get("lineEnding", "LF"),
                   "columnDelimiter": body.get("columnDelimiter", "COMMA")}
            with self.lock:
                self.jobs[job_id] = {"info": job, "rows": rows, "soql": q, "polls": 0, "version": version}
            return self._json(job)
        if not parts or parts[0] not in self.jobs:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        job = self.jobs[parts[0]]
        if job["version"] != version:
            return _error(409, "INVALIDJOBSTATE", f"job was created with API version {job['version']}")
        if request.method == "GET" and len(parts) == 1:
            job["polls"] += 1
            done = job["polls"] > self.bulk_in_progress_polls
            info = {**job["info"], "state": "JobComplete" if done else "InProgress", "jobType": "V2Query",
                    "numberRecordsProcessed": len(job["rows"]) if done else 0, "retries": 0,
                    "totalProcessingTime": 10}
            return self._json(info)
        if request.method == "GET" and len(parts) == 2 and parts[1] == "results":
            if job["polls"] <= self.bulk_in_progress_polls:
                return _error(400, "INVALIDJOBSTATE", "job is not complete")
            max_records = int(request.args.get("maxRecords") or DEFAULT_BULK_PAGE)
            locator = request.args.get("locator")
            offset = int(base64.b64decode(locator).decode()) if locator else 0
            chunk = job["rows"][offset : offset + max_records]
            entry.update(object=job["soql"].object, records=len(chunk), offset=offset)
            q: Soql = job["soql"]
            out = io.StringIO()
            out.write(",".join(f'"{f}"' for f in q.fields) + "\n")
            for r in chunk:
                out.write(",".join(_csv_cell(_value(self.org, r, f)) for f in q.fields) + "\n")
            nxt = offset + max_records
            next_locator = base64.b64encode(str(nxt).encode()).decode() if nxt < len(job["rows"]) else "null"
            return Response(out.getvalue(), content_type="text/csv",
                            headers={"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(len(chunk))})
        if request.method in ("PATCH", "DELETE"):
            return self._json(job["info"])
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    # -- logins (password SOAP, OAuth JWT bearer and password grants)
    def _new_session(self) -> str:
        token = "00D" + uuid.uuid4().hex
        with self.lock:
            self.tokens.add(token)
        return token

    def _oauth_token(self, request: Request) -> Response:
        grant = request.form.get("grant_type", "")
        ok = False
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            ok = self._check_jwt(request.form.get("assertion", ""))
        elif grant == "password":
            c = self.credentials
            ok = (request.form.get("username") == c["username"] and request.form.get("client_id") == c["consumer_key"]
                  and request.form.get("password") in (c["password"], c["password"] + c["security_token"]))
        if not ok:
            return Response(json.dumps({"error": "invalid_grant", "error_description": "authentication failure"}),
                            status=400, content_type="application/json")
        host = request.host
        return self._json({"access_token": self._new_session(), "instance_url": f"https://{host}",
                           "id": f"https://{host}/id/00D/005", "token_type": "Bearer", "scope": "api",
                           "issued_at": str(int(time.time() * 1000)), "signature": "sandbox"})

    def _check_jwt(self, assertion: str) -> bool:
        try:
            import jwt

            claims = jwt.decode(assertion, self.public_key, algorithms=["RS256"],
                                audience=None, options={"verify_aud": False, "verify_signature": bool(self.public_key)})
        except Exception:
            return False
        return claims.get("sub") == self.credentials["username"] and claims.get("iss") == self.credentials["consumer_key"]

    def _soap_login(self, request: Request, path: str) -> Response:
        body = request.get_data(as_text=True)
        user = re.search(r"<(?:n1|urn):username>(.*?)</(?:n1|urn):username>", body)
        password = re.search(r"<(?:n1|urn):password>(.*?)</(?:n1|urn):password>", body)
        c = self.credentials
        import html

        if not user or not password or html.unescape(user[1]) != c["username"] or \
                html.unescape(password[1]) != c["password"] + c["security_token"]:
            fault = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
                     'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault><faultcode>sf:INVALID_LOGIN</faultcode>'
                     '<faultstring>INVALID_LOGIN: Invalid username, password, security token; or user locked out.</faultstring>'
                     '<detail><sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>'
                     'Invalid username, password, security token; or user locked out.</sf:exceptionMessage></sf:LoginFault>'
                     '</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>')
            return Response(fault, status=500, content_type="text/xml")
        host = request.host
        version = path.rsplit("/", 1)[-1]
        ok = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
              'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
              f'<serverUrl>https://{host}/services/Soap/u/{version}/00D</serverUrl>'
              f'<sessionId>{self._new_session()}</sessionId><userId>005000000000000AAA</userId>'
              '</result></loginResponse></soapenv:Body></soapenv:Envelope>')
        return Response(ok, content_type="text/xml")


class _Dropped(Exception):
    pass


class _QuietHandler(WSGIRequestHandler):
    """The request log is ``handle.requests``; keep stderr clean."""

    def log_request(self, *args, **kwargs) -> None:
        pass

    def log(self, *args, **kwargs) -> None:
        pass


def start_sandbox(tenant: Any, *, token: str = "sandbox-token", rate_limit=None, as_of=None, **kwargs) -> SandboxHandle:
    """Serve ``tenant`` as a Salesforce org over HTTPS on 127.0.0.1 (ephemeral port).

    Keyword options: ``rate_limit`` (calls per second, or ``(calls, seconds)``; over it a
    403 ``REQUEST_LIMIT_EXCEEDED``), ``daily_limit`` / ``api_used`` (``Sforce-Limit-Info``),
    ``slow_seconds`` (the "slow" fault), ``bulk_in_progress_polls`` (job-info polls that
    answer ``InProgress``), ``login_history=False`` / ``mfa_info=False`` /
    ``record_count_access=False`` (the audit user lacks the permission), ``record_counts``
    (object -> the count ``limits/recordCount`` reports, e.g. stale ones),
    ``limit_info_on_refusal=False`` (the daily allowance's 403 without ``Sforce-Limit-Info``), ``username``/``password``/``security_token``/``consumer_key``/
    ``public_key`` (login emulation), and connector options to pass through
    (``connector_options``).
    """
    import trustme

    when = _tenant_as_of(tenant, as_of)
    connector_options = dict(kwargs.pop("connector_options", {}) or {})
    org = build_org(tenant, when, connector_options)
    public_key = kwargs.pop("public_key", None)
    app = SalesforceSandbox(org, token, rate_limit=rate_limit, **kwargs)
    app.public_key = public_key

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    folder = tempfile.mkdtemp(prefix="crm-audit-sf-sandbox-")
    ca_path = os.path.join(folder, "ca.pem")
    ca.cert_pem.write_to_path(ca_path)

    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context,
                         request_handler=_QuietHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="salesforce-sandbox", daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_port}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        shutil.rmtree(folder, ignore_errors=True)

    options = {"instance_url": url, "session_id": token, "ca_bundle": ca_path, "api_version": org.api_version,
               **connector_options}
    read_only = tuple(f"/services/data/v{v}/jobs/query" for v in org.versions) + (
        "/services/oauth2/token", "/services/Soap/u/")
    return SandboxHandle(url=url, options=options, stop=stop, requests=app.requests, inject=app.inject,
                         read_only_posts=read_only,
                         extra={"ids": dict(org.ids), "org": org, "app": app, "ca_bundle": ca_path, "as_of": when})
