"""The sandbox org's integrations and segments, as Salesforce keeps them.

Integrations (the tenant's ``integrations`` table): each is a ``ConnectedApplication``
(id from the integration's canonical id, so round trips compare exactly) with one
``OauthToken`` held by the user the app runs as. An integration whose name the tenant's
integration users carry ("Zapier Integration" runs Zapier) runs as that API-only user,
and the records it created have that user as ``CreatedById``; the others run as an
administrator who authorised them, and their records carry the app's name in the
``LeadSource`` / ``AccountSource`` picklist (as Mailchimp, LinkedIn Lead Gen Forms and
form tools do). The token's ``LastUsedDate`` is the integration's last sync, or the
creation of its newest record when that is later: a token that created a record was used
then.

Segments (``contacts.segments``): one ``Campaign`` of type 'List' per segment name, the
contacts and leads in it its ``CampaignMember`` records. Marketing campaigns (the tenant's
``campaigns``) have no members here, as in the tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from crm_audit_core.sandbox.server import tenant_rows

from .. import mapping as m
from .org import Org

LIST_TYPE = m.SEGMENT_CAMPAIGN_TYPES[0]
PICKLISTS = {"Account": "AccountSource", "Contact": "LeadSource", "Lead": "LeadSource", "Opportunity": "LeadSource"}


def plan_integrations(org: Org, ids: Any, tenant: Any, as_of: datetime) -> None:
    """Connected apps and who each runs as (before the records, which name their creator)."""
    org.add_object("ConnectedApplication")
    users = tenant_rows(tenant, "users")
    dedicated = [u for u in users if u.get("role") == "integration"]
    admins = [u for u in users if u.get("is_admin") and u.get("is_active") and u.get("role") != "integration"]
    holder = (admins or [u for u in users if u.get("is_active")] or users or [{}])[0]
    org.api_users = {ids.ref(u["id"], "User") for u in dedicated}
    org.default_creator = ids.ref(holder.get("id"), "User") if holder.get("id") else None
    for row in tenant_rows(tenant, "integrations"):
        name = str(row.get("name"))
        own = next((u for u in dedicated if str(u.get("name") or "").lower().startswith(name.lower())), None)
        user = own or holder
        org.add("ConnectedApplication", {
            "Id": m.to_salesforce_id(row["id"], "ConnectedApplication"), "Name": name,
            "CreatedDate": m.format_datetime(row.get("created_at")),
            "LastModifiedDate": m.format_datetime(row.get("created_at"))})
        org.integration_sources[name] = {"user": ids.ref(user.get("id"), "User") if user.get("id") else None,
                                         "dedicated": own is not None, "row": row}


def attribute(org: Org, sobject: str, row: dict, record: dict) -> dict:
    """Who created a record (``CreatedById``) and what its source picklist says."""
    source = org.integration_sources.get(row.get("source_detail") or "") if row.get("source") == "integration" else None
    if source is None:
        # made by its owner; a record an API-only user owns but no integration made was
        # made by an administrator (an integration user's records are its integration's)
        owner = record.get("OwnerId")
        record["CreatedById"] = org.default_creator if owner in org.api_users else owner
        return record
    record["CreatedById"] = source["user"]
    record[PICKLISTS[sobject]] = None if source["dedicated"] else row["source_detail"]
    record[org.cfg["source_detail_field"]] = None  # the connector finds the integration itself
    created = m.utc_datetime(row.get("created_at"))
    if created is not None:
        newest = org.integration_newest.get(row["source_detail"])
        org.integration_newest[row["source_detail"]] = created if newest is None else max(newest, created)
        token = org.integration_tokens.get(row["source_detail"])
        if token is not None and (m.utc_datetime(token["LastUsedDate"]) or created) <= created:
            token["LastUsedDate"] = m.format_datetime(created)
    return record


def add_tokens(org: Org, ids: Any) -> None:
    """One OAuth token per integration, used last at its last sync (or its newest record)."""
    org.add_object("OauthToken")
    for name, source in org.integration_sources.items():
        row = source["row"]
        last = m.utc_datetime(row.get("last_sync_at"))
        newest = org.integration_newest.get(name)
        if newest is not None and (last is None or newest > last):
            last = newest
        org.integration_tokens[name] = org.add("OauthToken", {
            "Id": ids.new("OauthToken"), "AppName": name, "UserId": source["user"],
            "CreatedDate": m.format_datetime(row.get("created_at")), "LastUsedDate": m.format_datetime(last),
            "UseCount": int(row.get("records_reported") or 0) + 1})


def add_segments(org: Org, ids: Any, contacts: list[dict]) -> None:
    """A 'List' campaign per segment, its members the contacts and leads in it."""
    org.add_object("CampaignMember")
    if "Campaign" not in org.fields:
        org.add_object("Campaign")
    for row in contacts:
        set_segments(org, ids.new, org.ids[str(row["id"])], row.get("segments"), org.as_of)


def set_segments(org: Org, new_id: Callable[[str], str], person: str, segments: Any, when: Any) -> None:
    """Make ``person`` (a Contact or Lead id) a member of exactly the lists named ``segments``
    (``new_id(sobject)``: a new Salesforce id)."""
    names = _names(segments)
    stamp = m.format_datetime(when)
    kept = []
    for member in org.members_of.get(person, []):
        campaign = org.by_id.get(member["CampaignId"]) or {}
        if campaign.get("Name") in names:
            kept.append(member)
            names.remove(campaign.get("Name"))
            continue
        org.records["CampaignMember"] = [r for r in org.records["CampaignMember"] if r is not member]
        org.by_id.pop(member["Id"], None)
        org.deleted.setdefault("CampaignMember", []).append((member["Id"], m.utc_datetime(when)))
        _count(campaign, person, -1)
    for name in names:
        campaign = org.list_campaigns.get(name)
        if campaign is None:
            campaign = org.list_campaigns[name] = org.add("Campaign", {
                "Id": new_id("Campaign"), "Name": name, "Type": LIST_TYPE, "Status": "In Progress",
                "IsActive": True, "NumberSent": None, "NumberOfResponses": 0, "NumberOfLeads": 0,
                "NumberOfContacts": 0, "StartDate": None, "EndDate": None, "CreatedDate": stamp,
                "LastModifiedDate": stamp})
        lead = person.startswith(m.KEY_PREFIXES["Lead"])
        kept.append(org.add("CampaignMember", {
            "Id": new_id("CampaignMember"), "CampaignId": campaign["Id"], "ContactId": None if lead else person,
            "LeadId": person if lead else None, "CreatedDate": stamp, "LastModifiedDate": stamp}))
        _count(campaign, person, 1)
    org.members_of[person] = kept


def _names(segments: Any) -> list[str]:
    if not segments:
        return []
    if isinstance(segments, str):
        segments = segments.split(";")
    return list(dict.fromkeys(str(s) for s in segments if s))


def _count(campaign: dict, person: str, step: int) -> None:
    if not campaign:
        return
    key = "NumberOfLeads" if person.startswith(m.KEY_PREFIXES["Lead"]) else "NumberOfContacts"
    campaign[key] = (campaign.get(key) or 0) + step
