"""The kit's connector acceptance suite (crm_audit_core.testing) run against HubSpot's sandbox.

Round trip, minimum calls, two identical reads, zero writes, bad credentials, kill and
resume, incremental equals full, secrets and the fault matrix of docs/reliability.md. What
is HubSpot's own (batch reads for big property lists, 414s, login history pages, the
ten-second window, search paging) stays in the other test modules.
"""

from __future__ import annotations

import math

from datetime import timedelta

from crm_audit_core.acceptance.target import AS_OF
from crm_audit_core.sandbox.server import tenant_rows
from crm_audit_hubspot.apps import ACTIVE_DAYS, LIST_SEARCH_COUNT, MEMBERSHIP_PAGE
from crm_audit_hubspot.security import AUDIT_DAYS, AUDIT_PAGE_SIZE
from crm_audit_core.testing import ConnectorAcceptance, ConnectorUnderTest
from crm_audit_hubspot.mapping import (ACTIVITY_COMPLETED, ACTIVITY_TYPE_OF, API_VERSION_USED, DAILY_LIMIT_BY_EDITION,
                                       EDITION_BY_DAILY_LIMIT, LOGICAL_TYPE, MAPPED_COLUMNS, OBJECT_TYPE_OF_ACTIVITY,
                                       hubspot_type, utc_datetime)

ASSOCIATION_PAIRS = {"contacts": 1, "companies": 0, "deals": 2}  # activity types: 3 (contact, company, deal)


def _pages(n: int, size: int = 100) -> int:
    return max(1, math.ceil(n / size))


def minimum_calls(tenant, handle, options) -> int:
    """Fixed calls (account, owners, users, roles, logins, pipelines, 9 property lists,
    campaigns) + one list page per 100 records of each object type + one association
    batch per 1,000 records and pair + the audit log's pages."""
    users = tenant_rows(tenant, "users")
    active = sum(1 for u in users if u.get("is_active", True))
    calls = 2  # account details, API usage
    calls += _pages(active) + _pages(len(users) - active) + _pages(len(users)) + 1  # owners x2, users, roles
    calls += _pages(len(tenant_rows(tenant, "login_events")), 200) + 1 + 9  # logins, pipelines, properties
    counts = {table: len(tenant_rows(tenant, table)) for table in ("contacts", "companies", "deals")}
    for row in tenant_rows(tenant, "activities"):
        object_type = OBJECT_TYPE_OF_ACTIVITY.get(row.get("type"), "notes")
        counts[object_type] = counts.get(object_type, 0) + 1
    for object_type in ACTIVITY_TYPE_OF:
        counts.setdefault(object_type, 0)
    for object_type, n in counts.items():
        calls += _pages(n) + ASSOCIATION_PAIRS.get(object_type, 3) * math.ceil(n / 1000)
    calls += _pages(len(tenant_rows(tenant, "campaigns")))
    members: dict[str, int] = {}  # contact lists: one search page per 500 lists, one call per 250 members
    for row in tenant_rows(tenant, "contacts"):
        for name in set(row.get("segments") or ()):
            members[name] = members.get(name, 0) + 1
    calls += _pages(len(members), LIST_SEARCH_COUNT) + sum(_pages(n, MEMBERSHIP_PAGE) for n in members.values())
    # the audit log of the year before the audit, 200 a page (issue 16)
    year = tenant.as_of - timedelta(days=AUDIT_DAYS)
    calls += _pages(sum(1 for r in tenant_rows(tenant, "audit_trail") if r["created_at"] >= year), AUDIT_PAGE_SIZE)
    return calls  # integrations and oauth_grants: no call (every app id is on the records read)


def last_logins(handle) -> dict[str, object]:
    """Each user's last successful login in the login history the sandbox serves."""
    owner_of = {o["userId"]: o["id"] for o in handle.app.data.owners}
    last: dict[str, object] = {}
    for login in handle.app.data.logins:
        owner, at = owner_of.get(login["userId"]), utc_datetime(login["loginAt"])
        if login["loginSucceeded"] and at is not None and (owner not in last or at > last[owner]):
            last[owner] = at
    return last


_RECORDS: dict[int, list[dict]] = {}


def tenant_records(handle) -> list[dict]:
    """The contacts, companies and deals of the tenant the sandbox serves (once per sandbox)."""
    key = id(handle.app.data)
    if key not in _RECORDS:
        tenant = handle.app.data.tenant
        _RECORDS[key] = [r for table in ("contacts", "companies", "deals") for r in tenant_rows(tenant, table)]
    return _RECORDS[key]


def expected_integration(row: dict, records: list[dict], as_of) -> dict | None:
    """An integration as HubSpot shows it: only through the records it created (none: not
    seen), last_sync_at = the newest of them, active when it is at most ACTIVE_DAYS old."""
    mine = [utc_datetime(r["created_at"]) for r in records
            if r.get("source") == "integration" and r.get("source_detail") == row["name"] and r.get("created_at")]
    if not mine:
        return None
    newest = max(mine)
    return {"id": str(row["id"]), "name": row["name"], "last_sync_at": newest,
            "status": "active" if newest >= utc_datetime(as_of) - timedelta(days=ACTIVE_DAYS) else "inactive"}


def tenant_row(table: str, row: dict, handle) -> dict | None:
    """A tenant row as HubSpot can give it back."""
    if table == "fields":
        if not row.get("is_custom"):
            return None  # standard fields come back under HubSpot's own property names
        return dict(row, type=LOGICAL_TYPE[hubspot_type(row.get("type"))])
    if table == "activities":
        object_type = OBJECT_TYPE_OF_ACTIVITY.get(row.get("type"), "notes")
        row = dict(row, type=ACTIVITY_TYPE_OF[object_type])  # no such engagement: served as a note
        if object_type not in ACTIVITY_COMPLETED:  # only tasks have a completion date; others happen at hs_timestamp
            row["completed_at"] = row.get("due_at") if row.get("is_done") else None
        return row
    if table == "users":  # HubSpot knows a last login only from the login history
        return dict(row, last_login_at=last_logins(handle).get(str(row["id"])))
    if table == "campaigns":
        return dict(row, type="email")  # every campaign is served as a marketing email
    if table == "integrations":
        return expected_integration(row, tenant_records(handle), AS_OF)
    if table == "platform":  # the edition is read back from the daily allowance it sets
        limit = DAILY_LIMIT_BY_EDITION.get(str(row.get("edition") or "").lower(), 625_000)
        return dict(row, vendor="hubspot", edition=EDITION_BY_DAILY_LIMIT[limit], api_version_used=API_VERSION_USED)
    return row


class TestHubSpotAcceptance(ConnectorAcceptance):
    connector = ConnectorUnderTest(
        name="hubspot",
        mapped_columns={table: tuple(columns) for table, columns in MAPPED_COLUMNS.items()},
        minimum_calls=minimum_calls,
        tenant_row=tenant_row,
        # HubSpot answers a 429 with its ten-second window; a short window keeps the suite fast.
        fault_sandbox_kwargs={"rate_window": 0.2},
    )
