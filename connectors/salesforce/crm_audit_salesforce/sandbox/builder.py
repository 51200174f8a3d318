"""The org builder: a canonical tenant as Salesforce records, one builder per object.

``row_to_<entity>`` turns one canonical row into one Salesforce record (the inverse of
the connector's mapping in :mod:`crm_audit_salesforce.mapping`); the ``_add_*`` builders
declare each object (standard and custom fields) and add its records. Canonical decimal
ids become 18-character Salesforce ids with the right key prefix; every id is assigned
first, so references resolve whatever order the objects are built in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_audit_core.sandbox.server import tenant_rows

from .. import mapping as m
from . import access
from . import integrations as integ
from . import pipelines, setup
from .org import Org, custom_columns, custom_values, login_api_version, salesforce_versions, sf_value


class Ids:
    """Canonical id -> Salesforce id (``org.ids``), and new ids for records the tenant
    does not have (profiles, permission sets, record types, ...)."""

    def __init__(self, org: Org):
        self.sid = org.ids
        self.counter = iter(range(9_000_000_000, 10_000_000_000))

    def __getitem__(self, canonical_id: Any) -> str:
        return self.sid[str(canonical_id)]

    def assign(self, canonical_id: Any, sobject: str) -> None:
        self.sid[str(canonical_id)] = m.to_salesforce_id(canonical_id, sobject)

    def new(self, sobject: str) -> str:
        return m.to_salesforce_id(str(next(self.counter)), sobject)

    def ref(self, canonical_id: Any, sobject: str) -> str | None:
        """The Salesforce id a reference points at (None for no reference)."""
        if canonical_id in (None, ""):
            return None
        key = str(canonical_id)
        if key in self.sid:
            return self.sid[key]
        return m.to_salesforce_id(key, sobject)


def dt(value: Any) -> str | None:
    return m.format_datetime(value)


# ------------------------------------------------------------- row -> record


def row_to_user(row: dict, ids: Ids, profile_id: str | None) -> dict:
    return {
        "Id": ids[row["id"]], "Name": row.get("name"),
        "Username": row.get("email") or f"user{row['id']}@sandbox.invalid",
        "Email": row.get("email"), "IsActive": bool(row.get("is_active")),
        "LastLoginDate": dt(row.get("last_login_at")), "ProfileId": profile_id,
        "UserType": "Standard", "UserRoleId": None, "CreatedDate": dt(row.get("created_at")),
        "LastModifiedDate": dt(row.get("created_at")),
    }


def row_to_login(row: dict, ids: Ids, platform: dict | None = None) -> dict:
    """``platform``: the tenant's platform row, whose versions a login's API version follows."""
    status = row.get("status")
    return {
        "Id": ids[row["id"]], "UserId": ids.ref(row.get("user_id"), "User"), "LoginTime": dt(row.get("at")),
        "SourceIp": row.get("ip"),
        "Status": m.LOGIN_SUCCESS if status == "success" else ("Invalid Password" if status else None),
        "Application": row.get("application"),
        "LoginType": row["login_type"] if "login_type" in row else "Application",
        "ApiType": row.get("api_type"), "ApiVersion": login_api_version(platform or {}, row.get("api_version"))}


def row_to_account(row: dict, ids: Ids, cfg: dict, custom: dict[str, str]) -> dict:
    return {
        "Id": ids[row["id"]], "Name": row.get("name"), "Website": row.get("domain"),
        "Industry": row.get("industry"), "Phone": row.get("phone"), "BillingStreet": row.get("street"),
        "BillingCity": row.get("city"), "BillingState": row.get("state"),
        "BillingPostalCode": row.get("postal_code"), "BillingCountry": row.get("country"),
        "OwnerId": ids.ref(row.get("owner_id"), "User"), "AccountSource": m.SOURCE_TO_PICKLIST.get(row.get("source")),
        cfg["source_detail_field"]: row.get("source_detail"),
        "CreatedDate": dt(row.get("created_at")), "LastModifiedDate": dt(row.get("updated_at")),
        "LastActivityDate": None, **custom_values(row, "companies", custom)}


def _person(row: dict, ids: Ids, cfg: dict, custom: dict[str, str]) -> dict:
    """The fields a Contact and a Lead share."""
    return {
        "Id": ids[row["id"]], "FirstName": row.get("first_name"), "LastName": row.get("last_name"),
        "Email": row.get("email"), "Phone": row.get("phone"), "Title": row.get("title"),
        "OwnerId": ids.ref(row.get("owner_id"), "User"), "LeadSource": m.SOURCE_TO_PICKLIST.get(row.get("source")),
        "IsEmailBounced": bool(row.get("email_bounced")),
        "CreatedDate": dt(row.get("created_at")), "LastModifiedDate": dt(row.get("updated_at")),
        "LastActivityDate": m.format_date(row.get("last_activity_at")),
        cfg["source_detail_field"]: row.get("source_detail"),
        **custom_values(row, "contacts", custom),
    }


def row_to_contact(row: dict, ids: Ids, cfg: dict, custom: dict[str, str]) -> dict:
    return {**_person(row, ids, cfg, custom), "AccountId": ids.ref(row.get("company_id"), "Account"),
            "MailingStreet": row.get("street"), "MailingCity": row.get("city"),
            "MailingState": row.get("state"), "MailingPostalCode": row.get("postal_code"),
            "MailingCountry": row.get("country"), cfg["lifecycle_field"]: row.get("lifecycle_stage"),
            cfg["lead_status_field"]: row.get("lead_status")}


def row_to_lead(row: dict, ids: Ids, cfg: dict, custom: dict[str, str], company: str | None) -> dict:
    return {**_person(row, ids, cfg, custom), "Company": company, "Status": row.get("lead_status"),
            "Street": row.get("street"), "City": row.get("city"), "State": row.get("state"),
            "PostalCode": row.get("postal_code"), "Country": row.get("country"),
            "IsConverted": False, "ConvertedContactId": None,
            cfg["lead_account_field"]: ids.ref(row.get("company_id"), "Account")}


def row_to_opportunity(row: dict, ids: Ids, cfg: dict, custom: dict[str, str], stage_names: dict) -> dict:
    return {
        "Id": ids[row["id"]], "Name": row.get("name"), "Amount": row.get("amount"),
        "StageName": stage_names.get(str(row.get("stage")), row.get("stage")),
        "IsClosed": bool(row.get("is_closed")), "IsWon": bool(row.get("is_won")),
        "CloseDate": m.format_date(row.get("close_date")), "OwnerId": ids.ref(row.get("owner_id"), "User"),
        "AccountId": ids.ref(row.get("company_id"), "Account"), "ContactId": ids.ref(row.get("contact_id"), "Contact"),
        "LeadSource": m.SOURCE_TO_PICKLIST.get(row.get("source")), "CreatedDate": dt(row.get("created_at")),
        "LastModifiedDate": dt(row.get("updated_at")), "LastActivityDate": m.format_date(row.get("last_activity_at")),
        cfg["loss_reason_field"]: row.get("lost_reason"), cfg["source_detail_field"]: row.get("source_detail"),
        **custom_values(row, "deals", custom),
    }


def _activity(row: dict, ids: Ids, custom: dict[str, str]) -> dict:
    """The fields a Task and an Event share."""
    deal = ids.ref(row.get("deal_id"), "Opportunity")
    account = ids.ref(row.get("company_id"), "Account")
    return {
        "Id": ids[row["id"]], "Subject": row.get("subject"), "OwnerId": ids.ref(row.get("owner_id"), "User"),
        "WhoId": ids.ref(row.get("contact_id"), "Contact"), "WhatId": deal or account, "AccountId": account,
        "CreatedDate": dt(row.get("created_at")), "LastModifiedDate": dt(row.get("created_at")),
        **custom_values(row, "activities", custom),
    }


def row_to_event(row: dict, ids: Ids, custom: dict[str, str]) -> dict:
    end = row.get("completed_at") if row.get("is_done") else row.get("due_at")
    return {**_activity(row, ids, custom), "EventSubtype": "Event", "Type": "Meeting",
            "StartDateTime": dt(row.get("due_at")), "EndDateTime": dt(end)}


def row_to_task(row: dict, ids: Ids, custom: dict[str, str]) -> dict:
    kind = row.get("type") or "task"
    return {**_activity(row, ids, custom), "TaskSubtype": m.TASK_SUBTYPES.get(kind, "Task"),
            "Type": m.TASK_TYPES.get(kind), "ActivityDate": m.format_date(row.get("due_at")),
            "IsClosed": bool(row.get("is_done")), "Status": "Completed" if row.get("is_done") else "Not Started",
            "CompletedDateTime": dt(row.get("completed_at"))}


def row_to_campaign(row: dict, ids: Ids) -> dict:
    return {
        "Id": ids[row["id"]], "Name": row.get("name"), "Type": row.get("type"), "Status": "Completed",
        "IsActive": False, "NumberSent": sf_value(row.get("sent"), "double"),
        "NumberOfResponses": sf_value(row.get("responses"), "int"), "NumberOfLeads": 0, "NumberOfContacts": 0,
        "StartDate": m.format_date(row.get("started_at")), "EndDate": None,
        "CreatedDate": dt(row.get("started_at")), "LastModifiedDate": dt(row.get("started_at"))}


def is_event(row: dict, as_of: datetime) -> bool:
    """A meeting is served as an Event when an Event can say the same thing (an Event is
    done once it has ended); otherwise it is a Task of type Meeting."""
    if row.get("type") != "meeting" or row.get("due_at") is None:
        return False
    due = m.utc_datetime(row.get("due_at"))
    if row.get("is_done"):
        done_at = m.utc_datetime(row.get("completed_at"))
        return done_at is not None and done_at < as_of
    return due >= as_of


# ------------------------------------------------------------- the builders


@dataclass
class _Build:
    org: Org
    ids: Ids
    tenant: Any
    as_of: datetime
    options: dict
    cfg: dict  # the org-specific custom fields (connector options, defaults in mapping)
    declared: dict[str, dict[str, dict]]  # table -> custom field name -> the tenant's fields row


def build_org(tenant: Any, as_of: datetime, options: dict) -> Org:
    """Canonical tenant -> Salesforce records (the inverse of the connector's mapping).

    A 1M tenant's contacts and activities as Python rows are not held at once: each
    table's rows are let go once its object is built."""
    org = Org()
    declared: dict[str, dict[str, dict]] = {}
    for f in tenant_rows(tenant, "fields"):
        if f.get("is_custom"):
            declared.setdefault(f.get("object"), {})[f["name"]] = f
    cfg = {k: options.get(k, v) for k, v in m.MAPPED_CUSTOM_FIELDS.items()}
    org.as_of, org.cfg = as_of, cfg
    b = _Build(org, Ids(org), tenant, as_of, options, cfg, declared)

    contacts = tenant_rows(tenant, "contacts")
    _assign_ids(b, contacts)
    deals = tenant_rows(tenant, "deals")
    _add_organization(b, deals)
    _add_users(b)
    _add_logins(b)
    integ.plan_integrations(org, b.ids, tenant, as_of)
    companies = _add_accounts(b)
    _add_contacts_and_leads(b, contacts, companies)
    integ.add_segments(org, b.ids, contacts)
    del contacts, companies
    pipelines.add_pipelines(org, b.ids, tenant, deals, dt(as_of))
    _add_opportunities(b, deals)
    del deals
    integ.add_tokens(org, b.ids)
    setup.add_grants(org, b.ids, tenant)
    _add_activities(b)
    _add_campaigns(b)
    setup.add_setup(org, b.ids, tenant)
    return org


def _assign_ids(b: _Build, contacts: list[dict]) -> None:
    # activities, which nothing refers to, get theirs when they are built
    for row in tenant_rows(b.tenant, "users"):
        b.ids.assign(row["id"], "User")
    for row in tenant_rows(b.tenant, "companies"):
        b.ids.assign(row["id"], "Account")
    for row in contacts:
        b.ids.assign(row["id"], "Lead" if row.get("lifecycle_stage") == "lead" else "Contact")
    for table, sobject in (("deals", "Opportunity"), ("stages", "OpportunityStage"), ("campaigns", "Campaign"),
                           ("login_events", "LoginHistory")):
        for row in tenant_rows(b.tenant, table):
            b.ids.assign(row["id"], sobject)


def _add_organization(b: _Build, deals: list[dict]) -> None:
    platform = b.org.platform = (tenant_rows(b.tenant, "platform") or [{}])[0]
    b.org.versions, b.org.api_version = salesforce_versions(platform)
    currencies = Counter(d.get("currency") for d in deals if d.get("currency"))
    b.org.add_object("Organization")
    b.org.add("Organization", {
        "Id": b.ids.new("Organization"),
        "Name": str(platform.get("name") or b.options.get("org_name") or "Sandbox Org"),
        "OrganizationType": platform.get("edition") or "Enterprise Edition",
        "IsSandbox": True, "InstanceName": "SANDBOX1",
        "DefaultCurrencyIsoCode": currencies.most_common(1)[0][0] if currencies else "USD",
        "CreatedDate": dt(b.as_of - timedelta(days=3650)), "LastModifiedDate": dt(b.as_of),
    })


def _add_users(b: _Build) -> None:
    """Users with their profiles, licences, permission sets and groups, freeze state and
    MFA registrations (:mod:`.access`)."""
    access.add_access(b.org, b.ids, b.tenant, dt(b.as_of), row_to_user)


def _add_logins(b: _Build) -> None:
    b.org.add_object("LoginHistory")
    for row in tenant_rows(b.tenant, "login_events"):
        b.org.add("LoginHistory", row_to_login(row, b.ids, b.org.platform))


def _add_accounts(b: _Build) -> list[dict]:
    """Accounts from companies; returns the companies (leads name theirs)."""
    companies = tenant_rows(b.tenant, "companies")
    custom = custom_columns(companies, "companies", b.declared.get("companies", {}))
    b.org.add_object("Account", custom, extra=[b.cfg["source_detail_field"]])
    b.org.fields["Account"][b.cfg["source_detail_field"]]["custom"] = True
    for row in companies:
        b.org.add("Account", integ.attribute(b.org, "Account", row, row_to_account(row, b.ids, b.cfg, custom)))
    return companies


def _add_contacts_and_leads(b: _Build, contacts: list[dict], companies: list[dict]) -> None:
    """Contacts at lifecycle stage "lead" are open Leads; the others Contacts."""
    org, cfg = b.org, b.cfg
    custom = custom_columns(contacts, "contacts", b.declared.get("contacts", {}))
    # segments are campaign memberships (sandbox/integrations.py), not a picklist here
    helper = [cfg["lifecycle_field"], cfg["lead_status_field"], cfg["source_detail_field"]]
    org.add_object("Contact", custom, extra=helper)
    org.add_object("Lead", custom, extra=[cfg["source_detail_field"], cfg["lead_account_field"]])
    org.fields["Lead"][cfg["lead_account_field"]].update(custom=True, type="reference")
    for obj in ("Contact", "Lead"):
        for h in helper:
            if h in org.fields[obj]:
                org.fields[obj][h]["custom"] = True
                org.fields[obj][h]["type"] = "picklist"
    companies_by_id = {str(c["id"]): c for c in companies}
    lead_prefix = m.KEY_PREFIXES["Lead"]
    for row in contacts:
        if b.ids[row["id"]].startswith(lead_prefix):
            company = row.get("company_name") or (companies_by_id.get(str(row.get("company_id"))) or {}).get("name")
            org.add("Lead", integ.attribute(org, "Lead", row, row_to_lead(row, b.ids, cfg, custom, company)))
        else:
            org.add("Contact", integ.attribute(org, "Contact", row, row_to_contact(row, b.ids, cfg, custom)))


def _add_opportunities(b: _Build, deals: list[dict]) -> None:
    """Opportunities, with their pipeline's record type (:mod:`.pipelines`) and currencies
    when there are several."""
    org, cfg = b.org, b.cfg
    record_types = pipelines.record_types(org)
    currencies = {d.get("currency") for d in deals if d.get("currency")}
    custom = custom_columns(deals, "deals", b.declared.get("deals", {}))
    extra = [cfg["loss_reason_field"], cfg["source_detail_field"]]
    if record_types:
        extra.append("RecordTypeId")
    if len(currencies) > 1:
        extra.append("CurrencyIsoCode")
    org.add_object("Opportunity", custom, extra=extra)
    org.fields["Opportunity"][cfg["loss_reason_field"]].update(custom=True, type="picklist")
    org.fields["Opportunity"][cfg["source_detail_field"]].update(custom=True, type="picklist")
    for row in deals:
        org.add("Opportunity", opportunity_record(org, b.ids, row, custom))


def opportunity_record(org: Org, ids: Ids, row: dict, custom: dict[str, str]) -> dict:
    """A deal as an Opportunity of ``org``, with its pipeline's record type and its currency
    where the org has those fields."""
    record = integ.attribute(org, "Opportunity", row, row_to_opportunity(row, ids, org.cfg, custom, org.stage_names))
    fields = org.fields["Opportunity"]
    if "RecordTypeId" in fields:
        types = pipelines.record_types(org)
        record["RecordTypeId"] = types.get(row.get("pipeline")) if row.get("pipeline") else None
    if "CurrencyIsoCode" in fields:
        record["CurrencyIsoCode"] = row.get("currency")
    return record


def _add_activities(b: _Build) -> None:
    """Tasks, and meetings that an Event can stand for (:func:`is_event`)."""
    activities = tenant_rows(b.tenant, "activities")
    for row in activities:
        b.ids.assign(row["id"], "Event" if is_event(row, b.as_of) else "Task")
    custom = custom_columns(activities, "activities", b.declared.get("activities", {}))
    b.org.add_object("Task", custom)
    b.org.add_object("Event", custom)
    event_prefix = m.KEY_PREFIXES["Event"]
    for row in activities:
        if b.ids[row["id"]].startswith(event_prefix):
            b.org.add("Event", row_to_event(row, b.ids, custom))
        else:
            b.org.add("Task", row_to_task(row, b.ids, custom))


def _add_campaigns(b: _Build) -> None:
    b.org.add_object("Campaign")
    for row in tenant_rows(b.tenant, "campaigns"):
        b.org.add("Campaign", row_to_campaign(row, b.ids))
