"""The sandbox org's setup facts, as Salesforce keeps them (issue 16).

* Health Check (Tooling API): one ``SecurityHealthCheck`` with the tenant's
  ``platform.security_score``; one ``SecurityHealthCheckRisks`` a ``security_settings``
  row (``DurableId`` = the row's id, ``RiskType`` HIGH_RISK / MEDIUM_RISK / LOW_RISK /
  MEETS_STANDARD);
* ``SetupAuditTrail``: one record an ``audit_trail`` row, made by its user;
* OAuth grants (``oauth_grants``): an ``OauthToken`` a grant (``Id`` from the grant's id),
  its app's ``AppMenuItem`` with ``IsUsingAdminAuthorization`` false for the scope "all
  users may self-authorize"; a grant of an integration's app by the user the integration
  runs as *is* that integration's token (:mod:`.integrations`): it takes the grant's id,
  creation and use count and keeps the integration's last use. Integrations without such
  a grant keep a token of their own, so the org's tokens are the grants plus those. A
  grant's ``url`` has no place in a token (a connected app's callback URL is metadata);
* installed packages (Tooling API): an ``InstalledSubscriberPackage`` a ``packages`` row,
  with its ``SubscriberPackage`` (name, namespace) and ``SubscriberPackageVersion``
  (major.minor.patch, ``IsDeprecated`` for state "deprecated", ``ReleaseState`` 'Beta' for
  state "beta").
"""

from __future__ import annotations

import re
from typing import Any

from crm_audit_core.sandbox.server import tenant_rows

from .. import mapping as m
from .. import security as sec
from ..security import SELF_AUTHORIZE
from .org import Org

RISK_TYPES = {"high": "HIGH_RISK", "medium": "MEDIUM_RISK", "low": "LOW_RISK", "meets": "MEETS_STANDARD"}


def add_setup(org: Org, ids: Any, tenant: Any) -> None:
    for name in ("SecurityHealthCheck", "SecurityHealthCheckRisks", "SetupAuditTrail", "InstalledSubscriberPackage",
                 "SubscriberPackage", "SubscriberPackageVersion"):
        org.add_object(name)
    _add_health_check(org, tenant)
    org.add_object("UserPermissionAccess")  # the audit user's own permissions (SalesforceSandbox(audit_user_lacks=))
    org.add("UserPermissionAccess", {"Id": "UserPermissionAccess", **{f: True for f in sec.TOKEN_PERMISSIONS}})
    for row in tenant_rows(tenant, "audit_trail"):
        org.add("SetupAuditTrail", {
            "Id": m.to_salesforce_id(row["id"], "SetupAuditTrail"), "Action": row.get("action"),
            "Section": row.get("section"), "Display": row.get("display"),
            "CreatedById": ids.ref(row.get("user_id"), "User"), "CreatedDate": m.format_datetime(row.get("created_at")),
            "DelegateUser": None})
    for row in tenant_rows(tenant, "packages"):
        _add_package(org, ids, row)


def add_grants(org: Org, ids: Any, tenant: Any) -> None:
    """OAuth grants as tokens (see the module docstring); after the integrations' tokens."""
    org.add_object("AppMenuItem")
    items: dict[str, dict] = {}

    def item(app: str, admin_approved: bool) -> str:
        if app.lower() not in items:
            connected = next((c for c in org.records.get("ConnectedApplication", []) if c["Name"] == app), None)
            items[app.lower()] = org.add("AppMenuItem", {
                "Id": ids.new("AppMenuItem"), "Name": app, "Label": app, "Type": "ConnectedApplication",
                "ApplicationId": connected["Id"] if connected else None, "IsUsingAdminAuthorization": admin_approved})
        return items[app.lower()]["Id"]

    for app in org.records.get("ConnectedApplication", []):
        app.setdefault("OptionsAllowAdminApprovedUsersOnly", True)  # integrations: admins approve their users
    merged: set[str] = set()
    for name, token in org.integration_tokens.items():
        token["AppMenuItemId"] = item(name, True)
    for row in tenant_rows(tenant, "oauth_grants"):
        app, user = str(row.get("app")), ids.ref(row.get("user_id"), "User")
        sf_id = m.to_salesforce_id(row["id"], "OauthToken")
        token = org.integration_tokens.get(app)
        if token is not None and token["UserId"] == user and app not in merged:
            merged.add(app)
            org.by_id.pop(token["Id"], None)
            token.update(Id=sf_id, CreatedDate=m.format_datetime(row.get("created_at")),
                         UseCount=row.get("use_count"))
            org.by_id[sf_id] = token
            continue
        org.add("OauthToken", {
            "Id": sf_id, "AppName": app, "UserId": user, "CreatedDate": m.format_datetime(row.get("created_at")),
            "LastUsedDate": m.format_datetime(row.get("last_used_at")), "UseCount": row.get("use_count"),
            "AppMenuItemId": item(app, row.get("scope") != SELF_AUTHORIZE)})


def _add_health_check(org: Org, tenant: Any) -> None:
    platform = (tenant_rows(tenant, "platform") or [{}])[0]
    score = platform.get("security_score")
    if score is None or score != score:  # NaN from Arrow
        return
    org.add("SecurityHealthCheck", {"Id": "SecurityHealthCheck", "DurableId": "SecurityHealthCheck",
                                    "Score": f"{float(score):g}", "CustomBaselineId": None})
    for row in tenant_rows(tenant, "security_settings"):
        risk = str(row.get("risk") or "")
        org.add("SecurityHealthCheckRisks", {
            "Id": str(row["id"]), "DurableId": str(row["id"]), "RiskType": RISK_TYPES.get(risk, risk.upper() or None),
            "Setting": row.get("setting"), "SettingGroup": row.get("group"), "OrgValue": row.get("org_value"),
            "StandardValue": row.get("recommended_value"), "OrgValueRaw": row.get("org_value"),
            "SecurityHealthCheckId": "SecurityHealthCheck"})


def version_parts(text: Any) -> list[int | None]:
    """``"2.14.1"`` -> [2, 14, 1]; missing parts None (a version without numbers: all None)."""
    numbers = [int(n) for n in re.findall(r"\d+", str(text or ""))][:4]
    return numbers + [None] * (4 - len(numbers))


def _add_package(org: Org, ids: Any, row: dict) -> None:
    package = org.add("SubscriberPackage", {
        "Id": ids.new("SubscriberPackage"), "Name": row.get("name"), "NamespacePrefix": row.get("namespace"),
        "Description": None})
    major, minor, patch, build = version_parts(row.get("version"))
    state = str(row.get("state") or "").lower()
    version = org.add("SubscriberPackageVersion", {
        "Id": ids.new("SubscriberPackageVersion"), "Name": row.get("version"), "SubscriberPackageId": package["Id"],
        "MajorVersion": major, "MinorVersion": minor, "PatchVersion": patch, "BuildNumber": build,
        "IsDeprecated": state == "deprecated", "ReleaseState": "Beta" if state == "beta" else "Released",
        "IsBeta": state == "beta", "IsManaged": bool(row.get("namespace"))})
    org.add("InstalledSubscriberPackage", {
        "Id": m.to_salesforce_id(row["id"], "InstalledSubscriberPackage"), "SubscriberPackageId": package["Id"],
        "SubscriberPackageVersionId": version["Id"], "MinPackageVersionId": version["Id"]})

