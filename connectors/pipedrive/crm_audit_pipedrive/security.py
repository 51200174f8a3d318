"""Who holds which power in a Pipedrive company, and what reaches out of it: the mapping
of ``/v1/users`` (``is_admin``, ``access[]``) and ``/v1/permissionSets`` to the canonical
``permissions`` table, and of ``/v1/webhooks`` to ``oauth_grants`` (both directions: the
sandbox builds Pipedrive's shapes from canonical rows with the ``*_to_*`` inverses here).

Pipedrive's model (docs/connectors/pipedrive.md#permissions-and-webhooks):

* a user's ``access`` lists one entry per app (``sales``, ``projects``, ``campaigns``,
  ``global``, ``account_settings``) with an ``admin`` flag and the ``permission_set_id``
  of the set the user holds in that app; ``is_admin`` says the user is a company admin;
* a permission set has an ``app``, a ``type`` (``admin``, ``regular``, ``custom``) and its
  ``contents`` (the ``can_*`` permissions it grants);
* roles (``/v1/roles``) set visibility groups, not powers: they give no permission rows.

Rows: a company admin -> (``admin``, via ``user``); a non-admin holding an admin set (or
an ``admin`` access entry) -> ``manage_users`` in ``account_settings`` (user management,
billing, security center), else ``admin``, via ``permission_set``; a set's powerful
contents (``POWERFUL_CONTENTS``) -> one row each, via ``permission_set``.
"""

from __future__ import annotations

from typing import Any

from .mapping import company_admin as mapping_company_admin
from .sources import webhook_failing
from .values import clean, to_id, utc_datetime, v1_time

# The permissions of a set that let a user read out or change everything (the rest, such
# as adding deals, are a user's everyday work). can_* name -> canonical permission name.
POWERFUL_CONTENTS = {
    "can_export_data_from_lists": "export_data",
    "can_bulk_edit_items": "bulk_edit_items",
    "can_change_visibility_of_items": "change_visibility_of_items",
    "can_see_security_dashboard": "see_security_dashboard",
}
CONTENT_OF_PERMISSION = {v: k for k, v in POWERFUL_CONTENTS.items()}
ADMIN_PERMISSION_OF_APP = {"account_settings": "manage_users"}
ADMIN_TYPE = "admin"
# The sets Pipedrive creates in every company (the sandbox serves them; their ids are the
# ones users' access entries name).
STANDARD_SETS = (
    {"id": "admin", "name": "Admin", "description": "", "app": "sales", "type": "admin", "assignment_count": 0,
     "contents": []},
    {"id": "regular", "name": "Regular user", "description": "", "app": "sales", "type": "regular",
     "assignment_count": 0, "contents": ["can_add_deals", "can_add_products", "can_follow_other_users",
                                         "can_see_other_users", "can_use_email_tracking"]},
)
USER_VIA_NAME = "company admin"
# Webhook fields that are secrets: never stored, not even in raw.
SECRET_FIELDS = ("http_auth_password",)


def permission_id(user_id: Any, permission: str, via: str, via_name: str | None) -> str:
    """The stable id of one permission row (the same on every audit of the company)."""
    return f"{user_id}:{permission}:{via}:{via_name or ''}"


def permission_row(user_id: str, permission: str, via: str, via_name: str | None, raw: Any = None) -> dict:
    return {"id": permission_id(user_id, permission, via, via_name), "user_id": user_id,
            "permission": permission, "via": via, "via_name": via_name, "raw": raw}


def permission_rows(users: list[dict], sets: dict[str, dict]) -> list[dict]:
    """The permissions rows of ``users`` (``/v1/users`` data) given the permission sets
    by id (with their ``contents`` where read)."""
    rows: dict[str, dict] = {}

    def add(row: dict) -> None:
        rows.setdefault(row["id"], row)

    for user in users:
        user_id = to_id(user.get("id"))
        if user_id is None or user.get("is_deleted"):
            continue
        company_admin = mapping_company_admin(user)
        if company_admin:
            add(permission_row(user_id, "admin", "user", USER_VIA_NAME, {"is_admin": True}))
        for access in user.get("access") or []:
            if not isinstance(access, dict):
                continue
            app = clean(access.get("app")) or "sales"
            found = sets.get(str(access.get("permission_set_id")))
            name = clean((found or {}).get("name")) or (f"{app} admin" if access.get("admin") else None)
            is_admin_set = bool(access.get("admin")) or (found or {}).get("type") == ADMIN_TYPE
            if is_admin_set and not company_admin:
                add(permission_row(user_id, ADMIN_PERMISSION_OF_APP.get(app, "admin"), "permission_set", name,
                                   {"access": access}))
            for content in (found or {}).get("contents") or []:
                permission = POWERFUL_CONTENTS.get(str(content))
                if permission is not None and not company_admin:
                    add(permission_row(user_id, permission, "permission_set", name, {"access": access}))
    return list(rows.values())


def grant_rows(hooks: list[dict]) -> list[dict]:
    """One ``oauth_grants`` row per webhook: what leaves the company, where to, since when
    and when it was last delivered to a subscriber that accepted it (``last_used_at``; none
    when the last delivery failed, which ``scope`` says with the HTTP status); ``raw`` keeps
    the webhook without its secrets."""
    rows = []
    for hook in hooks:
        public = {k: v for k, v in hook.items() if k not in SECRET_FIELDS}
        events = f"{hook.get('event_action') or '*'}.{hook.get('event_object') or '*'}"
        scope = f"webhook on {events} events" + ("" if hook.get("is_active") else " (inactive)")
        failing = webhook_failing(hook)
        if failing:
            scope += f"; its last delivery failed with HTTP {hook.get('last_http_status')}"
        rows.append({
            "id": to_id(hook.get("id")),
            "app": clean(hook.get("name")) or f"webhook {events}",
            "user_id": to_id(hook.get("user_id") or hook.get("owner_id")),
            "created_at": utc_datetime(hook.get("add_time")),
            # a delivery the subscriber refused is no use: the last good one is unknown then
            "last_used_at": None if failing else utc_datetime(hook.get("last_delivery_time")),
            "use_count": None,
            "scope": scope,
            "url": clean(hook.get("subscription_url")),
            "raw": public,
        })
    return rows


# ---------------------------------------------------------------------------- sandbox side

# Canonical permission -> how a Pipedrive company grants it: an admin set of an app, or a
# can_* permission in a custom set. Salesforce-only powers (author_apex) have no Pipedrive
# form and are not served by the sandbox.
ADMIN_APP_OF = {"manage_users": "account_settings", "admin": "global", "modify_all_data": "global",
                "view_all_data": "global", "customize_application": "global"}
CONTENT_OF = {**CONTENT_OF_PERMISSION, "api_enabled": "can_use_api"}


def sets_and_access(permissions: list[dict]) -> tuple[list[dict], dict[str, list[dict]], set[str]]:
    """Canonical permissions rows -> (permission sets, {user id: access entries}, the ids
    of company admins). One set per ``via_name`` of the rows not via the user: an admin set
    of ``account_settings`` (manage_users) or ``global`` (the powers over all data), else a
    custom set of the ``sales`` app holding the can_* permissions (``CONTENT_OF``)."""
    sets: dict[str, dict] = {}
    access: dict[str, dict[str, dict]] = {}
    admins: set[str] = set()
    for row in permissions:
        user_id = str(row.get("user_id"))
        permission = str(row.get("permission") or "")
        if row.get("via") == "user":
            if permission in ("admin", "super_admin"):
                admins.add(user_id)
            continue
        app = ADMIN_APP_OF.get(permission)
        content = CONTENT_OF.get(permission)
        if app is None and content is None:
            continue  # no Pipedrive form
        name = clean(row.get("via_name")) or permission
        key = (name, app or "sales")
        item = sets.setdefault(key, {
            "id": f"set-{len(sets) + 1}", "name": name, "description": "", "app": app or "sales",
            "type": ADMIN_TYPE if app else "custom", "assignment_count": 0, "contents": []})
        if content and content not in item["contents"]:
            item["contents"].append(content)
        entries = access.setdefault(user_id, {})
        if item["id"] not in entries:
            entries[item["id"]] = {"app": item["app"], "admin": bool(app), "permission_set_id": item["id"]}
            item["assignment_count"] += 1
    return list(sets.values()), {u: list(e.values()) for u, e in access.items()}, admins


def is_webhook_grant(row: dict) -> bool:
    """A canonical grant Pipedrive shows: a webhook (scope ``webhook``, or a ``webhook …`` scope)."""
    return str(row.get("scope") or "").lower().startswith("webhook")


def webhook_integrations(tenant_grants: list[dict], integration_names: set[str]) -> list[dict]:
    """The integrations rows (without ids: a tenant's ids are its own) Pipedrive shows for a
    tenant's webhook grants that its integrations table lacks by name (in Pipedrive every
    webhook is an integration, whose id is the webhook's): for tests that compare the
    integrations read with the tenant."""
    names = {str(n).lower() for n in integration_names}
    return [{"name": clean(g.get("app")), "kind": "webhook",
             "status": "error" if webhook_failing(grant_to_webhook(g)) else "active",
             "last_sync_at": g.get("last_used_at"), "created_at": g.get("created_at")}
            for g in tenant_grants if is_webhook_grant(g) and str(g.get("app")).lower() not in names]


def grant_to_webhook(row: dict) -> dict:
    """A canonical oauth_grants row -> a v1 webhook (sandbox side); a ``raw`` of the row's
    own (``last_http_status``) is kept."""
    raw = row.get("raw") if isinstance(row.get("raw"), dict) else {}
    status = raw.get("last_http_status", 200 if row.get("last_used_at") else None)
    return {
        "id": int(row["id"]) if str(row["id"]).isdigit() else row["id"], "company_id": 1,
        "owner_id": row.get("user_id"), "user_id": row.get("user_id"),
        "event_action": "*", "event_object": "*", "subscription_url": row.get("url"), "version": "2.0",
        "is_active": 1, "add_time": v1_time(row.get("created_at")), "remove_time": None, "type": "general",
        "http_auth_user": None, "http_auth_password": None, "remove_reason": None,
        "last_delivery_time": v1_time(row.get("last_used_at")), "last_http_status": status,
        "admin_id": None, "name": clean(row.get("app")),
    }
