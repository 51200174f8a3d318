"""Pipedrive's security tables over HTTP against the sandbox: permissions from users'
access and the permission sets, oauth_grants from webhooks; a token that is not a company
admin's declares both tables unavailable naming the token to use, never an error."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from crm_audit_core.connector import ExtractContext
from crm_audit_core.extract import MemorySink
from crm_audit_core.sandbox import generate_tenant
from crm_audit_core.sandbox.server import tenant_rows
from crm_audit_pipedrive.connector import PipedriveConnector, minimum_calls
from crm_audit_pipedrive.sandbox import start_sandbox

from .conftest import BASE, FAST

pytestmark = pytest.mark.skipif(
    not all(t in __import__("crm_audit_core.model", fromlist=["TABLES"]).TABLES
            for t in ("permissions", "oauth_grants")),
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
    t = make_tenant(contacts=60, companies=12, deals=20, activities=30)
    users = t["users"]
    t["permissions"] = [
        {"id": "p-admin", "user_id": users[2]["id"], "permission": "admin", "via": "user", "via_name": "company admin"},
        {"id": "p-export", "user_id": users[3]["id"], "permission": "export_data", "via": "permission_set",
         "via_name": "Exporters"},
        {"id": "p-bulk", "user_id": users[3]["id"], "permission": "bulk_edit_items", "via": "permission_set",
         "via_name": "Exporters"},
        {"id": "p-users", "user_id": users[4]["id"], "permission": "manage_users", "via": "permission_set",
         "via_name": "User managers"},
    ]
    t["oauth_grants"] = [
        {"id": "7001", "app": "Legacy sync", "user_id": users[1]["id"], "created_at": BASE - timedelta(days=400),
         "last_used_at": BASE - timedelta(days=200), "url": "http://sync.example.com/pipedrive", "scope": "webhook"},
        {"id": "7002", "app": "Broken hook", "user_id": users[1]["id"], "created_at": BASE - timedelta(days=90),
         "last_used_at": BASE - timedelta(days=9), "url": "https://broken.example.com/hook", "scope": "webhook",
         "raw": {"last_http_status": 502}},
        {"id": "7003", "app": "Mobile App", "user_id": users[1]["id"], "created_at": BASE - timedelta(days=9),
         "last_used_at": BASE - timedelta(days=1), "url": None, "scope": "api refresh_token"},
    ]
    return t


def extract(tenant, **sandbox):
    handle = start_sandbox(tenant, **sandbox)
    try:
        sink = Sink()
        connector = PipedriveConnector({**handle.options, **FAST})
        connector.extract(sink)
        return sink, connector, list(handle.requests), handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def extracted(security_tenant):
    return extract(security_tenant)


def test_permissions_round_trip(security_tenant, extracted):
    sink, *_ = extracted
    got = {(r["user_id"], r["permission"], r["via"], r["via_name"]) for r in sink.rows["permissions"]}
    users = security_tenant["users"]
    admins = {(u["id"], "admin", "user", "company admin") for u in users if u.get("is_admin")}
    planted = {(p["user_id"], p["permission"], p["via"], p["via_name"]) for p in security_tenant["permissions"]}
    assert got == admins | planted
    assert len({r["id"] for r in sink.rows["permissions"]}) == len(sink.rows["permissions"])


def test_permission_sets_read_once_and_contents_per_held_set(extracted):
    sink, connector, requests, handle = extracted
    paths = [r["path"] for r in requests if "permissionSets" in r["path"]]
    held = handle.app.data.held_sets()
    assert paths.count("/api/v1/permissionSets") == 1
    assert sorted(p.rsplit("/", 1)[1] for p in paths if p != "/api/v1/permissionSets") == held
    counts = {name: len(rows) for name, rows in handle.app.data.entities.items()}
    counts["permissionSets held"] = len(held)
    assert connector.api_calls() == minimum_calls(counts)


def test_webhooks_are_grants(security_tenant, extracted):
    sink, *_ = extracted
    grants = {r["id"]: r for r in sink.rows["oauth_grants"]}
    assert {"7001", "7002"} <= set(grants) and "7003" not in grants  # an OAuth session has no Pipedrive form
    legacy = grants["7001"]
    assert legacy["url"] == "http://sync.example.com/pipedrive" and legacy["app"] == "Legacy sync"
    assert legacy["user_id"] == security_tenant["users"][1]["id"]
    assert legacy["last_used_at"] == BASE - timedelta(days=200)
    broken = grants["7002"]
    assert broken["raw"]["last_http_status"] == 502 and broken["last_used_at"] is None
    assert "failed with HTTP 502" in broken["scope"]
    assert all("http_auth_password" not in r["raw"] for r in sink.rows["oauth_grants"])
    integrations = {r["id"] for r in sink.rows["integrations"]}
    assert {i["id"] for i in security_tenant["integrations"]} <= set(grants) and integrations


def test_a_non_admin_token_declares_the_tables(security_tenant):
    sink, *_ = extract(security_tenant, admin=False)
    assert set(sink.declared) == {"permissions", "oauth_grants"}
    assert all("admin" in reason for reason in sink.declared.values())
    assert not sink.rows.get("permissions") and not sink.rows.get("oauth_grants")
    assert "users" in sink.completed and "integrations" in sink.completed


# ------------------------------------------------------------------ the generator's planted tenant

AS_OF = datetime(2026, 3, 1, tzinfo=timezone.utc)
# the powers security.dangerous-permissions looks for, with Pipedrive's own (admin)
POWERS = {"modify_all_data", "view_all_data", "manage_users", "author_apex", "customize_application", "admin",
          "super_admin"}


@pytest.fixture(scope="module")
def planted():
    return generate_tenant(contacts=2000, seed=8, name="pd-planted", as_of=AS_OF)


@pytest.fixture(scope="module")
def planted_read(planted):
    handle = start_sandbox(planted)
    try:
        sink = Sink()
        PipedriveConnector({**handle.options, **FAST}, ExtractContext(tenant="pd-planted", as_of=AS_OF)).extract(sink)
        return sink
    finally:
        handle.stop()


def test_planted_dangerous_permissions_read_back(planted, planted_read):
    """Every planted holder of a power (a set over all data, user management) is read back
    as a non-admin holding it: the check's exact ids on Pipedrive are the generator's."""
    users = {u["id"]: u for u in planted_read.rows["users"]}
    flagged = {p["user_id"] for p in planted_read.rows["permissions"] if p["permission"] in POWERS
               and users[p["user_id"]]["is_active"] and not users[p["user_id"]]["is_admin"]}
    assert flagged == set(planted.manifest["defects"]["security.dangerous-permissions"]["ids"])
    admins = {u["id"] for u in tenant_rows(planted, "users") if u["is_admin"]}
    assert {u for u, row in users.items() if row["is_admin"]} == admins


def test_planted_connected_apps_read_back(planted, planted_read):
    """Pipedrive shows webhooks only: the planted plain-HTTP webhook, and the integrations'
    webhooks that have delivered nothing (or nothing accepted) for 90 days; the planted OAuth grants (an unused
    app, a never-used loader, an app open to all users) have no form in its API."""
    cut = AS_OF - timedelta(days=90)
    grants = planted_read.rows["oauth_grants"]
    flagged = {g["id"] for g in grants
               if (g["last_used_at"] or g["created_at"]) < cut or str(g["url"] or "").startswith("http://")}
    webhooks = {g["id"] for g in tenant_rows(planted, "oauth_grants") if g["scope"] == "webhook"}
    planted_ids = set(planted.manifest["defects"]["security.connected-app-access"]["ids"])
    # integrations' webhooks silent for 90 days, or failing (no good delivery known) since before then
    silent = {i["id"] for i in tenant_rows(planted, "integrations")
              if (i.get("last_sync_at") or i.get("created_at")) < cut
              or (i.get("status") in ("error", "failing") and i.get("created_at") < cut)}
    assert planted_ids & webhooks and flagged == (planted_ids & webhooks) | silent
    assert all(g["id"] in webhooks or g["id"] in {i["id"] for i in tenant_rows(planted, "integrations")}
               for g in grants)


def test_a_non_admin_token_is_named_in_the_audit(security_tenant, tmp_path):
    """Through the runner: the tables a non-admin token cannot read are reported with the
    reason (the token to use), and the audit goes on."""
    from crm_audit_core.acceptance.target import audit_once
    from crm_audit_core.plugins import build_plugin_manager

    handle = start_sandbox(security_tenant, admin=False)
    try:
        info, _, _ = audit_once(build_plugin_manager(), "pipedrive", {**handle.options, **FAST}, tmp_path,
                                tenant="t", as_of=BASE, checks=("security.too-many-admins",),
                                secret=handle.options["api_token"])
    finally:
        handle.stop()
    assert info["error"] is None
    notes = " ".join(info["notes"])
    assert "could not read permissions" in notes and "could not read oauth_grants" in notes
    assert "company admin's API token" in notes


def test_planted_checks_on_pipedrive(planted, tmp_path):
    """Through the runner: dangerous-permissions names exactly the generator's planted users;
    connected-app-access the planted plain-HTTP webhook (the only planted grant Pipedrive can
    show, every integration's webhook delivered within 90 days)."""
    import json

    from crm_audit_core.acceptance.target import audit_once
    from crm_audit_core.plugins import build_plugin_manager

    handle = start_sandbox(planted)
    try:
        info, folder, _ = audit_once(build_plugin_manager(), "pipedrive", {**handle.options, **FAST}, tmp_path,
                                     tenant="pd-planted", as_of=AS_OF,
                                     checks=("security.dangerous-permissions", "security.connected-app-access"),
                                     secret=handle.options["api_token"])
    finally:
        handle.stop()
    assert info["error"] is None
    results = {r["check_id"]: r for r in json.loads((folder / "report.json").read_text(encoding="utf-8"))["results"]}
    defects = planted.manifest["defects"]
    powers = results["security.dangerous-permissions"]
    assert powers["status"] == "fail"
    assert sorted(powers["affected"]["ids"]) == sorted(defects["security.dangerous-permissions"]["ids"])
    webhooks = {g["id"] for g in tenant_rows(planted, "oauth_grants") if g["scope"] == "webhook"}
    expected = set(defects["security.connected-app-access"]["ids"]) & webhooks
    apps = results["security.connected-app-access"]
    assert apps["status"] == "fail" and len(expected) == 1
    assert sorted(apps["affected"]["ids"]) == sorted(expected)
