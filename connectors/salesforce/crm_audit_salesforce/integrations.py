"""Integrations from Salesforce's own data, and the records they created.

Salesforce has no list of "installed integrations"; it has the pieces
(docs/connectors/salesforce.md, "Integrations and record sources"):

* ``ConnectedApplication``: the connected apps of the org (name, created date);
* ``OauthToken``: one row per user and app that holds a token (``AppName``,
  ``UserId``, ``LastUsedDate``, ``UseCount``): who an app runs as, and when it was
  last used;
* integration users: users on an API-only integration profile (canonical role
  ``integration``); the app whose token such a user holds is the integration it runs;
* ``LoginHistory`` rows with ``LoginType`` 'Remote Access 2.0' (OAuth logins), whose
  ``Application`` names the connected app (read with login_events, no extra call);
* records' ``CreatedById`` (a record an integration user created is that integration's)
  and the ``LeadSource`` / ``AccountSource`` picklists (many apps write their own name
  there).

:class:`IntegrationIndex` is built before the record tables are read (it tags each row's
``source`` / ``source_detail``) and writes the ``integrations`` table after them, when the
newest record of each integration is known.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from . import mapping as m
from . import security

if TYPE_CHECKING:
    from .connector import SalesforceConnector

CONNECTED_APP_FIELDS = ["Id", "Name", "CreatedDate", "OptionsAllowAdminApprovedUsersOnly"]
OAUTH_TOKEN_FIELDS = ["Id", "AppName", "UserId", "CreatedDate", "LastUsedDate", "UseCount",
                      "AppMenuItem.IsUsingAdminAuthorization"]
INTEGRATION_USER_FIELDS = ["Id", "Name", "IsActive", "Profile.Name", "UserRole.Name", "UserType", "LastLoginDate",
                           "CreatedDate"]
OAUTH_LOGIN = "Remote Access 2.0"  # LoginHistory.LoginType of an OAuth (connected app) login

KIND_APP = "connected-app"
KIND_USER = "integration-user"


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


class IntegrationIndex:
    """What the connector knows about the org's integrations (see the module docstring)."""

    def __init__(self) -> None:
        self.apps: dict[str, dict] = {}  # lower name -> {"id", "name", "created_at"}
        self.tokens: dict[str, list[dict]] = {}  # lower app name -> its OauthToken records
        self.users: dict[str, dict] = {}  # integration user id -> {"name", "active", "created_at", "last_login"}
        self.user_active: dict[str, bool] = {}  # every user read: id -> IsActive
        self.user_app: dict[str, str] = {}  # integration user id -> the integration name it runs
        self.logins: dict[str, dict] = {}  # lower app name -> {"success": latest, "latest": (when, ok)}
        self.newest: dict[str, datetime] = {}  # integration name -> newest record it created
        self.records: dict[str, int] = {}  # integration name -> records it created (read in this audit)

    # -- building -------------------------------------------------------------------------

    def note_user(self, row: dict) -> None:
        """A users row as read: integration users are kept (role ``integration``)."""
        self.user_active[row["id"]] = bool(row.get("is_active"))
        if row.get("role") == "integration":
            self.users[row["id"]] = {"name": row.get("name"), "active": bool(row.get("is_active")),
                                     "created_at": row.get("created_at"), "last_login": row.get("last_login_at")}

    def note_login(self, rec: dict) -> None:
        """A LoginHistory record: OAuth logins count as activity of the app they name."""
        if rec.get("LoginType") != OAUTH_LOGIN or not rec.get("Application"):
            return
        when = m.utc_datetime(rec.get("LoginTime"))
        if when is None:
            return
        ok = rec.get("Status") == m.LOGIN_SUCCESS
        seen = self.logins.setdefault(str(rec["Application"]).lower(), {"success": None, "latest": None})
        if ok:
            seen["success"] = _later(seen["success"], when)
        if seen["latest"] is None or when >= seen["latest"][0]:
            seen["latest"] = (when, ok)

    def add_apps(self, apps: list[dict] | None, tokens: list[dict] | None) -> None:
        for app in apps or []:
            if app.get("Name"):
                self.apps[app["Name"].lower()] = {"id": app["Id"], "name": app["Name"],
                                                  "created_at": m.utc_datetime(app.get("CreatedDate"))}
        for token in tokens or []:
            if token.get("AppName"):
                self.tokens.setdefault(token["AppName"].lower(), []).append(token)
        self._link_users()

    def _link_users(self) -> None:
        """Each integration user runs the app whose token it used last (or is its own integration)."""
        latest: dict[str, tuple[datetime, str]] = {}
        for tokens in self.tokens.values():
            for t in tokens:
                user = t.get("UserId")
                if user not in self.users:
                    continue
                used = m.utc_datetime(t.get("LastUsedDate")) or m.utc_datetime(t.get("CreatedDate"))
                if used is None:
                    continue
                if user not in latest or used > latest[user][0]:
                    latest[user] = (used, self.name_of(t["AppName"]))
        self.user_app = {user: latest[user][1] if user in latest else (info["name"] or user)
                         for user, info in self.users.items()}

    def name_of(self, app_name: str) -> str:
        """An app's name as the org spells it in ConnectedApplication (else as the token does)."""
        app = self.apps.get(app_name.lower())
        return app["name"] if app else app_name

    # -- records --------------------------------------------------------------------------

    def tag(self, row: dict, rec: dict, picklist: str) -> dict:
        """Set ``source`` / ``source_detail`` of a record's row: created by an integration
        user, or a source picklist naming an integration, means created by that integration."""
        name = self.user_app.get(rec.get("CreatedById") or "")
        if name is None:
            value = rec.get(picklist)
            if value and (str(value).lower() in self.apps or str(value).lower() in self.tokens):
                name = self.name_of(str(value))
        if name is not None:
            row["source"], row["source_detail"] = "integration", name
        if row.get("source") == "integration" and row.get("source_detail"):
            detail = row["source_detail"]
            self.records[detail] = self.records.get(detail, 0) + 1
            created = row.get("created_at")
            if created is not None:
                self.newest[detail] = _later(self.newest.get(detail), created)
        return row

    # -- the table ------------------------------------------------------------------------

    def rows(self) -> list[dict]:
        """One row per integration: every connected app, and every integration user that
        runs none of them. An app known only from users' OAuth tokens (a mobile app, an
        add-in each user authorised) is not an integration: its tokens are ``oauth_grants``."""
        out = []
        for key in self.apps:
            app, tokens = self.apps[key], self.tokens.get(key, [])
            name = app["name"]
            last = None
            for t in tokens:
                last = _later(last, m.utc_datetime(t.get("LastUsedDate")))
            login = self.logins.get(key) or {}
            last = _later(_later(last, login.get("success")), self.newest.get(name))
            users = [t.get("UserId") for t in tokens]
            active = any(self.user_active.get(u, True) for u in users)
            failed = login.get("latest") is not None and not login["latest"][1]
            out.append({
                "id": app["id"],
                "name": name,
                "kind": KIND_APP,
                "status": "error" if failed else ("active" if active else "inactive"),
                "last_sync_at": last,
                "created_at": app["created_at"],
                "raw": {"connected_app": app["id"], "tokens": tokens, "login": _raw_login(login)},
            })
        named = {r["name"] for r in out}
        for user, info in self.users.items():
            if self.user_app.get(user) in named:
                continue
            out.append({
                "id": user, "name": self.user_app.get(user) or info["name"], "kind": KIND_USER,
                "status": "active" if info["active"] else "inactive",
                "last_sync_at": _later(info["last_login"], self.newest.get(self.user_app.get(user) or "")),
                "created_at": info["created_at"], "raw": {"user": user},
            })
        return out


def _raw_login(login: dict) -> dict:
    latest = login.get("latest")
    return {"last_success": m.format_datetime(login.get("success")) if login.get("success") else None,
            "last_attempt_ok": None if latest is None else latest[1]}


def read_sources(conn: "SalesforceConnector", sink, optional) -> IntegrationIndex:
    """Connected apps, their tokens and the integration users, before the records are read.

    ``optional(sink, sobject, fields)`` reads an object the audit user may not see (None then,
    with a note naming the permission)."""
    index = conn.integrations
    if not index.user_active:  # the users table was read by an interrupted run: read who is who again
        for rec in optional(conn, sink, "User", INTEGRATION_USER_FIELDS) or []:
            index.note_user({"id": rec["Id"], "name": rec.get("Name"), "is_active": m.as_bool(rec.get("IsActive")),
                             "role": m.user_role(rec),
                             "created_at": m.utc_datetime(rec.get("CreatedDate")),
                             "last_login_at": m.utc_datetime(rec.get("LastLoginDate"))})
    apps = optional(conn, sink, "ConnectedApplication", CONNECTED_APP_FIELDS)
    # a user without Customize Application (older orgs: Manage Users) sees only his own
    # tokens, silently: what the audit user may do says whether the tokens are all there
    access = optional(conn, sink, "UserPermissionAccess", security.TOKEN_PERMISSIONS)
    sees_all = not access or any(m.as_bool(access[0].get(f)) for f in security.TOKEN_PERMISSIONS)
    tokens = optional(conn, sink, "OauthToken", OAUTH_TOKEN_FIELDS)
    index.add_apps(apps, tokens)
    security.write_grants(conn, sink, apps, tokens, sees_all)  # the same tokens, as oauth_grants
    return index


def write_table(conn: "SalesforceConnector", sink) -> None:
    if sink.is_complete("integrations"):
        return
    conn.begin(sink, "integrations")
    rows = conn.integrations.rows()
    sink.write("integrations", rows)
    sink.complete("integrations")
