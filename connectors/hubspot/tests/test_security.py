"""HubSpot's security tables over HTTP against the sandbox: super admins (permissions), the
apps that created records (oauth_grants) and the audit log (audit_trail); a lower tier or
a missing scope declares the table unavailable naming the scope, never an error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crm_audit_core.connector import ExtractContext
from crm_audit_core.extract import MemorySink
from crm_audit_core.sandbox import generate_tenant
from crm_audit_core.sandbox.server import tenant_rows
from crm_audit_hubspot.connector import HubSpotConnector
from crm_audit_hubspot.sandbox import start_sandbox

from .conftest import FAST, T0

pytestmark = pytest.mark.skipif(
    not all(t in __import__("crm_audit_core.model", fromlist=["TABLES"]).TABLES
            for t in ("permissions", "oauth_grants", "audit_trail")),
    reason="the canonical schema has no security tables yet (issue 16)")


class Sink(MemorySink):
    """A MemorySink that also keeps what the connector declared unavailable."""

    def __init__(self):
        super().__init__("t")
        self.declared: dict[str, str] = {}

    def unavailable(self, table: str, reason: str) -> None:
        self.declared[table] = reason
        parent = getattr(super(), "unavailable", None)
        if parent is not None:
            parent(table, reason)


@pytest.fixture(scope="module")
def security_tenant(make_tenant):
    t = make_tenant(contacts=120, companies=20, deals=30, activities=30)
    users = t["users"]
    t["permissions"] = [{"id": f"{users[2]['id']}:super_admin", "user_id": users[2]["id"],
                         "permission": "super_admin", "via": "user", "via_name": "super admin"}]
    t["audit_trail"] = [
        {"id": "log-1", "user_id": users[1]["id"], "action": "UPDATE", "section": "SECURITY/USERS",
         "display": "user permissions", "created_at": T0 - timedelta(days=3)},
        {"id": "log-2", "user_id": users[3]["id"], "action": "CREATE", "section": "PIPELINE",
         "display": "Renewals", "created_at": T0 - timedelta(days=40)},
        {"id": "log-old", "user_id": users[3]["id"], "action": "DELETE", "section": "PIPELINE",
         "display": "Old", "created_at": T0 - timedelta(days=900)},
        {"id": "log-edit", "user_id": users[1]["id"], "action": "UPDATE", "section": "PROPERTY_VALUE/CONTACT",
         "display": "email", "created_at": T0 - timedelta(days=2)},
    ]
    # an app that created three contacts long ago and nothing since: it still holds its token
    t["integrations"] = [{"id": "8800", "name": "Old Importer", "status": "inactive"}]
    for k in range(3):
        old = dict(t["contacts"][k], id=f"77{k}", source="integration", source_detail="Old Importer",
                   created_at=T0 - timedelta(days=200 + k), email=f"old{k}@example.com")
        t["contacts"].append(old)
    return t


def extract(tenant, **sandbox):
    handle = start_sandbox(tenant, **sandbox)
    try:
        sink = Sink()
        HubSpotConnector({**handle.options, **FAST}, ExtractContext(tenant="t", as_of=T0)).extract(sink)
        return sink, list(handle.requests)
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def extracted(security_tenant):
    return extract(security_tenant)


def test_super_admins_round_trip(security_tenant, extracted):
    sink, _ = extracted
    rows = sink.rows["permissions"]
    expected = {u["id"] for u in security_tenant["users"] if u.get("is_admin")} | {
        p["user_id"] for p in security_tenant["permissions"]}
    assert {r["user_id"] for r in rows} == expected and len(expected) == 2
    assert {(r["permission"], r["via"]) for r in rows} == {("super_admin", "user")}
    assert "permissions" in sink.completed


def test_audit_trail_of_the_year_without_record_edits(extracted):
    sink, requests = extracted
    rows = {r["id"]: r for r in sink.rows["audit_trail"]}
    assert set(rows) == {"log-1", "log-2"}
    assert rows["log-1"]["section"] == "SECURITY/USERS" and rows["log-1"]["display"] == "user permissions"
    assert rows["log-2"]["created_at"] == T0 - timedelta(days=40)
    calls = [r for r in requests if r["path"] == "/account-info/v3/activity/audit-logs"]
    assert len(calls) == 1 and calls[0]["query"]["limit"] == "200" and calls[0]["query"]["occurredAfter"]


def test_audit_trail_user_is_the_owner_id(security_tenant, extracted):
    sink, _ = extracted
    by_id = {r["id"]: r for r in sink.rows["audit_trail"]}
    assert by_id["log-1"]["user_id"] == security_tenant["users"][1]["id"]


def test_apps_that_created_records_are_grants(security_tenant, extracted):
    sink, _ = extracted
    grants = {r["app"]: r for r in sink.rows["oauth_grants"]}
    integrations = {r["name"]: r["id"] for r in sink.rows["integrations"]}
    assert set(grants) == set(integrations) and grants
    for name, grant in grants.items():
        assert grant["id"] == integrations[name]
        made = [r["created_at"] for table in ("contacts", "companies", "deals") for r in security_tenant[table]
                if r.get("source") == "integration" and r.get("source_detail") == name]
        assert grant["use_count"] == len(made)
        assert grant["last_used_at"] == max(made) and grant["created_at"] == min(made)


def test_an_app_silent_for_months_is_a_stale_grant(extracted):
    sink, _ = extracted
    grants = {r["id"]: r for r in sink.rows["oauth_grants"]}
    old = grants["8800"]
    assert old["app"] == "Old Importer" and old["use_count"] == 3
    assert old["last_used_at"] == T0 - timedelta(days=200) and old["created_at"] == T0 - timedelta(days=202)
    stale = {i for i, g in grants.items() if g["last_used_at"] < T0 - timedelta(days=90)}
    assert stale == {"8800"}


def test_audit_log_paged_at_200(security_tenant):
    users = security_tenant["users"]
    tenant = dict(security_tenant, audit_trail=[
        {"id": f"log-{i}", "user_id": users[i % 3]["id"], "action": "UPDATE", "section": "SETTINGS",
         "display": f"setting {i}", "created_at": T0 - timedelta(hours=i)} for i in range(450)])
    sink, requests = extract(tenant)
    assert len(sink.rows["audit_trail"]) == 450
    assert sum(1 for r in requests if r["path"] == "/account-info/v3/activity/audit-logs") == 3


def test_lower_tier_and_missing_scopes_declare_the_tables(security_tenant):
    sink, _ = extract(security_tenant, audit_logs=False, login_history=False, settings_users=False)
    assert set(sink.declared) == {"audit_trail", "login_events", "permissions"}
    assert "Enterprise" in sink.declared["audit_trail"] and "account-info.security.read" in sink.declared["audit_trail"]
    assert "account-info.security.read" in sink.declared["login_events"]
    assert "settings.users.read" in sink.declared["permissions"]
    assert not sink.rows.get("audit_trail") and not sink.rows.get("permissions")
    assert not {"audit_trail", "permissions", "login_events"} & sink.completed
    assert "oauth_grants" in sink.completed  # from the records: needs no extra scope


# ------------------------------------------------------------------ the generator's planted tenant

AS_OF = datetime(2026, 3, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def planted():
    return generate_tenant(contacts=2000, seed=8, name="hs-planted", as_of=AS_OF)


@pytest.fixture(scope="module")
def planted_read(planted):
    handle = start_sandbox(planted)
    try:
        sink = Sink()
        HubSpotConnector({**handle.options, **FAST}, ExtractContext(tenant="hs-planted", as_of=AS_OF)).extract(sink)
        return sink
    finally:
        handle.stop()


def test_planted_super_admins_are_the_admins(planted, planted_read):
    """HubSpot shows super admins only (a role's permissions are not in its API): the powers
    the generator plants through permission sets have no HubSpot form, so every holder of a
    power read back is an admin and security.dangerous-permissions finds none."""
    admins = {u["id"] for u in tenant_rows(planted, "users") if u["is_admin"]}
    assert {p["user_id"] for p in planted_read.rows["permissions"]} == admins
    users = {u["id"]: u for u in planted_read.rows["users"]}
    assert all(users[p["user_id"]]["is_admin"] for p in planted_read.rows["permissions"])


def test_planted_admin_changes_read_back(planted, planted_read):
    """The audit log of the year, read back: the setup changes by users who are not admins
    or have left are exactly the generator's planted ids."""
    users = {u["id"]: u for u in planted_read.rows["users"]}
    rows = planted_read.rows["audit_trail"]
    year = AS_OF - timedelta(days=365)
    assert {r["id"] for r in tenant_rows(planted, "audit_trail") if r["created_at"] >= year} == {r["id"] for r in rows}
    flagged = {r["id"] for r in rows if not users[r["user_id"]]["is_active"] or not users[r["user_id"]]["is_admin"]}
    assert flagged == set(planted.manifest["defects"]["security.admin-changes"]["ids"])


def test_planted_silent_apps_read_back(planted, planted_read):
    """HubSpot lists no installed apps: the grants are the apps that created records, and an
    app whose last record is more than 90 days old is what security.connected-app-access
    finds (computed here from the tenant's records, independently of the connector)."""
    newest: dict[str, datetime] = {}
    for table in ("contacts", "companies", "deals"):
        for r in tenant_rows(planted, table):
            if r.get("source") == "integration" and r.get("source_detail"):
                newest[r["source_detail"]] = max(newest.get(r["source_detail"], r["created_at"]), r["created_at"])
    ids = {i["name"]: i["id"] for i in tenant_rows(planted, "integrations")}
    cut = AS_OF - timedelta(days=90)
    expected = {ids[name] for name, last in newest.items() if last < cut and name in ids}
    grants = planted_read.rows["oauth_grants"]
    assert {g["id"] for g in grants} == {ids[name] for name in newest if name in ids}
    assert {g["id"] for g in grants if (g["last_used_at"] or g["created_at"]) < cut} == expected


def test_a_lower_tier_skips_the_login_checks_naming_the_scope(security_tenant, tmp_path):
    """Through the runner: the login history a lower tier refuses skips the checks that
    need it, with the connector's reason (the tier and the scope to grant), never an error."""
    import json

    from crm_audit_core.acceptance.target import audit_once
    from crm_audit_core.plugins import build_plugin_manager

    handle = start_sandbox(security_tenant, login_history=False, audit_logs=False)
    try:
        info, folder, _ = audit_once(build_plugin_manager(), "hubspot", {**handle.options, **FAST}, tmp_path,
                                     tenant="t", as_of=T0, checks=("security.failed-login-bursts",),
                                     secret=handle.options["access_token"])
    finally:
        handle.stop()
    assert info["error"] is None
    (result,) = json.loads((folder / "report.json").read_text(encoding="utf-8"))["results"]
    assert result["status"] == "skipped"
    assert "could not be read" in result["reason"] and "account-info.security.read" in result["reason"]
    assert "Enterprise" in result["reason"]


@pytest.fixture(scope="module")
def planted_report(planted, tmp_path_factory):
    """The security checks of issue 16 on the planted tenant, through the runner (report.json)."""
    import json

    from crm_audit_core.acceptance.target import audit_once
    from crm_audit_core.plugins import build_plugin_manager

    handle = start_sandbox(planted)
    try:
        info, folder, _ = audit_once(build_plugin_manager(), "hubspot", {**handle.options, **FAST},
                                     tmp_path_factory.mktemp("audit"), tenant="hs-planted", as_of=AS_OF,
                                     checks=("security.dangerous-permissions", "security.connected-app-access",
                                             "security.admin-changes", "security.guest-access"),
                                     secret=handle.options["access_token"])
    finally:
        handle.stop()
    assert info["error"] is None
    return {r["check_id"]: r for r in json.loads((folder / "report.json").read_text(encoding="utf-8"))["results"]}


def test_planted_checks_on_hubspot(planted, planted_report):
    """admin-changes names exactly the planted changes; dangerous-permissions and
    connected-app-access run (HubSpot shows no non-admin powers, and every app created
    records within 90 days); guest access is Salesforce's: not applicable."""
    changes = planted_report["security.admin-changes"]
    assert changes["status"] == "fail"
    assert sorted(changes["affected"]["ids"]) == sorted(planted.manifest["defects"]["security.admin-changes"]["ids"])
    assert planted_report["security.dangerous-permissions"]["status"] == "pass"
    grants = planted_report["security.connected-app-access"]
    assert grants["status"] == "pass" and grants["affected"]["population"] > 0
    assert planted_report["security.guest-access"]["status"] == "not-applicable"


def test_a_silent_app_is_reported_by_the_check(security_tenant, tmp_path):
    """Through the runner: the app that created records 200 days ago and nothing since is
    the one grant security.connected-app-access reports."""
    import json

    from crm_audit_core.acceptance.target import audit_once
    from crm_audit_core.plugins import build_plugin_manager

    handle = start_sandbox(security_tenant)
    try:
        _, folder, _ = audit_once(build_plugin_manager(), "hubspot", {**handle.options, **FAST}, tmp_path,
                                  tenant="t", as_of=T0, checks=("security.connected-app-access",),
                                  secret=handle.options["access_token"])
    finally:
        handle.stop()
    (result,) = json.loads((folder / "report.json").read_text(encoding="utf-8"))["results"]
    assert result["status"] == "fail" and result["affected"]["ids"] == ["8800"]
