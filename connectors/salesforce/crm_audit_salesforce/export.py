"""Salesforce's own export read through this connector's mapping (``--files-format salesforce-export``).

A Salesforce data export is one CSV per object named after it (``Account.csv``,
``Contact.csv``, ...), with API field names as headers and every field quoted: the
weekly Data Export service (Setup > Data Export, delivered as .zip files) or Data
Loader's exports (one file per object; the user names the files, so an object is also
recognised by its header). Each record goes through the same ``<entity>_to_row``
functions of :mod:`crm_audit_salesforce.mapping` as an API audit, so both give the same
canonical rows wherever the export holds the data.

What an export does not hold: describe metadata (the fields table is built from the
headers: custom fields end in ``__c``), parent fields such as ``Account.Name`` (joined
here from the parent's file), two-factor registrations, connected apps and OAuth tokens
(so no integrations and no ``users.mfa_enabled``). Login history, profiles and permission
sets are read when Data Loader exports of ``LoginHistory``, ``Profile``, ``PermissionSet``
and ``PermissionSetAssignment`` are in the folder.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from crm_audit_core.connector import ExportFormat
from crm_audit_core.exports import ExportFiles, ExportResult

from . import mapping as m
from .i18n import _

# Object -> (canonical table, the header fields that recognise a file of it).
OBJECTS = {
    "User": ("users", {"Username", "IsActive"}),
    "LoginHistory": ("login_events", {"LoginTime", "SourceIp"}),
    "Account": ("companies", {"BillingCity", "AccountSource"}),
    "Contact": ("contacts", {"AccountId", "MailingCity"}),
    "Lead": ("contacts", {"Company", "IsConverted"}),
    "OpportunityStage": ("stages", {"MasterLabel", "SortOrder", "IsWon"}),
    "Opportunity": ("deals", {"StageName", "CloseDate"}),
    "Task": ("activities", {"ActivityDate", "TaskSubtype"}),
    "Event": ("activities", {"StartDateTime", "EndDateTime"}),
    "Campaign": ("campaigns", {"NumberSent", "NumberOfResponses"}),
    # read for what they add to other objects
    "Profile": (None, {"UserLicenseId", "UserType"}),
    "PermissionSet": (None, {"PermissionsModifyAllData"}),
    "PermissionSetAssignment": (None, {"AssigneeId", "PermissionSetId"}),
    "RecordType": (None, {"SobjectType", "DeveloperName"}),
    "UserRole": (None, {"ParentRoleId", "RollupDescription"}),
    "CampaignMember": (None, {"CampaignId", "LeadOrContactId"}),
}


def object_of(name: str, header: list[str]) -> str | None:
    """The object a file holds: by its name (``Contact.csv``, ``Contact (2).csv``), else its header."""
    stem = re.sub(r"\s*\(\d+\)$|_\d+$", "", name.rsplit(".", 1)[0]).lower()
    for sobject in OBJECTS:
        if stem == sobject.lower():
            return sobject
    fields = set(header)
    if "Id" not in fields:
        return None
    for sobject, (_, signature) in OBJECTS.items():
        if signature <= fields:
            return sobject
    return None


def detect(headers: dict[str, list[str]]) -> int:
    """10 a file holding a Salesforce object with an ``Id`` column; 0 without Account/Contact/Opportunity/Lead."""
    found = {object_of(name, header) for name, header in headers.items() if "Id" in header}
    found.discard(None)
    if not found & {"Account", "Contact", "Lead", "Opportunity"}:
        return 0
    return 10 * len(found) + 5


def _files(files: ExportFiles) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name in files.names:
        sobject = object_of(name, files.header(name))
        if sobject is not None and "Id" in files.header(name):
            out.setdefault(sobject, []).append(name)
    return out


def _records(files: ExportFiles, names: list[str]) -> tuple[list[str], list[dict]]:
    header: list[str] = []
    records: list[dict] = []
    for name in names:
        h, rs = files.records(name)
        header += [c for c in h if c not in header]
        records += rs
    return header, records


def read(files: ExportFiles) -> ExportResult:
    result = ExportResult()
    by_object = _files(files)
    data = {s: _records(files, names) for s, names in by_object.items()}
    cfg = dict(m.MAPPED_CUSTOM_FIELDS)
    mapped_custom = set(cfg.values())
    as_of = getattr(files, "as_of", None) or datetime.now(timezone.utc)

    def records(sobject: str) -> list[dict]:
        return data.get(sobject, ([], []))[1]

    def custom_of(sobject: str) -> list[str]:
        header = data.get(sobject, ([], []))[0]
        return [h for h in header if h.endswith("__c") and h not in mapped_custom]

    def emit(sobject: str, table: str, rows: list[dict], used: set[str]) -> None:
        header = data[sobject][0]
        result.add(table, rows)
        result.report(", ".join(by_object[sobject]), table, header, used | set(custom_of(sobject)), rows)

    # parents the API reads through relationships (Account.Name, Profile.Name, RecordType.Name)
    account_names = {r["Id"]: r.get("Name") for r in records("Account")}
    profile_names = {r["Id"]: r.get("Name") for r in records("Profile")}
    record_types = {r["Id"]: r.get("Name") for r in records("RecordType")}
    role_names = {r["Id"]: r.get("Name") for r in records("UserRole")}
    for r in records("User"):
        r.setdefault("Profile.Name", profile_names.get(r.get("ProfileId")))
        r.setdefault("UserRole.Name", role_names.get(r.get("UserRoleId")))
    for r in records("Contact"):
        r.setdefault("Account.Name", account_names.get(r.get("AccountId")))
    for r in records("Opportunity"):
        r.setdefault("RecordType.Name", record_types.get(r.get("RecordTypeId")))

    if "User" in data:
        # As the connector reads it: an admin's *profile* grants Modify or View All Data; the
        # same powers through other permission sets are permissions, not admin status.
        sets = records("PermissionSet")
        by_profile = any("IsOwnedByProfile" in p for p in sets)
        privileged = {p["Id"] for p in sets
                      if (m.as_bool(p.get("PermissionsModifyAllData")) or m.as_bool(p.get("PermissionsViewAllData")))
                      and (not by_profile or m.as_bool(p.get("IsOwnedByProfile")))}
        admins = {a.get("AssigneeId") for a in records("PermissionSetAssignment") if a.get("PermissionSetId") in privileged}
        rows = [m.user_to_row(r, admins, None) for r in records("User")]
        if "PermissionSet" not in data:
            for row in rows:
                row["is_admin"] = None  # unknown without the permission sets
        emit("User", "users", rows, set(m.USER_FIELDS) | {"ProfileId"})
    if "LoginHistory" in data:
        emit("LoginHistory", "login_events", [m.login_to_row(r) for r in records("LoginHistory")], set(m.LOGIN_FIELDS))
    if "Account" in data:
        rows = [m.account_to_row(r, cfg, custom_of("Account"), {}) for r in records("Account")]
        emit("Account", "companies", rows, set(m.ACCOUNT_FIELDS) | {cfg["source_detail_field"]})
    segments: dict[str, list[str]] = {}
    campaign_names = {r["Id"]: r.get("Name") for r in records("Campaign")}
    list_campaigns = {r["Id"] for r in records("Campaign") if r.get("Type") in m.SEGMENT_CAMPAIGN_TYPES}
    for member in records("CampaignMember"):
        person = member.get("ContactId") or member.get("LeadId") or member.get("LeadOrContactId")
        name = campaign_names.get(member.get("CampaignId"))
        if person and name and name not in segments.setdefault(person, []):
            segments[person].append(name)
    person_fields = set(m.CONTACT_FIELDS) | set(m.LEAD_FIELDS) | {cfg[k] for k in (
        "lifecycle_field", "lead_status_field", "segments_field", "source_detail_field", "lead_account_field")}
    for sobject, to_row in (("Contact", m.contact_to_row), ("Lead", m.lead_to_row)):
        if sobject not in data:
            continue
        source = records(sobject)
        if sobject == "Lead":  # converted leads live on as their Contact
            source = [r for r in source if not m.as_bool(r.get("IsConverted"))]
        rows = []
        for r in source:
            row = to_row(r, cfg, custom_of(sobject), {})
            row["segments"] = row["segments"] + [s for s in segments.get(row["id"], ()) if s not in row["segments"]]
            rows.append(row)
        emit(sobject, "contacts", rows, person_fields)
    stage_ids: dict[str, str] = {}
    if "OpportunityStage" in data:
        for r in records("OpportunityStage"):
            for key in ("MasterLabel", "ApiName"):
                if r.get(key):
                    stage_ids.setdefault(r[key], r["Id"])
        emit("OpportunityStage", "stages", [m.stage_to_row(r) for r in records("OpportunityStage")],
             set(m.STAGE_FIELDS))
    if "Opportunity" in data:
        header = data["Opportunity"][0]
        loss = cfg["loss_reason_field"] if cfg["loss_reason_field"] in header else next(
            (h for h in header if ("loss" in h.lower() or "lost" in h.lower()) and "reason" in h.lower()), None)
        deal_cfg = {**cfg, "loss_reason_field": loss}
        custom = [c for c in custom_of("Opportunity") if c != loss]
        rows = []
        for r in records("Opportunity"):
            row = m.opportunity_to_row(r, deal_cfg, custom, {}, None, stage_ids)
            if loss is None:
                row.pop("lost_reason", None)
            rows.append(row)
        emit("Opportunity", "deals", rows, set(m.OPPORTUNITY_FIELDS) | {"RecordTypeId", "CurrencyIsoCode",
                                                                        cfg["source_detail_field"], loss or ""})
        if "OpportunityStage" not in data:
            result.notes.append(_("Salesforce export: no OpportunityStage file, so the stages table was not "
                                  "supplied (export OpportunityStage with Data Loader to audit the pipeline's "
                                  "stages)"))
    if "Task" in data:
        emit("Task", "activities", [m.task_to_row(r, custom_of("Task"), {}) for r in records("Task")],
             set(m.TASK_FIELDS))
    if "Event" in data:
        emit("Event", "activities", [m.event_to_row(r, as_of, custom_of("Event"), {}) for r in records("Event")],
             set(m.EVENT_FIELDS))
    if "Campaign" in data:
        rows = [m.campaign_to_row(r) for r in records("Campaign") if r["Id"] not in list_campaigns]
        emit("Campaign", "campaigns", rows, set(m.CAMPAIGN_FIELDS))
    fields = []
    for sobject, table in (("Account", "companies"), ("Contact", "contacts"), ("Lead", "contacts"),
                           ("Opportunity", "deals"), ("Task", "activities"), ("Event", "activities")):
        for name in data.get(sobject, ([], []))[0]:
            if (table, name) not in {(f["object"], f["name"]) for f in fields}:
                fields.append(m.field_to_row(table, {"name": name, "label": name, "type": None,
                                                      "custom": name.endswith("__c")}, mapped_custom))
    if fields:
        result.add("fields", fields)
    return result


EXPORT_FORMAT = ExportFormat(
    name="salesforce-export",
    detect=detect,
    read=read,
    description="Salesforce Data Export service (.zip of <Object>.csv) or Data Loader exports, API field names",
)
