"""Security and updates in depth (issue 16), over HTTP against the sandbox: the generated
tenant's permissions, Health Check, OAuth grants, Setup Audit Trail, installed packages and
the users' and logins' security columns come back through Salesforce's own objects; the
ground truth's rules find exactly the planted ids in what the connector read (less what
Salesforce's API cannot show, named below); the checks report them; and a permission the
audit user lacks is a skip reason naming the permission to grant, never an error.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from crm_audit_core.acceptance.target import audit_once
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.sandbox import generate_tenant

from crm_audit_salesforce import mapping as m
from crm_audit_salesforce import security as sec
from crm_audit_salesforce.sandbox import start_sandbox
from crm_audit_salesforce.sandbox.org import login_api_version

from sf_testkit import FAST, run

POWERS = ("modify_all_data", "view_all_data", "manage_users", "author_apex", "customize_application")
SECURITY_CHECKS = ("security.health-check-score", "security.dangerous-permissions", "security.connected-app-access",
                   "security.guest-access", "security.admin-changes", "updates.outdated-packages",
                   "updates.clients-on-old-api-versions")


@pytest.fixture(scope="module")
def generated():
    return generate_tenant(contacts=2000, seed=7, defects=True, name="demo")


@pytest.fixture(scope="module")
def read(generated):
    handle = start_sandbox(generated)
    try:
        connector, sink = run(handle)
        yield handle, connector, sink
    finally:
        handle.stop()


def _when(value):
    when = m.utc_datetime(value)
    return None if when is None else when.replace(microsecond=0)


def _by_id(rows):
    return {r["id"]: r for r in rows}


# ------------------------------------------------------------------------- round trip


def test_health_check_round_trip(generated, read):
    _, _, sink = read
    got = _by_id(sink.rows["security_settings"])
    want = generated.rows("security_settings")
    assert len(got) == len(want)
    for row in want:  # DurableId is the row's id
        have = got[str(row["id"])]
        assert [have[c] for c in ("group", "setting", "org_value", "recommended_value", "risk")] == \
            [row[c] for c in ("group", "setting", "org_value", "recommended_value", "risk")]
        assert have["source"] == sec.HEALTH_CHECK
    platform = sink.rows["platform"][0]
    assert platform["security_score"] == generated.rows("platform")[0]["security_score"]
    assert platform["security_score_source"] == sec.HEALTH_CHECK


def test_permissions_round_trip(generated, read):
    """Every grant as (user, permission, through what, its name): system permissions from the
    permission sets (a profile's own, a set, a group's aggregate), object access of the
    guest profile from ObjectPermissions."""
    handle, _, sink = read
    ids = handle.extra["ids"]
    want = Counter((ids[str(p["user_id"])], p["permission"], p["via"], p["via_name"])
                   for p in generated.rows("permissions"))
    got = Counter((p["user_id"], p["permission"], p["via"], p["via_name"]) for p in sink.rows["permissions"])
    assert got == want
    assert {p["via"] for p in sink.rows["permissions"]} == {"profile", "permission_set", "permission_set_group"}


def test_users_and_logins_security_columns(generated, read):
    handle, _, sink = read
    ids = handle.extra["ids"]
    got = _by_id(sink.rows["users"])
    for row in generated.rows("users"):
        have = got[ids[str(row["id"])]]
        for column in ("role", "is_admin", "profile", "license", "api_only", "is_frozen"):
            assert have[column] == row[column], (row["id"], column)
    platform = generated.rows("platform")[0]
    logins = _by_id(sink.rows["login_events"])
    for row in generated.rows("login_events"):
        have = logins[ids[str(row["id"])]]
        assert (have["api_type"], have["login_type"]) == (row["api_type"], row["login_type"])
        # the generator's versions in Salesforce's numbering (deprecated ones are retired: 30.0)
        assert have["api_version"] == login_api_version(platform, row["api_version"])


def test_oauth_grants_round_trip(generated, read):
    """Each grant is an OAuth token with its id; an integration's own grant is that
    integration's token (its last use is the integration's); the other integrations keep
    a token of their own, so they are grants too."""
    handle, _, sink = read
    ids, org = handle.extra["ids"], handle.extra["org"]
    got = _by_id(sink.rows["oauth_grants"])
    grants = generated.rows("oauth_grants")
    integrations = {i["name"] for i in generated.rows("integrations")}
    merged = set()
    for row in grants:
        have = got.pop(m.to_salesforce_id(row["id"], "OauthToken"))
        assert (have["app"], have["user_id"], have["use_count"]) == (row["app"], ids[str(row["user_id"])],
                                                                      row["use_count"])
        assert _when(have["created_at"]) == _when(row["created_at"])
        if row["app"] in integrations and row["app"] not in merged:
            merged.add(row["app"])
            assert _when(have["last_used_at"]) == _when(org.integration_tokens[row["app"]]["LastUsedDate"])
        else:
            assert _when(have["last_used_at"]) == _when(row["last_used_at"])
        assert (have["scope"] == sec.SELF_AUTHORIZE) == (row["scope"] == sec.SELF_AUTHORIZE)
        assert have["url"] is None  # a connected app's callback URL is metadata, not read
    assert merged == {"Zapier", "Accounting Sync"}
    assert sorted(r["app"] for r in got.values()) == sorted(integrations - merged)


def test_audit_trail_and_packages_round_trip(generated, read):
    handle, connector, sink = read
    ids = handle.extra["ids"]
    since = generated.as_of - timedelta(days=connector.audit_trail_days)
    got = _by_id(sink.rows["audit_trail"])
    want = [r for r in generated.rows("audit_trail") if m.utc_datetime(r["created_at"]) >= since]
    assert len(got) == len(want) > 0
    for row in want:
        have = got[m.to_salesforce_id(row["id"], "SetupAuditTrail")]
        assert (have["user_id"], have["action"], have["section"], have["display"]) == \
            (ids[str(row["user_id"])], row["action"], row["section"], row["display"])
        assert _when(have["created_at"]) == _when(row["created_at"])
    packages = _by_id(sink.rows["packages"])
    assert len(packages) == len(generated.rows("packages"))
    for row in generated.rows("packages"):
        have = packages[m.to_salesforce_id(row["id"], "InstalledSubscriberPackage")]
        assert [have[c] for c in ("name", "namespace", "version", "state")] == \
            [row[c] for c in ("name", "namespace", "version", "state")]
        # Salesforce tells a subscriber org neither the install date nor the newest version
        assert have["installed_at"] is None and have["latest_version"] is None


def test_health_check_and_packages_come_from_the_tooling_api(read):
    handle, _, _ = read
    tooling = {e.get("object") for e in handle.requests if e.get("tooling")}
    assert {"SecurityHealthCheck", "SecurityHealthCheckRisks", "InstalledSubscriberPackage"} <= tooling
    assignments = [e for e in handle.requests if "FROM PermissionSetAssignment" in (e.get("soql") or "")]
    assert len(assignments) == 1  # one query: permissions, is_admin and api_only


# ------------------------------------------------------------------ the planted ids


def expected_ids(generated, handle) -> dict[str, set[str]]:
    """The planted ids as the connector names them, less what Salesforce's API cannot show:
    a grant found only by its URL (a token has none), a package found only by the newest
    version (a subscriber org is not told it)."""
    ids = handle.extra["ids"]
    perms = {str(p["id"]): p for p in generated.rows("permissions")}
    grants = {str(g["id"]): g for g in generated.rows("oauth_grants")}
    packages = {str(p["id"]): p for p in generated.rows("packages")}
    cutoff = generated.as_of - timedelta(days=90)

    def seen_without_url(g):
        last = m.utc_datetime(g["last_used_at"]) or m.utc_datetime(g["created_at"])
        return last < cutoff or g["scope"] == sec.SELF_AUTHORIZE

    out = {
        "security.health-check-score": set(generated.planted("security.health-check-score")),
        "security.dangerous-permissions": {ids[i] for i in generated.planted("security.dangerous-permissions")},
        "security.connected-app-access": {m.to_salesforce_id(i, "OauthToken")
                                          for i in generated.planted("security.connected-app-access")
                                          if seen_without_url(grants[str(i)])},
        "security.guest-access": {(ids[str(perms[i]["user_id"])], perms[i]["permission"], perms[i]["via"],
                                   perms[i]["via_name"]) for i in generated.planted("security.guest-access")},
        "security.admin-changes": {m.to_salesforce_id(i, "SetupAuditTrail")
                                   for i in generated.planted("security.admin-changes")},
        "updates.outdated-packages": {m.to_salesforce_id(i, "InstalledSubscriberPackage")
                                      for i in generated.planted("updates.outdated-packages")
                                      if packages[str(i)]["state"] == "deprecated"},
        "updates.clients-on-old-api-versions": {ids[i] for i in generated.planted("updates.clients-on-old-api-versions")},
    }
    assert len(out["security.connected-app-access"]) == len(generated.planted("security.connected-app-access")) - 1
    assert len(out["updates.outdated-packages"]) == len(generated.planted("updates.outdated-packages")) - 1
    return out


def test_ground_truth_rules_find_the_planted_ids_in_what_was_read(generated, read):
    """The ground truth's rules (tests/sandbox/test_generator.py, recompute_security) applied
    to the connector's rows find exactly the planted ids."""
    handle, _, sink = read
    now = generated.as_of
    users = _by_id(sink.rows["users"])
    got = {
        "security.health-check-score": {r["id"] for r in sink.rows["security_settings"]
                                        if r["risk"] in ("high", "medium")},
        "security.dangerous-permissions": {p["user_id"] for p in sink.rows["permissions"]
                                           if p["permission"] in POWERS and users[p["user_id"]]["is_active"]
                                           and not users[p["user_id"]]["is_admin"]
                                           and users[p["user_id"]]["role"] != "guest"},
        "security.connected-app-access": {g["id"] for g in sink.rows["oauth_grants"]
                                          if (g["last_used_at"] or g["created_at"]) < now - timedelta(days=90)
                                          or g["scope"] == sec.SELF_AUTHORIZE or (g["url"] or "").startswith("http://")},
        "security.guest-access": {(p["user_id"], p["permission"], p["via"], p["via_name"]) for p in sink.rows["permissions"]
                                  if users[p["user_id"]]["role"] == "guest" and (
                                      p["permission"] in POWERS + ("api_enabled",)
                                      or p["permission"].partition(":")[2] in ("contact", "account", "lead", "opportunity"))},
        "security.admin-changes": {a["id"] for a in sink.rows["audit_trail"]
                                   if a["created_at"] >= now - timedelta(days=365)
                                   and (not users[a["user_id"]]["is_active"] or not users[a["user_id"]]["is_admin"])},
        "updates.outdated-packages": {p["id"] for p in sink.rows["packages"] if p["state"] == "deprecated"},
        "updates.clients-on-old-api-versions": {
            e["user_id"] for e in sink.rows["login_events"]
            if e["status"] == "success" and e["at"] >= now - timedelta(days=90) and e["api_version"]
            and e["api_version"] in sink.rows["platform"][0]["api_versions_deprecated"]},
    }
    assert got == expected_ids(generated, handle)


def test_checks_report_the_planted_ids(generated, read, tmp_path):
    """A real audit: each of the seven checks reports exactly the planted ids Salesforce can show
    (a guest's grant by the id the connector gives it: the same org is built the same way)."""
    handle = start_sandbox(generated)
    try:
        _, folder, _ = audit_once(build_plugin_manager(), "salesforce", {**handle.options, **FAST}, tmp_path,
                                  as_of=generated.as_of, checks=("security.*", "updates.*"))
        expected = expected_ids(generated, handle)
    finally:
        handle.stop()
    results = {r["check_id"]: r for r in json.loads((folder / "report.json").read_text())["results"]}
    missing = [c for c in SECURITY_CHECKS if c not in results]
    if missing:
        pytest.skip(f"checks not registered yet (issue 16 core): {missing}")
    by_grant = {(p["user_id"], p["permission"], p["via"], p["via_name"]): p["id"] for p in read[2].rows["permissions"]}
    expected["security.guest-access"] = {by_grant[g] for g in expected["security.guest-access"]}
    for check_id, want in expected.items():
        result = results[check_id]
        assert result["status"] == "fail", (check_id, result.get("reason"))
        assert set(result["affected"]["ids"]) == want, check_id


# ------------------------------------------------------------ a missing permission


def test_missing_permissions_are_skip_reasons(generated):
    """Without 'View Setup and Configuration' (Health Check, audit trail, packages),
    'Manage Users' (frozen users) or login history access, the read completes and each
    table is declared unavailable with the permission to grant."""
    handle = start_sandbox(generated, login_history=False,
                           refuse=("SecurityHealthCheck", "SetupAuditTrail", "InstalledSubscriberPackage", "UserLogin",
                                   "PermissionSetAssignment", "OauthToken"))
    try:
        _, sink = run(handle)
    finally:
        handle.stop()
    reasons = sink.unavailable_reasons
    assert set(reasons) == {"security_settings", "platform.security_score", "audit_trail", "packages",
                            "users.is_frozen", "login_events", "permissions", "users.is_admin", "oauth_grants"}
    for table in ("security_settings", "audit_trail", "packages"):
        assert "'View Setup and Configuration'" in reasons[table] and "grant" in reasons[table], table
    assert "'Manage Users'" in reasons["users.is_frozen"]
    assert "'Monitor Login History'" in reasons["login_events"]
    assert "'Customize Application'" in reasons["oauth_grants"]
    for table in ("security_settings", "audit_trail", "packages", "permissions", "oauth_grants", "login_events"):
        assert table not in sink.completed, table
    assert all(r.get("is_frozen") is None and r.get("is_admin") is None for r in sink.rows["users"])
    assert sink.rows["platform"][0]["security_score"] is None
    assert "users" in sink.completed and "contacts" in sink.completed  # the rest of the audit went on


def test_only_own_tokens_visible_is_not_a_silent_pass(generated):
    """Without Customize Application or Manage Users, Salesforce silently returns only the
    audit user's own tokens: UserPermissionAccess tells, and oauth_grants is unavailable."""
    handle = start_sandbox(generated, audit_user_lacks=("CustomizeApplication", "ManageUsers"))
    try:
        _, sink = run(handle)
    finally:
        handle.stop()
    assert "oauth_grants" not in sink.completed
    assert "'Customize Application'" in sink.unavailable_reasons["oauth_grants"]
    assert "integrations" in sink.completed


def test_missing_permission_skips_the_check_with_its_reason(generated, tmp_path):
    handle = start_sandbox(generated, refuse=("SecurityHealthCheck",))
    try:
        info, folder, _ = audit_once(build_plugin_manager(), "salesforce", {**handle.options, **FAST}, tmp_path,
                                     as_of=generated.as_of, checks=("security.*",))
    finally:
        handle.stop()
    results = {r["check_id"]: r for r in json.loads((folder / "report.json").read_text())["results"]}
    if "security.health-check-score" not in results:
        pytest.skip("security.health-check-score not registered yet (issue 16 core)")
    result = results["security.health-check-score"]
    assert result["status"] == "skipped"
    assert "View Setup and Configuration" in result["reason"]


def test_security_tables_read_the_same_through_bulk():
    """Above ``bulk_threshold`` the same queries run as Bulk 2.0 jobs (parent fields as CSV
    columns such as ``PermissionSet.Profile.Name``): the same rows."""
    tenant = generate_tenant(contacts=300, seed=3, defects=True, name="bulk")
    handle = start_sandbox(tenant)
    try:
        _, rest = run(handle)
        _, bulk = run(handle, bulk_threshold=0)
        jobs = {e.get("object") for e in handle.requests if "jobs/query" in (e.get("path") or "")}
    finally:
        handle.stop()
    assert {"PermissionSetAssignment", "ObjectPermissions", "OauthToken", "SetupAuditTrail"} <= jobs

    def rows(sink, table):
        return Counter(tuple(sorted((k, str(v)) for k, v in r.items() if k != "raw")) for r in sink.rows[table])

    for table in ("permissions", "users", "oauth_grants", "audit_trail"):
        assert rows(bulk, table) == rows(rest, table), table
