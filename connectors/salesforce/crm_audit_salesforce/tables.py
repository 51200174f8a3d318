"""The readers of each canonical table: which objects and fields fill it, with which
filters (full or incremental), and which mapping function turns a record into a row.

Each ``read_<table>(conn, sink)`` uses the connector's shared state (the logged-in
reader, describes, the mapped custom fields ``conn.cfg``); the order they run in is the
connector's (:meth:`SalesforceConnector.extract`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from crm_audit_core.kit import Unavailable

from . import integrations
from . import mapping as m
from . import security, stages
from .i18n import _
from .incremental import Source, read_table
from .soql import and_, soql_datetime
from .transport import OPTIONAL

if TYPE_CHECKING:
    from .connector import SalesforceConnector


def read_platform(conn: "SalesforceConnector", sink, versions: list[dict]) -> None:
    # read even when resuming: deals need the org's default currency
    conn.begin(sink, "platform")
    org = conn.reader.read_all("Organization", m.ORGANIZATION_FIELDS)
    conn.organization = org[0] if org else None
    if sink.is_complete("platform"):
        return
    score = security.read_health_check(conn, sink)
    sink.write("platform", [m.organization_to_row(conn.organization, versions, conn.api_version, score)])
    sink.complete("platform")


def _optional(conn: "SalesforceConnector", sink, sobject: str, fields: list[str],
              where: str | None = None) -> list[dict] | None:
    try:
        return conn.reader.read_all(sobject, fields, where)
    except Unavailable as exc:
        sink.note(_("Salesforce: {what} not available: {problem}", what=OPTIONAL[sobject], problem=exc.message))
        return None


def read_users(conn: "SalesforceConnector", sink) -> None:
    if sink.is_complete("users"):
        return
    conn.begin(sink, "users")
    # one read of the permission set assignments: users.is_admin, users.api_only and the
    # permissions table (who holds which powerful permission, through what)
    powers = security.read_powers(conn, sink)
    frozen = security.read_frozen(conn, sink)
    mfa_rows = _optional(conn, sink, "TwoFactorMethodsInfo", m.MFA_FIELDS)
    mfa = None if mfa_rows is None else {r["UserId"]: m.has_mfa(r) for r in mfa_rows}

    def user(r: dict) -> dict:
        row = security.user_columns(m.user_to_row(r, powers.admins, mfa), r, powers, frozen)
        if not powers.known:
            row.pop("is_admin", None)  # not known: not supplied, rather than "nobody"
        conn.integrations.note_user(row)
        return row

    read_table(conn, sink, "users", lambda prev: [Source("User", "User", m.USER_FIELDS, None, user)])


def read_logins(conn: "SalesforceConnector", sink) -> None:
    since = (conn.as_of - timedelta(days=conn.login_history_days)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def login(r: dict) -> dict:
        conn.integrations.note_login(r)  # OAuth logins: activity of the app they name
        return m.login_to_row(r)

    try:
        read_table(conn, sink, "login_events", lambda prev: [
            Source("LoginHistory", "LoginHistory", m.LOGIN_FIELDS, f"LoginTime >= {since}", login)])
    except Unavailable as exc:
        security.unavailable(sink, "login_events", exc.message)


def read_fields(conn: "SalesforceConnector", sink) -> dict[str, list[str]]:
    """Describe the audited objects: the fields table, custom fields per object."""
    conn.begin(sink, "fields")
    mapped = set(conn.cfg.values())
    objects = {"Account": "companies", "Contact": "contacts", "Lead": "contacts", "Opportunity": "deals",
               "Task": "activities", "Event": "activities"}
    rows, seen, custom = [], set(), {}
    for sobject, table in objects.items():
        describe = conn.describe(sobject)
        custom[sobject] = [f["name"] for f in describe.get("fields", [])
                           if (f.get("custom") or f["name"].endswith("__c")) and f["name"] not in mapped]
        for f in describe.get("fields", []):
            if (table, f["name"]) in seen:
                continue
            seen.add((table, f["name"]))
            rows.append(m.field_to_row(table, f, mapped))
    if not sink.is_complete("fields"):
        sink.write("fields", rows)
        sink.complete("fields")
    return custom


def _present(conn: "SalesforceConnector", sobject: str, fields: list[str]) -> list[str]:
    """The fields (and parent fields) the org's describe of ``sobject`` knows."""
    known = conn.types.get(sobject, {})
    out = []
    for f in fields:
        base = f.split(".")[0] + "Id" if "." in f else f
        if base in known:
            out.append(f)
    return out


def _changed(previous, where: str | None = None) -> str | None:
    """``where`` narrowed to records created or modified since the previous audit."""
    if previous is None:
        return where
    # SystemModstamp also moves on system changes (e.g. a parent's roll-up), so it
    # catches at least what LastModifiedDate does.
    return and_(where, f"SystemModstamp > {soql_datetime(previous.since)}")


def read_integration_sources(conn: "SalesforceConnector", sink) -> None:
    """Connected apps, OAuth tokens and campaign memberships: read before the records they tag."""
    conn.begin(sink, "integrations")
    integrations.read_sources(conn, sink, _optional)
    conn.segments = {}
    members = _optional(conn, sink, "CampaignMember", m.CAMPAIGN_MEMBER_FIELDS)
    for r in members or []:
        name = m.as_text(m._rel(r, "Campaign.Name"))
        person = r.get("ContactId") or r.get("LeadId")
        if name and person:
            names = conn.segments.setdefault(person, [])
            if name not in names:
                names.append(name)


def _segments(conn: "SalesforceConnector", row: dict) -> dict:
    """contacts.segments: the picklist's values (if the org has one) and the campaigns the person is in."""
    extra = [s for s in conn.segments.get(row["id"], ()) if s not in row["segments"]]
    row["segments"] = row["segments"] + extra
    return row


def read_companies(conn: "SalesforceConnector", sink, custom) -> None:
    fields = _present(conn, "Account", m.ACCOUNT_FIELDS + [conn.cfg["source_detail_field"]]) + custom["Account"]

    def row(r: dict) -> dict:
        out = m.account_to_row(r, conn.cfg, custom["Account"], conn.types["Account"])
        return conn.integrations.tag(out, r, "AccountSource")

    read_table(conn, sink, "companies", lambda prev: [
        Source("Account", "Account", fields, _changed(prev), row)], incremental=True)


def read_contacts(conn: "SalesforceConnector", sink, custom) -> None:
    cfg = conn.cfg
    extra = [cfg[k] for k in ("lifecycle_field", "lead_status_field", "segments_field", "source_detail_field",
                              "lead_account_field")]
    contact_fields = _present(conn, "Contact", m.CONTACT_FIELDS + extra) + custom["Contact"]
    lead_fields = _present(conn, "Lead", m.LEAD_FIELDS + extra) + custom["Lead"]

    def contact(r):
        row = m.contact_to_row(r, cfg, custom["Contact"], conn.types["Contact"])
        return _segments(conn, conn.integrations.tag(row, r, "LeadSource"))

    def lead(r):
        row = m.lead_to_row(r, cfg, custom["Lead"], conn.types["Lead"])
        return _segments(conn, conn.integrations.tag(row, r, "LeadSource"))

    def plan(prev):
        # Converted leads live on as their Contact; only open leads are contacts at stage "lead".
        sources = [Source("Contact", "Contact", contact_fields, _changed(prev), contact),
                   Source("Lead", "Lead", lead_fields, _changed(prev, "IsConverted = false"), lead,
                          full_where="IsConverted = false")]
        if prev is not None and "Account.Name" in contact_fields:
            # contacts.company_name comes from the Account: contacts of accounts changed
            # since the previous audit are read again (those not changed themselves)
            since = soql_datetime(prev.since)
            sources.append(Source("Contact:account", "Contact", contact_fields,
                                  f"Account.SystemModstamp > {since} AND SystemModstamp <= {since}", contact))
        return sources

    read_table(conn, sink, "contacts", plan, incremental=True)


def read_stages(conn: "SalesforceConnector", sink) -> None:
    """Stages per pipeline (record type): :mod:`.stages`."""
    stages.read_stages(conn, sink, _optional)


def _loss_field(conn: "SalesforceConnector", sink) -> str | None:
    known = conn.types.get("Opportunity", {})
    wanted = conn.loss_reason_field
    if wanted:
        if wanted in known:
            return wanted
        sink.note(_("Salesforce: Opportunity has no field {field} (option loss_reason_field): "
                    "deals.lost_reason not supplied", field=wanted))
        return None
    if m.MAPPED_CUSTOM_FIELDS["loss_reason_field"] in known:
        return m.MAPPED_CUSTOM_FIELDS["loss_reason_field"]
    for name in known:
        low = name.lower()
        if ("loss" in low or "lost" in low) and "reason" in low:
            return name
    sink.note(_("Salesforce: no loss-reason field on Opportunity (set option loss_reason_field): "
                "deals.lost_reason not supplied"))
    return None


def read_deals(conn: "SalesforceConnector", sink, custom) -> None:
    if sink.is_complete("deals"):
        return
    conn.describe("Opportunity")
    loss = _loss_field(conn, sink)
    cfg = {**conn.cfg, "loss_reason_field": loss}
    fields = _present(conn, "Opportunity", m.OPPORTUNITY_FIELDS + ["RecordTypeId", "RecordType.Name",
                                                                   "CurrencyIsoCode", conn.cfg["source_detail_field"]])
    if loss and loss not in fields:
        fields.append(loss)
    fields += [f for f in custom["Opportunity"] if f not in fields]
    deal_custom = [f for f in custom["Opportunity"] if f != loss]
    currency = (conn.organization or {}).get("DefaultCurrencyIsoCode")

    def row(r: dict) -> dict:
        out = m.opportunity_to_row(r, cfg, deal_custom, conn.types["Opportunity"], currency, conn.stage_ids,
                                   conn.stages_per_pipeline)
        if loss is None:
            out.pop("lost_reason", None)
        return conn.integrations.tag(out, r, "LeadSource")

    # deals carried forward from an audit that named stages the other way would name rows
    # that are gone: then read them all
    changed = stages.stage_mode_changed(conn, getattr(conn.context, "previous", None))
    if changed:
        sink.note(_("Salesforce: the previous audit read stages without pipelines, or this one does: deals read "
                    "in full so that every deal names a stage of this audit"))
    read_table(conn, sink, "deals", lambda prev: [
        Source("Opportunity", "Opportunity", fields, _changed(prev), row)], incremental=not changed)


def read_activities(conn: "SalesforceConnector", sink, custom) -> None:
    task_fields = _present(conn, "Task", m.TASK_FIELDS) + custom["Task"]
    event_fields = _present(conn, "Event", m.EVENT_FIELDS) + custom["Event"]

    def task(r):
        return m.task_to_row(r, custom["Task"], conn.types["Task"])

    def event(r):
        return m.event_to_row(r, conn.as_of, custom["Event"], conn.types["Event"])

    def plan(prev):
        sources = [Source("Task", "Task", task_fields, _changed(prev), task),
                   Source("Event", "Event", event_fields, _changed(prev), event)]
        if prev is not None:
            # An event is done once it has ended: events that ended since the previous
            # audit changed in the canonical table though not in Salesforce.
            since = soql_datetime(prev.since)
            sources.append(Source("Event:ended", "Event", event_fields,
                                  f"EndDateTime > {since} AND EndDateTime <= {soql_datetime(conn.as_of)} "
                                  f"AND SystemModstamp <= {since}", event))
        return sources

    read_table(conn, sink, "activities", plan, incremental=True)


def read_campaigns(conn: "SalesforceConnector", sink) -> None:
    # campaigns used as lists are segments (contacts.segments), not marketing campaigns
    lists = ", ".join("'" + t.replace("\\", "\\\\").replace("'", "\\'") + "'" for t in conn.segment_types)
    where = f"Type NOT IN ({lists})" if lists else None
    try:
        read_table(conn, sink, "campaigns", lambda prev: [
            Source("Campaign", "Campaign", m.CAMPAIGN_FIELDS, where, m.campaign_to_row)])
    except Unavailable as exc:
        sink.note(_("Salesforce: campaigns not available: {problem} (Campaigns need the Marketing User "
                    "setting or a Sales Cloud edition)", problem=exc.message))
