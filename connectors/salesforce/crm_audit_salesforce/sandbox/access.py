"""The sandbox org's users and what they may do, as Salesforce keeps it.

From the tenant's ``users`` (``role``, ``profile``, ``license``, ``is_admin``, ``api_only``,
``is_frozen``, ``mfa_enabled``) and ``permissions`` (``user_id``, ``permission``, ``via``,
``via_name``):

* a ``Profile`` per profile name (``users.profile``, else the role's profile) and licence,
  each with its own permission set (``IsOwnedByProfile``) that holds the permissions the
  tenant grants ``via = "profile"`` under that name, and a ``UserLicense`` per licence;
* a ``PermissionSet`` per ``via_name`` granted ``via = "permission_set"`` (or ``role`` /
  ``user``, which Salesforce does not have), and a ``PermissionSetGroup`` with its
  aggregated permission set (``Type`` 'Group') per ``via = "permission_set_group"``; one
  ``PermissionSetAssignment`` per user and set or group (a group's names both);
* object access ``<access>:<object>`` (``read:contact``) granted through a profile or set:
  ``ObjectPermissions`` of that permission set (``PermissionsRead``, ``...Edit``, ...);
* a tenant without a ``permissions`` table: its admins get a profile of their own (named
  as their role's) with Modify and View All Data: the connector's ``is_admin`` is "the
  profile grants Modify or View All Data";
* a ``UserRole`` per role name (``users.role``; a guest has none);
* API-only users: an "API_Only_User" set with ``PermissionsApiUserOnly``; guests:
  ``UserType`` 'Guest'; ``UserLogin`` (``IsFrozen``) for every user;
  ``TwoFactorMethodsInfo`` for users whose MFA is known.
"""

from __future__ import annotations

from typing import Any

from crm_audit_core.sandbox.server import tenant_rows

from .. import mapping as m
from .. import security as sec
from .org import Org

PERMISSION_FIELDS = {permission: field for field, permission in sec.POWERS.items()}
ACCESS_FIELDS = {access: field for field, access in sec.OBJECT_ACCESS.items()}
SOBJECTS = {name: sobject for sobject, name in sec.OBJECTS.items()}  # canonical object -> SobjectType
API_ONLY_SET = "API_Only_User"
GUEST_PROFILE = "Guest User Profile"


def _api_name(label: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")[:80] or "Set"


class _Access:
    def __init__(self, org: Org, ids: Any, now: str | None):
        self.org, self.ids, self.now = org, ids, now
        self.profiles: dict[tuple, dict] = {}  # (name, licence, admin, guest) -> Profile
        self.profile_sets: dict[str, dict] = {}  # Profile Id -> its own permission set
        self.licenses: dict[str, dict] = {}
        self.sets: dict[str, dict] = {}  # label -> PermissionSet (not a profile's)
        self.roles: dict[str, dict] = {}  # name -> UserRole
        self.groups: dict[str, tuple[dict, dict]] = {}  # label -> (PermissionSetGroup, its aggregate set)

    def _permission_set(self, **fields) -> dict:
        record = {"Id": self.ids.new("PermissionSet"), "IsOwnedByProfile": False, "ProfileId": None,
                  "PermissionSetGroupId": None, "Type": "Regular", sec.API_ONLY: False,
                  **{f: False for f in sec.POWERS}, "CreatedDate": self.now, "LastModifiedDate": self.now}
        record.update(fields)
        return self.org.add("PermissionSet", record)

    def profile(self, name: str, license_name: str | None, admin: bool = False, guest: bool = False) -> dict:
        key = (name, license_name, admin, guest)
        if key not in self.profiles:
            lic = None
            if license_name:
                if license_name not in self.licenses:
                    self.licenses[license_name] = self.org.add("UserLicense", {
                        "Id": self.ids.new("UserLicense"), "Name": license_name,
                        "LicenseDefinitionKey": _api_name(license_name).upper(), "Status": "Active"})
                lic = self.licenses[license_name]["Id"]
            record = self.org.add("Profile", {"Id": self.ids.new("Profile"), "Name": name, "UserLicenseId": lic,
                                              "UserType": m.GUEST_USER_TYPE if guest else "Standard",
                                              sec.API_ONLY: False, "CreatedDate": self.now,
                                              "LastModifiedDate": self.now})
            self.profiles[key] = record
            own = self.profile_sets[record["Id"]] = self._permission_set(
                Name="X00e" + _api_name(name)[:20], Label=name, IsOwnedByProfile=True, ProfileId=record["Id"],
                Type="Profile")
            if admin:
                _grant(self.org, self.ids, own, {"modify_all_data", "view_all_data"})
        return self.profiles[key]

    def role(self, name: str) -> str:
        """The id of the ``UserRole`` (the role hierarchy) named ``name``."""
        if name not in self.roles:
            self.roles[name] = self.org.add("UserRole", {"Id": self.ids.new("UserRole"), "Name": name,
                                                         "DeveloperName": _api_name(name), "CreatedDate": self.now,
                                                         "LastModifiedDate": self.now})
        return self.roles[name]["Id"]

    def permission_set(self, label: str) -> dict:
        if label not in self.sets:
            self.sets[label] = self._permission_set(Name=_api_name(label), Label=label)
        return self.sets[label]

    def group(self, label: str) -> tuple[dict, dict]:
        if label not in self.groups:
            group = self.org.add("PermissionSetGroup", {
                "Id": self.ids.new("PermissionSetGroup"), "DeveloperName": _api_name(label), "MasterLabel": label,
                "Status": "Updated", "CreatedDate": self.now, "LastModifiedDate": self.now})
            aggregate = self._permission_set(Name=_api_name(label) + "_Group", Label=label, Type="Group",
                                             PermissionSetGroupId=group["Id"])
            self.groups[label] = (group, aggregate)
        return self.groups[label]

    def assign(self, user: str, permission_set: dict, group: dict | None = None) -> None:
        self.org.add("PermissionSetAssignment", {
            "Id": self.ids.new("PermissionSetAssignment"), "AssigneeId": user, "PermissionSetId": permission_set["Id"],
            "PermissionSetGroupId": group["Id"] if group else None})


def profile_name(row: dict) -> str | None:
    """A user's profile: ``users.profile``, else the profile its role stands for."""
    if row.get("profile"):
        return str(row["profile"])
    role = row.get("role")
    if role == "guest":
        return GUEST_PROFILE
    return m.ROLE_TO_PROFILE.get(role, role) if role else None


def add_access(org: Org, ids: Any, tenant: Any, now: str | None, row_to_user) -> None:
    """Users, their profiles, permission sets, groups and assignments, logins' freeze
    state and MFA registrations (see the module docstring)."""
    for name in ("User", "UserRole", "Profile", "UserLicense", "PermissionSet", "PermissionSetGroup", "PermissionSetAssignment",
                 "ObjectPermissions", "TwoFactorMethodsInfo", "UserLogin"):
        org.add_object(name)
    a = _Access(org, ids, now)
    tables = tenant if isinstance(tenant, dict) else (getattr(tenant, "tables", None) or {})
    has_permissions = "permissions" in tables
    granted: dict[str, dict[tuple[str, str], set[str]]] = {}  # user -> (via, name) -> permissions
    for p in tenant_rows(tenant, "permissions"):
        via = p.get("via") if p.get("via") in ("profile", "permission_set_group") else "permission_set"
        name = str(p.get("via_name") or p.get("permission"))
        granted.setdefault(str(p.get("user_id")), {}).setdefault((via, name), set()).add(str(p.get("permission")))
    users = tenant_rows(tenant, "users")
    profile_of: dict[str, dict] = {}
    for row in users:  # every profile's permissions first: users of a profile share them
        pname = profile_name(row)
        if pname:
            admin = bool(row.get("is_admin")) and not has_permissions
            profile = a.profile(pname, row.get("license"), admin, row.get("role") == "guest")
            profile_of[str(row["id"])] = profile
            for (via, name), powers in granted.get(str(row["id"]), {}).items():
                if via == "profile":
                    _grant(org, ids, a.profile_sets[profile["Id"]], powers)
    for row in users:
        profile = profile_of.get(str(row["id"]))
        user = org.add("User", row_to_user(row, ids, profile["Id"] if profile else None))
        if row.get("role") == "guest":
            user["UserType"] = m.GUEST_USER_TYPE
        elif row.get("role"):
            user["UserRoleId"] = a.role(str(row["role"]))
        if profile:
            a.assign(user["Id"], a.profile_sets[profile["Id"]])
        for (via, name), powers in granted.get(str(row["id"]), {}).items():
            if via == "permission_set":
                a.assign(user["Id"], _grant(org, ids, a.permission_set(name), powers))
            elif via == "permission_set_group":
                group, aggregate = a.group(name)
                a.assign(user["Id"], _grant(org, ids, aggregate, powers), group)
        if row.get("api_only"):
            a.assign(user["Id"], _api_only(a.permission_set(API_ONLY_SET)))
        org.add("UserLogin", {"Id": ids.new("UserLogin"), "UserId": user["Id"], "IsFrozen": bool(row.get("is_frozen")),
                              "IsPasswordLocked": False, "LastModifiedDate": now})
        if row.get("mfa_enabled") is not None:
            org.add("TwoFactorMethodsInfo", {"Id": ids.new("TwoFactorMethodsInfo"), "UserId": user["Id"],
                                             "HasTotp": bool(row.get("mfa_enabled")), "HasSalesforceAuthenticator": False,
                                             "HasU2F": False, "HasBuiltInAuthenticator": False})


def _grant(org: Org, ids: Any, permission_set: dict, powers: set[str]) -> dict:
    """Give a permission set system permissions (``modify_all_data``) and object access
    (``read:contact``: its ``ObjectPermissions`` record of that object)."""
    for permission in powers:
        field = PERMISSION_FIELDS.get(permission)
        if field:
            permission_set[field] = True
            continue
        access, _, target = permission.partition(":")
        if target and access in ACCESS_FIELDS:
            sobject = SOBJECTS.get(target, target[:1].upper() + target[1:])
            record = next((r for r in org.records["ObjectPermissions"] if r["ParentId"] == permission_set["Id"]
                           and r["SobjectType"] == sobject), None)
            if record is None:
                record = org.add("ObjectPermissions", {"Id": ids.new("ObjectPermissions"),
                                                       "ParentId": permission_set["Id"], "SobjectType": sobject,
                                                       **{f: False for f in sec.OBJECT_ACCESS}})
            record[ACCESS_FIELDS[access]] = True
    return permission_set


def _api_only(permission_set: dict) -> dict:
    permission_set[sec.API_ONLY] = True
    return permission_set
