"""Readers of the tables that are not CRM records: account, users and logins (with the
people behind them: owners, settings users, roles), stages, fields, campaigns.

Each reads its HubSpot endpoints through the transport and writes canonical rows to the
sink, completing the table. Endpoints an account may not offer (settings users on
lower tiers, login history outside Enterprise, marketing emails without Marketing Hub,
account-info for OAuth apps) leave a note and the table (or the columns) not supplied.
"""

from __future__ import annotations

from typing import Any, Callable

from crm_audit_core.kit import Unavailable

from . import mapping
from .i18n import _
from .transport import PAGE_SIZE, HubSpotTransport

LOGIN_PAGE_SIZE = 200
SECURITY_SCOPE = "account-info.security.read"

Note = Callable[[str], None]


def read_account(transport: HubSpotTransport, note: Note) -> tuple[dict | None, int | None]:
    """(account details, daily API limit), each None when the token cannot read it; the
    daily usage also tells the budget guard what is already spent today."""
    details = daily_limit = None
    try:
        details = transport.request("account details", transport.session_call("/account-info/v3/details"))
    except Unavailable as exc:
        note(_("account details not available: {problem}", problem=exc.message))
    try:
        usage = transport.request("API usage",
                                  transport.session_call("/account-info/v3/api-usage/daily/private-apps"))
        for item in usage.get("results") or []:
            if item.get("usageLimit"):
                daily_limit = int(item["usageLimit"])
                transport.budget.observe(limit=daily_limit, used=item.get("currentUsage") or 0)
    except Unavailable as exc:
        note(_("daily API usage not available (OAuth tokens cannot read it): {problem}", problem=exc.message))
    return details, daily_limit


class People:
    """The portal's owners, its settings users ({user id: user}, None when the token may not
    read them, with ``refused`` saying why) and role names; ``owner_of_user`` maps a
    HubSpot user id to the owner id the canonical tables use."""

    def __init__(self, owners: list[dict], settings_users: dict[str, dict] | None, role_names: dict[str, str],
                 refused: str | None = None):
        self.owners, self.settings_users, self.role_names, self.refused = owners, settings_users, role_names, refused
        self.owner_of_user = {str(o.get("userId")): str(o["id"]) for o in owners if o.get("userId") is not None}


def read_people(transport: HubSpotTransport, note: Note) -> People:
    """Owners (active and archived), settings users and role names."""
    owners: list[dict] = []
    for archived in (False, True):
        for page in transport.pages("owners", lambda after, a=archived: transport.client_call(
                transport.owners_api.get_page, limit=PAGE_SIZE, after=after, archived=a)):
            owners += page.get("results") or []
    settings_users: dict[str, dict] | None = {}
    refused = None
    try:
        for page in transport.pages("users", lambda after: transport.client_call(
                transport.users_api.get_page, limit=PAGE_SIZE, after=after), required=False):
            for u in page.get("results") or []:
                settings_users[str(u.get("id"))] = u
    except Unavailable as exc:
        note(_("user roles not available: {problem}", problem=exc.message))
        settings_users, refused = None, exc.message
    role_names: dict[str, str] = {}
    if settings_users:
        try:
            roles = transport.request("roles", transport.client_call(transport.roles_api.get_all))
            role_names = {str(r["id"]): r.get("name") for r in roles.get("results") or []}
        except Unavailable as exc:
            note(_("role names not available: {problem}", problem=exc.message))
    return People(owners, settings_users, role_names, refused)


def read_users(transport: HubSpotTransport, sink, note: Note) -> People:
    """users (owners, active and archived, joined with settings users and roles) and
    login_events (login activity, page by page; also each user's last login)."""
    progress = transport.progress = sink.progress("users")
    people = read_people(transport, note)
    owners, role_names = people.owners, people.role_names
    settings_users = people.settings_users or {}
    owner_of_user = people.owner_of_user
    # Login events go to the sink page by page (a big portal has hundreds of thousands);
    # only each user's last successful login is kept, for the users table.
    last_login: dict[str, Any] | None = {}
    write_logins = not sink.is_complete("login_events")
    try:
        login_progress = transport.progress = sink.progress("login_events")
        for page in transport.pages("login activity", lambda after: transport.session_call(
                "/account-info/v3/activity/login",
                {"limit": LOGIN_PAGE_SIZE, **({"after": after} if after else {})}), required=False):
            rows = [mapping.login_to_row(e, owner_of_user) for e in page.get("results") or []]
            for e in rows:
                if e["status"] == "success" and e["at"] and (e["user_id"] not in last_login
                                                             or e["at"] > last_login[e["user_id"]]):
                    last_login[e["user_id"]] = e["at"]
            if write_logins:
                sink.write("login_events", rows)
            login_progress.advance(records=len(rows))
    except Unavailable as exc:
        last_login = None
        reason = _("login history not available (HubSpot offers it to Enterprise accounts with the {scope} "
                   "scope): {problem}", scope=SECURITY_SCOPE, problem=exc.message)
        note(reason)
        declare = getattr(sink, "unavailable", None)
        if declare is not None and write_logins:
            declare("login_events", _("HubSpot gives the login history to Enterprise accounts only, with the {scope} "
                                      "scope ({problem}): on an Enterprise account, grant the private app that scope "
                                      "({page})", scope=SECURITY_SCOPE, problem=exc.message,
                                      page="docs/connectors/hubspot.md#security"))
    transport.progress = progress
    rows = []
    seen = set()
    for owner in owners:
        if str(owner["id"]) in seen:
            continue
        seen.add(str(owner["id"]))
        row = mapping.owner_to_row(owner, settings_users.get(str(owner.get("userId"))), role_names)
        if not settings_users:
            row.pop("role"), row.pop("is_admin")
        if last_login is not None:
            row["last_login_at"] = last_login.get(row["id"])
        rows.append(row)
    if not sink.is_complete("users"):
        sink.write("users", rows)
        progress.advance(records=len(rows))
        sink.complete("users")
    if last_login is not None and write_logins:
        sink.complete("login_events")
    return people


def read_stages(transport: HubSpotTransport, sink) -> None:
    """stages, from the deal pipelines."""
    transport.progress = progress = sink.progress("stages")
    body = transport.required("deal pipelines", transport.client_call(transport.pipelines_api.get_all, "deals"))
    rows = [s for p in body.get("results") or [] for s in mapping.pipeline_to_rows(p)]
    sink.write("stages", rows)
    progress.advance(records=len(rows))
    sink.complete("stages")


def read_fields(transport: HubSpotTransport, sink) -> dict[str, dict[str, str]]:
    """fields, from every object type's properties; returns {object type: {custom property:
    HubSpot type}} (read again when resuming: the record readers need it)."""
    transport.progress = progress = sink.progress("fields")
    custom_types: dict[str, dict[str, str]] = {}
    rows, seen = [], set()
    for table, object_types in mapping.OBJECT_TYPES.items():
        for object_type in object_types:
            body = transport.required(f"{object_type} properties", transport.client_call(
                transport.properties_api.get_all, object_type, archived=False))
            custom_types[object_type] = {}
            for prop in body.get("results") or []:
                if not prop.get("hubspotDefined", False):
                    custom_types[object_type][prop["name"]] = prop.get("type") or "string"
                if (table, prop["name"]) not in seen:
                    seen.add((table, prop["name"]))
                    rows.append(mapping.property_to_row(table, prop))
    if not sink.is_complete("fields"):  # resuming: still needed for the custom property types
        sink.write("fields", rows)
        progress.advance(records=len(rows))
        sink.complete("fields")
    return custom_types


def read_campaigns(transport: HubSpotTransport, sink, note: Note) -> None:
    """campaigns, from marketing emails with their statistics."""
    transport.progress = progress = sink.progress("campaigns")
    rows: list[dict] = []
    try:
        for page in transport.pages("marketing emails", lambda after: transport.client_call(
                transport.emails_api.get_page, limit=PAGE_SIZE, after=after, include_stats=True), required=False):
            batch = [mapping.marketing_email_to_row(e) for e in page.get("results") or []]
            rows += batch
            progress.advance(records=len(batch))
    except Unavailable as exc:
        note(_("marketing email statistics not available (needs Marketing Hub and the {scope} scope): {problem}",
               scope="content", problem=exc.message))
        return
    sink.write("campaigns", rows)
    sink.complete("campaigns")
