"""HubSpot's security surface: who holds the powers (``permissions``), which apps hold
access to the portal (``oauth_grants``) and what users changed (``audit_trail``).

* ``permissions``: ``GET /settings/v3/users`` (100 a page, the maximum) says which users
  are super admins (``superAdmin``: every permission, including users, billing and
  private apps) -> (``super_admin``, via ``user``). The API names each user's roles
  (``roleIds``; ``/settings/v3/users/roles`` gives id, name and ``requiresBillingWrite``)
  but not the permissions a role grants, so roles give no rows. Needs the
  ``settings.users.read`` scope.
* ``oauth_grants``: HubSpot has no API that lists the apps installed in a portal or their
  scopes. Every record an app created names it (``hs_object_source_id`` /
  ``hs_object_source_detail_1``, the same facts the ``integrations`` table is built from):
  one row per such app, with the first and the last record it created and how many
  (``use_count``). An app that stopped creating records long ago still holds its token.
* ``audit_trail``: ``GET /account-info/v3/activity/audit-logs`` (Enterprise only, scope
  ``account-info.security.read``), from ``occurredAfter`` one year before the audit,
  200 a page. Record edits (category ``PROPERTY_VALUE``) are left out: they are not setup
  changes and a busy portal has millions of them.

A portal that refuses one of these (missing scope, lower tier) leaves a note and declares
the table unavailable with the reason (``sink.unavailable``), so the checks that need it
are skipped naming the scope or tier. Sources: docs/connectors/hubspot.md#security.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from crm_audit_core.kit import Unavailable

from . import mapping
from .i18n import _
from .transport import HubSpotTransport

AUDIT_PAGE_SIZE = 200  # the documented maximum of the account activity lists
AUDIT_DAYS = 365
RECORD_CATEGORIES = ("PROPERTY_VALUE",)  # record edits, not setup changes
SUPER_ADMIN_VIA = "super admin"
DOC = "docs/connectors/hubspot.md#security"

Note = Callable[[str], None]


def has_table(table: str) -> bool:
    """Whether the canonical schema has ``table`` (the security tables of issue 16)."""
    from crm_audit_core.model import TABLES

    return table in TABLES


def unavailable(sink, table: str, reason: str, note: Note) -> None:
    """Say at run time that ``table`` could not be read, and why (a note as well)."""
    note(reason)
    declare = getattr(sink, "unavailable", None)
    if declare is not None:
        declare(table, reason)


# ---------------------------------------------------------------------------- permissions

def permission_rows(settings_users: Iterable[dict], owner_of_user: dict[str, str]) -> list[dict]:
    """One row per super admin (owner id as the user id, as in ``users``)."""
    rows = []
    for user in settings_users:
        if not user.get("superAdmin"):
            continue
        user_id = owner_of_user.get(str(user.get("id")), str(user.get("id")))
        rows.append({"id": f"{user_id}:super_admin", "user_id": user_id, "permission": "super_admin",
                     "via": "user", "via_name": SUPER_ADMIN_VIA,
                     "raw": {"id": user.get("id"), "superAdmin": True, "roleIds": user.get("roleIds")}})
    return rows


def write_permissions(sink, settings_users: list[dict] | None, owner_of_user: dict[str, str], reason: str | None,
                      note: Note) -> None:
    if settings_users is None:
        unavailable(sink, "permissions", _("HubSpot refused the settings users ({problem}): grant the private app "
                                           "the {scope} scope to see the super admins ({page})",
                                           problem=reason, scope="settings.users.read", page=DOC), note)
        return
    rows = permission_rows(settings_users, owner_of_user)
    sink.write("permissions", rows)
    sink.progress("permissions").advance(records=len(rows))
    sink.complete("permissions")


# ---------------------------------------------------------------------------- oauth grants

def grant_rows(stored: list[tuple], app_ids: dict[str, str]) -> list[dict]:
    """One row per app that created records: ``stored`` holds (source, source_detail,
    created_at) of the record tables; ``app_ids`` {app name: app id} (the integrations')."""
    seen: dict[str, list] = {}
    for source, name, created in stored:
        if source != "integration" or not name:
            continue
        created = created if created is None or created.tzinfo else created.replace(tzinfo=timezone.utc)
        first, last, count = seen.get(name, (None, None, 0))
        if created is not None:
            first = created if first is None or created < first else first
            last = created if last is None or created > last else last
        seen[name] = [first, last, count + 1]
    rows = []
    for name in sorted(seen):
        app_id = app_ids.get(name)
        if app_id is None:
            continue
        first, last, count = seen[name]
        rows.append({"id": app_id, "app": name, "user_id": None, "created_at": first, "last_used_at": last,
                     "use_count": count, "scope": None, "url": None,
                     "raw": {"hs_object_source_id": app_id, "hs_object_source_detail_1": name}})
    return rows


def write_grants(sink, record_tables: Iterable[str]) -> None:
    """oauth_grants from the records as stored and the integrations table's app ids."""
    progress = sink.progress("oauth_grants")
    stored: list[tuple] = []
    for table in record_tables:
        stored += sink.stored(table, ("source", "source_detail", "created_at"))
    app_ids = {str(name): str(app_id) for app_id, name in sink.stored("integrations", ("id", "name")) if name}
    rows = grant_rows(stored, app_ids)
    sink.write("oauth_grants", rows)
    progress.advance(records=len(rows))
    sink.complete("oauth_grants")


# ---------------------------------------------------------------------------- audit trail

def audit_row(entry: dict, owner_of_user: dict[str, str]) -> dict:
    acting = entry.get("actingUser") or {}
    user = acting.get("userId")
    category, sub = entry.get("category"), entry.get("subCategory")
    return {
        "id": str(entry.get("id")),
        "user_id": owner_of_user.get(str(user), str(user)) if user is not None else None,
        "action": entry.get("action"),
        "section": f"{category}/{sub}" if category and sub else category,
        "display": entry.get("targetObjectId"),
        "created_at": mapping.utc_datetime(entry.get("occurredAt")),
        "raw": entry,
    }


def read_audit_trail(transport: HubSpotTransport, sink, note: Note, owner_of_user: dict[str, str],
                     as_of: datetime) -> None:
    """audit_trail: the audit log of the year before ``as_of``, page by page."""
    progress = transport.progress = sink.progress("audit_trail")
    since = as_of - timedelta(days=AUDIT_DAYS)
    params = {"limit": AUDIT_PAGE_SIZE, "occurredAfter": mapping.format_time(since)}
    try:
        for page in transport.pages("audit log", lambda after: transport.session_call(
                "/account-info/v3/activity/audit-logs", {**params, **({"after": after} if after else {})}),
                required=False):
            rows = [audit_row(e, owner_of_user) for e in page.get("results") or []
                    if e.get("category") not in RECORD_CATEGORIES]
            sink.write("audit_trail", rows)
            progress.advance(records=len(rows))
    except Unavailable as exc:
        unavailable(sink, "audit_trail", _("HubSpot gives the audit log of user actions to Enterprise accounts "
                                           "only, with the {scope} scope ({problem}): on an Enterprise account, "
                                           "grant the private app that scope ({page})",
                                           scope="account-info.security.read", problem=exc.message, page=DOC), note)
        return
    sink.complete("audit_trail")
