"""Salesforce's security and update facts (issue 16), read into the canonical tables
``security_settings``, ``permissions``, ``oauth_grants``, ``audit_trail`` and ``packages``
and the columns ``platform.security_score``, ``users.profile`` / ``is_frozen`` /
``api_only`` / ``license``.

What each reads (docs/connectors/salesforce.md, "Security and updates"):

* Health Check, Tooling API: ``SecurityHealthCheck`` (``Score``) and
  ``SecurityHealthCheckRisks`` (one row a setting: ``RiskType``, ``Setting``,
  ``SettingGroup``, ``OrgValue``, ``StandardValue``);
* who holds which powerful permission: one query of ``PermissionSetAssignment`` with its
  permission set's ``Permissions*`` fields, profile and group (a profile's permissions are
  its own permission set, ``IsOwnedByProfile``; a group's assignment names the group);
* ``OauthToken`` (read with the integrations, no extra call) and ``ConnectedApplication``
  ``OptionsAllowAdminApprovedUsersOnly`` (an app every user may authorise himself);
* ``SetupAuditTrail`` for the audit window (Salesforce keeps at least 180 days);
* installed packages, Tooling API: ``InstalledSubscriberPackage`` with its package and
  version;
* frozen users: ``UserLogin`` (``IsFrozen``).

Every one of them needs a permission the audit user may lack. A refusal is never an
error: the table (or column) is declared unavailable at run time with the permission to
grant (``sink.unavailable``), so the checks that need it are skipped with that reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from crm_audit_core.kit import Unavailable, utc_datetime

from . import mapping as m
from .i18n import _
from .soql import soql, soql_datetime

if TYPE_CHECKING:
    from .connector import SalesforceConnector

ANCHOR = "docs/connectors/salesforce.md#permissions-to-grant"
HEALTH_CHECK = "Salesforce Health Check"

# What to grant for each read, named in the reason of a check skipped without it.
VIEW_SETUP = "View Setup and Configuration"
GRANTS = {
    "security_settings": _("the audit user lacks the '{permission}' permission: grant it to read Salesforce's "
                           "Health Check ({page})", permission=VIEW_SETUP, page=ANCHOR),
    "permissions": _("the audit user cannot read permission set assignments: grant '{permission}' (or "
                     "'{alternative}') to read who holds which permission ({page})",
                     permission=VIEW_SETUP, alternative="Assign Permission Sets", page=ANCHOR),
    "oauth_grants": _("the audit user cannot read every user's OAuth tokens: grant '{permission}' (older orgs: "
                      "'{alternative}') to read which apps hold access ({page})",
                      permission="Customize Application", alternative="Manage Users", page=ANCHOR),
    "audit_trail": _("the audit user lacks the '{permission}' permission: grant it to read the Setup Audit Trail "
                     "({page})", permission=VIEW_SETUP, page=ANCHOR),
    "packages": _("the audit user cannot read the installed packages through the Tooling API: grant "
                  "'{permission}' ({page})", permission=VIEW_SETUP, page=ANCHOR),
    "users.is_frozen": _("the audit user lacks the '{permission}' permission: grant it to read which users are "
                         "frozen (UserLogin) ({page})", permission="Manage Users", page=ANCHOR),
    "login_events": _("the audit user lacks the '{permission}' or '{alternative}' permission: grant one to read "
                      "the login history ({page})", permission="Manage Users",
                      alternative="Monitor Login History", page=ANCHOR),
}
GRANTS["platform.security_score"] = GRANTS["security_settings"]
GRANTS["users.is_admin"] = GRANTS["permissions"]

# Health Check's risk types -> security_settings.risk
RISKS = {"HIGH_RISK": "high", "MEDIUM_RISK": "medium", "LOW_RISK": "low", "MEETS_STANDARD": "meets",
         "INFORMATIONAL": "low"}
HEALTH_CHECK_FIELDS = ["Score"]
HEALTH_RISK_FIELDS = ["DurableId", "RiskType", "Setting", "SettingGroup", "OrgValue", "StandardValue"]

# PermissionSet fields -> canonical permission names (model.py, the permissions table)
POWERS = {
    "PermissionsModifyAllData": "modify_all_data",
    "PermissionsViewAllData": "view_all_data",
    "PermissionsManageUsers": "manage_users",
    "PermissionsAuthorApex": "author_apex",
    "PermissionsCustomizeApplication": "customize_application",
    "PermissionsApiEnabled": "api_enabled",
    "PermissionsExportReport": "export_data",  # "Export Reports"
}
API_ONLY = "PermissionsApiUserOnly"  # "API Only User": users.api_only, not a permission row
# users.is_admin: the user's *profile* grants Modify All Data or View All Data (the admins
# the company meant to have); the same powers through a permission set or group are in
# ``permissions``, where security.dangerous-permissions finds them
ADMIN_POWERS = ("PermissionsModifyAllData", "PermissionsViewAllData")
ASSIGNMENT_FIELDS = (["Id", "AssigneeId", "PermissionSetId", "PermissionSetGroupId", "PermissionSetGroup.MasterLabel",
                      "PermissionSet.Name", "PermissionSet.Label", "PermissionSet.IsOwnedByProfile",
                      "PermissionSet.Profile.Name", "PermissionSet.PermissionSetGroupId"]
                     + [f"PermissionSet.{f}" for f in POWERS] + [f"PermissionSet.{API_ONLY}"])
USER_LOGIN_FIELDS = ["Id", "UserId", "IsFrozen"]
# object access of guest users' profiles: ObjectPermissions -> "<access>:<object>" rows
OBJECT_ACCESS = {"PermissionsRead": "read", "PermissionsCreate": "create", "PermissionsEdit": "edit",
                 "PermissionsDelete": "delete", "PermissionsViewAllRecords": "view_all",
                 "PermissionsModifyAllRecords": "modify_all"}
OBJECT_PERMISSION_FIELDS = ["Id", "ParentId", "Parent.Profile.Name", "SobjectType", *OBJECT_ACCESS]
GUEST_PROFILES = "Parent.Profile.UserType = 'Guest'"
OBJECTS = {"Knowledge__kav": "knowledge"}  # SobjectType -> canonical object name (else lower-cased)
AUDIT_TRAIL_FIELDS = ["Id", "Action", "Section", "Display", "CreatedById", "CreatedDate", "DelegateUser"]
PACKAGE_FIELDS = ["Id", "SubscriberPackageId", "SubscriberPackage.Name", "SubscriberPackage.NamespacePrefix",
                  "SubscriberPackageVersionId", "SubscriberPackageVersion.Name",
                  "SubscriberPackageVersion.MajorVersion", "SubscriberPackageVersion.MinorVersion",
                  "SubscriberPackageVersion.PatchVersion", "SubscriberPackageVersion.BuildNumber",
                  "SubscriberPackageVersion.IsDeprecated", "SubscriberPackageVersion.ReleaseState"]
TOKEN_PERMISSIONS = ["PermissionsCustomizeApplication", "PermissionsManageUsers"]  # either sees every token
SELF_AUTHORIZE = "all users may self-authorize"
ADMIN_APPROVED = "admin-approved users only"


def unavailable(sink, table: str, detail: str | None = None) -> None:
    """``table`` (or ``table.column``) could not be read: said to the runner, which skips
    the checks that need it with the permission to grant, and noted in the audit."""
    reason = _("{grant}; Salesforce answered: {detail}", grant=GRANTS[table], detail=detail) if detail \
        else GRANTS[table]
    declare = getattr(sink, "unavailable", None)
    if declare is not None:
        declare(table, reason)  # also noted by the sink
    else:
        sink.note(_("Salesforce: {table} not supplied: {reason}", table=table, reason=reason))


# ----------------------------------------------------------------- vendor -> canonical


def risk_to_row(rec: dict) -> dict:
    kind = m.as_text(rec.get("RiskType"))
    return {
        "id": m.as_text(rec.get("DurableId")) or f"{rec.get('SettingGroup')}/{rec.get('Setting')}",
        "group": m.as_text(rec.get("SettingGroup")),
        "setting": m.as_text(rec.get("Setting")),
        "org_value": m.as_text(rec.get("OrgValue")),
        "recommended_value": m.as_text(rec.get("StandardValue")),
        "risk": RISKS.get(kind, kind.lower() if kind else None),
        "source": HEALTH_CHECK,
        "raw": rec,
    }


def health_score(records: list[dict]) -> float | None:
    for rec in records:
        try:
            return float(rec.get("Score"))
        except (TypeError, ValueError):
            continue
    return None


def via(rec: dict) -> tuple[str, str | None]:
    """Through what an assignment grants: the profile, a permission set group or a set."""
    if m.as_bool(m._rel(rec, "PermissionSet.IsOwnedByProfile")):
        return "profile", m.as_text(m._rel(rec, "PermissionSet.Profile.Name"))
    if rec.get("PermissionSetGroupId") or m._rel(rec, "PermissionSet.PermissionSetGroupId"):
        name = m._rel(rec, "PermissionSetGroup.MasterLabel") or m._rel(rec, "PermissionSet.Label")
        return "permission_set_group", m.as_text(name)
    return "permission_set", m.as_text(m._rel(rec, "PermissionSet.Label") or m._rel(rec, "PermissionSet.Name"))


def assignment_to_rows(rec: dict) -> list[dict]:
    """One ``permissions`` row a powerful permission the assignment grants."""
    kind, name = via(rec)
    return [{"id": f"{rec['Id']}:{permission}", "user_id": m.as_text(rec.get("AssigneeId")),
             "permission": permission, "via": kind, "via_name": name, "raw": rec}
            for field, permission in POWERS.items() if m.as_bool(m._rel(rec, f"PermissionSet.{field}"))]


def token_to_row(token: dict, scope: str | None) -> dict:
    return {
        "id": token["Id"],
        "app": m.as_text(token.get("AppName")),
        "user_id": m.as_text(token.get("UserId")),
        "created_at": utc_datetime(token.get("CreatedDate")),
        "last_used_at": utc_datetime(token.get("LastUsedDate")),
        "use_count": m.as_int(token.get("UseCount")),
        "scope": scope,
        "url": None,  # a connected app's callback URL is metadata, not in ConnectedApplication
        "raw": token,
    }


def audit_to_row(rec: dict) -> dict:
    return {
        "id": rec["Id"],
        "user_id": m.as_text(rec.get("CreatedById")),
        "action": m.as_text(rec.get("Action")),
        "section": m.as_text(rec.get("Section")),
        "display": m.as_text(rec.get("Display")),
        "created_at": utc_datetime(rec.get("CreatedDate")),
        "raw": rec,
    }


def version_text(rec: dict) -> str | None:
    """``SubscriberPackageVersion`` major.minor.patch (build), as Setup shows it."""
    parts = [m._rel(rec, f"SubscriberPackageVersion.{p}") for p in ("MajorVersion", "MinorVersion", "PatchVersion")]
    if parts[0] in (None, ""):
        return m.as_text(m._rel(rec, "SubscriberPackageVersion.Name"))
    numbers = [str(m.as_int(p) or 0) for p in parts]
    if numbers[2] == "0":
        numbers = numbers[:2]
    return ".".join(numbers)


def package_state(rec: dict) -> str:
    if m.as_bool(m._rel(rec, "SubscriberPackageVersion.IsDeprecated")):
        return "deprecated"
    release = m.as_text(m._rel(rec, "SubscriberPackageVersion.ReleaseState"))
    return "beta" if release and release.lower() == "beta" else "installed"


def package_to_row(rec: dict) -> dict:
    return {
        "id": rec["Id"],
        "name": m.as_text(m._rel(rec, "SubscriberPackage.Name")),
        "namespace": m.as_text(m._rel(rec, "SubscriberPackage.NamespacePrefix")),
        "version": version_text(rec),
        "installed_at": None,  # InstalledSubscriberPackage has no install date
        "state": package_state(rec),
        "latest_version": None,  # a subscriber org is not told a package's newest version
        "raw": rec,
    }


# ----------------------------------------------------------------------- the reads


def _read(conn: "SalesforceConnector", sink, table: str, sobject: str, fields: list[str],
          where: str | None = None, tooling: bool = False) -> list[dict] | None:
    """All records, or None (``table`` declared unavailable) when the user may not read them."""
    try:
        if tooling:
            return conn.reader.tooling(soql(fields, sobject, where), sobject)
        return conn.reader.read_all(sobject, fields, where)
    except Unavailable as exc:
        unavailable(sink, table, exc.message)
        return None


def read_health_check(conn: "SalesforceConnector", sink) -> float | None:
    """Health Check: the score (for the platform row) and, unless already stored, the
    ``security_settings`` rows."""
    scores = _read(conn, sink, "security_settings", "SecurityHealthCheck", HEALTH_CHECK_FIELDS, tooling=True)
    if scores is None:
        unavailable(sink, "platform.security_score")
        return None
    if not sink.is_complete("security_settings"):
        risks = _read(conn, sink, "security_settings", "SecurityHealthCheckRisks", HEALTH_RISK_FIELDS, tooling=True)
        if risks is not None:
            sink.write("security_settings", [risk_to_row(r) for r in risks])
            sink.complete("security_settings")
    return health_score(scores)


def object_name(sobject: str) -> str:
    return OBJECTS.get(sobject, sobject.lower())


def object_access_rows(rec: dict, holders: list[str]) -> list[dict]:
    """``<access>:<object>`` rows of one ObjectPermissions record (a guest profile's), for
    the users who hold that profile."""
    name = m.as_text(m._rel(rec, "Parent.Profile.Name"))
    target = object_name(str(rec.get("SobjectType") or ""))
    return [{"id": f"{rec['Id']}:{user}:{access}", "user_id": user, "permission": f"{access}:{target}",
             "via": "profile", "via_name": name, "raw": rec}
            for field, access in OBJECT_ACCESS.items() if m.as_bool(rec.get(field)) for user in holders]


class Powers:
    """What the permission set assignments say about each user: admins (their profile
    grants Modify or View All Data), API-only users, and the ``permissions`` rows."""

    def __init__(self, assignments: list[dict] | None):
        self.known = assignments is not None
        self.admins: set[str] = set()
        self.api_only: set[str] = set()
        self.rows: list[dict] = []
        self.holders: dict[str, list[str]] = {}  # permission set id -> its assignees
        for rec in assignments or []:
            user = rec.get("AssigneeId")
            self.holders.setdefault(rec.get("PermissionSetId"), []).append(user)
            if m.as_bool(m._rel(rec, "PermissionSet.IsOwnedByProfile")) and any(
                    m.as_bool(m._rel(rec, f"PermissionSet.{f}")) for f in ADMIN_POWERS):
                self.admins.add(user)
            if m.as_bool(m._rel(rec, f"PermissionSet.{API_ONLY}")):
                self.api_only.add(user)
            self.rows.extend(assignment_to_rows(rec))

    def add_object_access(self, records: list[dict]) -> None:
        for rec in records:
            self.rows.extend(object_access_rows(rec, self.holders.get(rec.get("ParentId"), [])))


def read_powers(conn: "SalesforceConnector", sink) -> Powers:
    """One query of every permission set assignment (REST, or Bulk 2.0 when the org has
    more than ``bulk_threshold``), with the permission set's powers, profile and group;
    then the object access of guest users' profiles (``ObjectPermissions``)."""
    powers = Powers(_read(conn, sink, "permissions", "PermissionSetAssignment", ASSIGNMENT_FIELDS))
    if powers.known:
        try:
            powers.add_object_access(conn.reader.read_all("ObjectPermissions", OBJECT_PERMISSION_FIELDS,
                                                          GUEST_PROFILES))
        except Unavailable as exc:
            sink.note(_("Salesforce: the object access of guest profiles is not in permissions: {problem} "
                        "(grant '{permission}')", problem=exc.message, permission=VIEW_SETUP))
    if not powers.known:
        unavailable(sink, "users.is_admin")
    elif not sink.is_complete("permissions"):
        sink.write("permissions", powers.rows)
        sink.complete("permissions")
    return powers


def read_frozen(conn: "SalesforceConnector", sink) -> set[str] | None:
    """Ids of frozen users (``UserLogin.IsFrozen``); None when the user may not read them."""
    rows = _read(conn, sink, "users.is_frozen", "UserLogin", USER_LOGIN_FIELDS, "IsFrozen = true")
    return None if rows is None else {r["UserId"] for r in rows if m.as_bool(r.get("IsFrozen"))}


def write_grants(conn: "SalesforceConnector", sink, apps: list[dict] | None, tokens: list[dict] | None,
                 sees_all: bool = True) -> None:
    """``oauth_grants`` from the tokens read with the integrations: each token with whether
    its app lets every user authorise it himself. ``sees_all``: the audit user may see
    every user's tokens (``UserPermissionAccess``); if not, what it read is only its own."""
    if sink.is_complete("oauth_grants"):
        return
    if tokens is None or not sees_all:
        unavailable(sink, "oauth_grants", None if tokens is None else
                    _("UserPermissionAccess says the audit user has neither, so it sees only its own tokens"))
        return
    by_app = {}
    for app in apps or []:
        flag = m.as_bool(app.get("OptionsAllowAdminApprovedUsersOnly"))
        if app.get("Name") and flag is not None:
            by_app[app["Name"].lower()] = flag
    rows = []
    for t in tokens:
        if not t.get("Id"):
            continue
        # the token's app menu item says whether admins pre-approve its users (as
        # sfdx-hardis reads it); else the connected app's own policy
        flag = m.as_bool(m._rel(t, "AppMenuItem.IsUsingAdminAuthorization"))
        if flag is None:
            flag = by_app.get(str(t.get("AppName") or "").lower())
        rows.append(token_to_row(t, None if flag is None else (ADMIN_APPROVED if flag else SELF_AUTHORIZE)))
    sink.write("oauth_grants", rows)
    sink.complete("oauth_grants")


def read_audit_trail(conn: "SalesforceConnector", sink) -> None:
    """Setup changes in the audit window (``audit_trail_days``; Salesforce keeps 180 or more)."""
    if sink.is_complete("audit_trail"):
        return
    conn.begin(sink, "audit_trail")
    since = soql_datetime(conn.as_of - timedelta(days=conn.audit_trail_days))
    rows = _read(conn, sink, "audit_trail", "SetupAuditTrail", AUDIT_TRAIL_FIELDS, f"CreatedDate >= {since}")
    if rows is not None:
        sink.write("audit_trail", [audit_to_row(r) for r in rows])
        sink.complete("audit_trail")


def read_packages(conn: "SalesforceConnector", sink) -> None:
    if sink.is_complete("packages"):
        return
    conn.begin(sink, "packages")
    rows = _read(conn, sink, "packages", "InstalledSubscriberPackage", PACKAGE_FIELDS, tooling=True)
    if rows is not None:
        sink.write("packages", [package_to_row(r) for r in rows])
        sink.complete("packages")


def user_columns(row: dict, rec: dict, powers: Powers, frozen: set[str] | None) -> dict[str, Any]:
    """The users columns of issue 16 for one User record."""
    user = rec["Id"]
    row["profile"] = m.as_text(m._rel(rec, "Profile.Name"))
    row["license"] = m.as_text(m._rel(rec, "Profile.UserLicense.Name"))
    profile_only = m.as_bool(m._rel(rec, f"Profile.{API_ONLY}"))
    row["api_only"] = bool(profile_only) or user in powers.api_only
    if frozen is not None:
        row["is_frozen"] = user in frozen
    return row
