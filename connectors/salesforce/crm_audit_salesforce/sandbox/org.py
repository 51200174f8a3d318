"""The sandbox org's model: objects with their describe metadata and records, the
Salesforce types of standard and custom fields, and the conversions of canonical values
into Salesforce ones (shared by the org builder per object in :mod:`.builder`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import mapping as m
from .. import security as sec

UTC = timezone.utc
LATEST_VERSION = "62.0"


def _standard_type(name: str) -> str:
    if name == "Id":
        return "id"
    if name == "DurableId":
        return "string"
    if name in ("MajorVersion", "MinorVersion", "PatchVersion", "BuildNumber"):
        return "int"
    if name.startswith("Options"):
        return "boolean"
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
    if name == "UseCount":
        return "int"
    if name.startswith("Number") or name == "SortOrder":
        return "int"
    return "string"


CANONICAL_TO_SF_TYPE = {
    "string": "string", "number": "double", "enumeration": "picklist", "boolean": "boolean", "datetime": "datetime",
    "str": "string", "int": "double", "float": "double", "bool": "boolean",
    "timestamp": "datetime", "date": "date", "list": "multipicklist", "json": "textarea",
}

STANDARD_FIELDS = {
    "User": [f for f in m.USER_FIELDS if "." not in f and f != "CreatedDate"] + ["UserRoleId", "LastModifiedDate"],
    "Profile": ["Id", "Name", "UserLicenseId", "UserType", sec.API_ONLY, "CreatedDate"],
    "ObjectPermissions": ["Id", "ParentId", "SobjectType", *sec.OBJECT_ACCESS],
    "AppMenuItem": ["Id", "Name", "Label", "ApplicationId", "IsUsingAdminAuthorization", "Type"],
    "UserLicense": ["Id", "Name", "LicenseDefinitionKey", "Status"],
    "UserRole": ["Id", "Name", "DeveloperName"],
    "UserPermissionAccess": ["LastCacheUpdate", *sec.TOKEN_PERMISSIONS],
    "UserLogin": ["Id", "UserId", "IsFrozen", "IsPasswordLocked"],
    "PermissionSet": ["Id", "Name", "Label", "IsOwnedByProfile", "ProfileId", "PermissionSetGroupId", "Type",
                      *sec.POWERS, sec.API_ONLY],
    "PermissionSetGroup": ["Id", "DeveloperName", "MasterLabel", "Status"],
    "PermissionSetAssignment": ["Id", "AssigneeId", "PermissionSetId", "PermissionSetGroupId"],
    "SetupAuditTrail": [f for f in sec.AUDIT_TRAIL_FIELDS if f != "CreatedDate"],
    # Tooling API objects (Org.tooling): Health Check and installed packages
    "SecurityHealthCheck": ["DurableId", "Score", "CustomBaselineId"],
    "SecurityHealthCheckRisks": sec.HEALTH_RISK_FIELDS + ["OrgValueRaw", "SecurityHealthCheckId"],
    "InstalledSubscriberPackage": ["Id", "SubscriberPackageId", "SubscriberPackageVersionId", "MinPackageVersionId"],
    "SubscriberPackage": ["Id", "Name", "NamespacePrefix", "Description"],
    "SubscriberPackageVersion": ["Id", "Name", "SubscriberPackageId", "MajorVersion", "MinorVersion", "PatchVersion",
                                 "BuildNumber", "IsDeprecated", "ReleaseState", "IsBeta", "IsManaged"],
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
    "CampaignMember": [f for f in m.CAMPAIGN_MEMBER_FIELDS if "." not in f],
    "ConnectedApplication": ["Id", "Name", "CreatedDate", "LastModifiedDate", "OptionsAllowAdminApprovedUsersOnly"],
    "OauthToken": ["Id", "AppName", "UserId", "CreatedDate", "LastUsedDate", "UseCount", "AppMenuItemId"],
}
NO_SYSTEM_FIELDS = ("PermissionSetAssignment", "TwoFactorMethodsInfo", "OpportunityStage", "OauthToken", "UserLogin",
                    "SecurityHealthCheck", "SecurityHealthCheckRisks", "InstalledSubscriberPackage", "SubscriberPackage",
                    "SubscriberPackageVersion", "UserLicense", "ObjectPermissions", "AppMenuItem",
                    "UserPermissionAccess")
# objects the Tooling API serves (tooling/query), not the data API
TOOLING_OBJECTS = ("SecurityHealthCheck", "SecurityHealthCheckRisks", "InstalledSubscriberPackage", "SubscriberPackage",
                   "SubscriberPackageVersion")
for _name in STANDARD_FIELDS:
    fields_ = STANDARD_FIELDS[_name]
    for extra in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
        if extra not in fields_ and _name not in NO_SYSTEM_FIELDS:
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
    as_of: datetime | None = None  # the tenant's as-of (meetings become Events or Tasks by it)
    cfg: dict[str, str] = field(default_factory=dict)  # the org-specific custom fields (mapping.MAPPED_CUSTOM_FIELDS)
    stage_names: dict[str, str] = field(default_factory=dict)  # canonical stage id -> stage name
    # Opportunity record type id -> its StageName picklist (sandbox/pipelines.py); canonical
    # stage id -> the id the connector gives its row (mapping.stage_key)
    picklists: dict[str, list[str]] = field(default_factory=dict)
    stage_keys: dict[str, str] = field(default_factory=dict)
    # integrations (sandbox/integrations.py): name -> {"user", "dedicated", "row"}; newest record; token
    integration_sources: dict[str, dict] = field(default_factory=dict)
    integration_newest: dict[str, datetime] = field(default_factory=dict)
    integration_tokens: dict[str, dict] = field(default_factory=dict)
    api_users: set[str] = field(default_factory=set)  # the integration users' ids
    tooling: set[str] = field(default_factory=lambda: set(TOOLING_OBJECTS))  # served by tooling/query only
    platform: dict = field(default_factory=dict)  # the tenant's platform row (login API versions follow it)
    default_creator: str | None = None  # who made records an integration user owns but no integration made
    # segments: Contact/Lead id -> its CampaignMember records; segment name -> its 'List' campaign
    members_of: dict[str, list[dict]] = field(default_factory=dict)
    list_campaigns: dict[str, dict] = field(default_factory=dict)

    def add_object(self, name: str, custom: dict[str, str] | None = None, extra: list[str] = ()) -> None:
        describe = {}
        for f in list(STANDARD_FIELDS.get(name, ["Id"])) + list(extra):
            describe[f] = {"name": f, "label": label(f), "type": _standard_type(f), "custom": False}
        for f, sf_type in (custom or {}).items():
            describe[f] = {"name": f, "label": label(f[:-3]), "type": sf_type, "custom": True}
        self.fields[name] = describe
        self.records.setdefault(name, [])

    def add(self, name: str, record: dict) -> dict:
        record = {k: v for k, v in record.items()}
        if "SystemModstamp" in self.fields.get(name, {}) and "SystemModstamp" not in record:
            record["SystemModstamp"] = record.get("LastModifiedDate") or record.get("CreatedDate")
        self.records[name].append(record)
        self.by_id[record["Id"]] = record
        return record


def label(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").strip()


def tenant_as_of(tenant: Any, as_of: Any) -> datetime:
    if as_of is None:
        as_of = getattr(tenant, "as_of", None)
    if as_of is None:
        manifest = getattr(tenant, "manifest", None) or {}
        as_of = manifest.get("as_of")
    if as_of is None and isinstance(tenant, dict):
        as_of = tenant.get("as_of")
    return m.utc_datetime(as_of) or datetime.now(UTC)


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


def login_api_version(platform: dict, value: Any) -> str | None:
    """A login's API version as Salesforce's, by the rule of :func:`salesforce_versions`:
    Salesforce versions as they are; a generator's deprecated version 30.0 (retired), its
    latest the newest Salesforce version, any other 58.0."""
    if value in (None, ""):
        return None
    version = _version(value)
    if version and float(version) >= 20.0:
        return version
    if str(value) in {str(v) for v in platform.get("api_versions_deprecated") or []}:
        return "30.0"
    return LATEST_VERSION if str(value) == str(platform.get("api_version_latest")) else "58.0"


def custom_columns(rows: list[dict], table: str, declared: dict[str, dict]) -> dict[str, str]:
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


def sf_value(value: Any, sf_type: str) -> Any:
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


def custom_values(row: dict, table: str, custom: dict[str, str]) -> dict:
    out = {}
    values = dict(row.get("custom") or {})
    canonical = set(m.MAPPED_COLUMNS.get(table, [])) | {"tenant", "raw", "custom"}
    for key, value in row.items():
        if key not in canonical:
            values.setdefault(key, value)
    for key, value in values.items():
        api = m.custom_field_api_name(key)
        if api in custom:
            out[api] = sf_value(value, custom[api])
    return out
