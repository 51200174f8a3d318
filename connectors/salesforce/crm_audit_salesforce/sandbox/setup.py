"""The sandbox org's setup facts, as Salesforce keeps them (issue 16).

* Health Check (Tooling API): one ``SecurityHealthCheck`` with the tenant's
  ``platform.security_score``; one ``SecurityHealthCheckRisks`` a ``security_settings``
  row (``DurableId`` = the row's id, ``RiskType`` HIGH_RISK / MEDIUM_RISK / LOW_RISK /
  MEETS_STANDARD);
* ``SetupAuditTrail``: one record an ``audit_trail`` row, made by its user;
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
from .org import Org

RISK_TYPES = {"high": "HIGH_RISK", "medium": "MEDIUM_RISK", "low": "LOW_RISK", "meets": "MEETS_STANDARD"}


def add_setup(org: Org, ids: Any, tenant: Any) -> None:
    for name in ("SecurityHealthCheck", "SecurityHealthCheckRisks", "SetupAuditTrail", "InstalledSubscriberPackage",
                 "SubscriberPackage", "SubscriberPackageVersion"):
        org.add_object(name)
    _add_health_check(org, tenant)
    for row in tenant_rows(tenant, "audit_trail"):
        org.add("SetupAuditTrail", {
            "Id": m.to_salesforce_id(row["id"], "SetupAuditTrail"), "Action": row.get("action"),
            "Section": row.get("section"), "Display": row.get("display"),
            "CreatedById": ids.ref(row.get("user_id"), "User"), "CreatedDate": m.format_datetime(row.get("created_at")),
            "DelegateUser": None})
    for row in tenant_rows(tenant, "packages"):
        _add_package(org, ids, row)


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

