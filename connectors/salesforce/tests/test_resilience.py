"""Auth, faults, throttling, budget, Bulk API 2.0, wide objects and the login modes."""

from __future__ import annotations

import pytest
import requests

from crm_audit_core.errors import AuthError, BudgetExhausted, ConfigError, ConnectorError

from crm_audit_salesforce import mapping as m
from crm_audit_salesforce.connector import SalesforceConnector
from crm_audit_salesforce.sandbox import start_sandbox
from sf_testkit import custom_differences, differences, make_tenant, run


def _bad(r):
    return r["status"] not in (200,)


# ---------------------------------------------------------------- auth


def test_bad_session_id_is_one_auth_error_never_retried(sandbox):
    with pytest.raises(AuthError) as info:
        run(sandbox, session_id="not-the-token-1234")
    text = str(info.value)
    assert "\n" not in text and "INVALID_SESSION_ID" in text and "not-the-token-1234" not in text
    assert info.value.exit_code == 3
    assert sum(1 for r in sandbox.requests if r["status"] == 401) == 1


def test_missing_credentials_is_a_config_error():
    with pytest.raises(ConfigError):
        SalesforceConnector({"instance_url": "https://x.my.salesforce.com"})
    with pytest.raises(ConfigError):
        SalesforceConnector({"session_id": "abc"})


@pytest.mark.parametrize("name, value, expected", [
    ("batch_size", "5000", "must be a whole number from 200 to 2000"),
    ("rate_limit", "20/1", "must be a whole number"),  # calls per rate_window now, as HubSpot's
    ("budget_share", "0", "must be a number above 0"),
    ("timeout", "soon", "must be a duration"),
    ("api_version", "latest", "must look like '62.0'"),
])
def test_bad_option_values_are_one_config_error(name, value, expected):
    with pytest.raises(ConfigError) as info:
        SalesforceConnector({"session_id": "abc", "instance_url": "https://x.my.salesforce.com", name: value})
    assert f"option '{name}' of the salesforce connector {expected}" in str(info.value)
    assert "\n" not in str(info.value)


def test_an_empty_security_token_is_a_token():
    """An org that trusts the caller's IP range needs no token: '' is not "unset" here."""
    connector = SalesforceConnector({"username": "a@b.c", "password": "pw", "security_token": ""})
    assert connector.mode == "password" and connector.client_kwargs()["security_token"] == ""


def test_auth_modes_build_the_right_client_arguments():
    jwt_mode = SalesforceConnector({"username": "a@b.c", "consumer_key": "ck", "private_key": "PEM", "sandbox": "true"})
    assert jwt_mode.mode == "jwt"
    assert jwt_mode.client_kwargs() == {"username": "a@b.c", "consumer_key": "ck", "privatekey": "PEM",
                                        "domain": "test", "version": "59.0"}
    password = SalesforceConnector({"username": "a@b.c", "password": "pw", "security_token": "tok"})
    assert password.mode == "password" and password.client_kwargs()["domain"] == "login"
    session = SalesforceConnector({"session_id": "abc", "instance_url": "https://x.my.salesforce.com"})
    assert session.mode == "session" and session.client_kwargs()["session_id"] == "abc"


def test_password_login_against_the_sandbox():
    tenant = make_tenant(contacts=10)
    handle = start_sandbox(tenant, username="auditor@example.com", password="pw", security_token="tok")
    try:
        options = {"username": "auditor@example.com", "password": "pw", "security_token": "tok",
                   "login_url": handle.url, "ca_bundle": handle.options["ca_bundle"], "api_version": "58.0"}
        # the token stops being valid half-way: simple-salesforce logs in again by itself
        handle.inject("expire-token", path_contains="/sobjects/Contact/describe")
        connector = SalesforceConnector({**options, "retry_base_delay": 0.01}, None)
        from crm_audit_core.extract import MemorySink

        sink = MemorySink("t")
        connector.extract(sink)
        assert len(sink.rows["contacts"]) == 10
        assert sum(1 for r in handle.requests if r["path"].startswith("/services/Soap/u/")) == 2
        with pytest.raises(AuthError) as info:
            SalesforceConnector({**options, "password": "wrong"}, None).extract(MemorySink("t"))
        assert "INVALID_LOGIN" in str(info.value)
    finally:
        handle.stop()


def test_jwt_bearer_login_against_the_sandbox():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    handle = start_sandbox(make_tenant(contacts=5), username="auditor@example.com", consumer_key="ck",
                           public_key=public)
    try:
        options = {"username": "auditor@example.com", "consumer_key": "ck", "private_key": private,
                   "login_url": handle.url, "ca_bundle": handle.options["ca_bundle"]}
        from crm_audit_core.extract import MemorySink

        sink = MemorySink("t")
        SalesforceConnector(options, None).extract(sink)
        assert len(sink.rows["contacts"]) == 5
        assert any(r["path"] == "/services/oauth2/token" for r in handle.requests)
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
        with pytest.raises(AuthError):
            SalesforceConnector({**options, "private_key": other}, None).extract(MemorySink("t"))
    finally:
        handle.stop()


# ---------------------------------------------------------------- faults


@pytest.mark.parametrize("kind", ["429", "500", "503", "slow", "drop", "malformed", "truncated"])
def test_faults_are_retried_to_the_same_result(kind, tenant):
    handle = start_sandbox(tenant, slow_seconds=1.0)
    try:
        handle.inject(kind, times=2, path_contains="/query")
        handle.inject(kind, times=1, path_contains="/describe")
        connector, sink = run(handle, timeout=0.4)
        ids = handle.extra["ids"]
        problems = []
        for table in ("contacts", "deals", "users", "activities"):
            problems += differences(tenant, sink.rows, table, ids, handle.extra["stage_keys"])
        assert not problems, problems[:5]
        assert connector.stats.retries == 3
    finally:
        handle.stop()


@pytest.mark.parametrize("kind", ["500", "drop", "malformed", "truncated"])
def test_faults_in_bulk_results_are_retried(kind, tenant):
    handle = start_sandbox(tenant)
    try:
        handle.inject(kind, times=1, path_contains="/results")
        _, sink = run(handle, bulk_threshold=5, bulk_page_size=7)
        assert not differences(tenant, sink.rows, "contacts", handle.extra["ids"], handle.extra["stage_keys"])
    finally:
        handle.stop()


def test_expired_token_stops_clearly_and_leaves_tables_partial(sandbox):
    sandbox.inject("expire-token", path_contains="/sobjects/Account/describe")
    from crm_audit_core.extract import MemorySink

    sink = MemorySink("t")
    with pytest.raises(AuthError):
        run(sandbox, sink=sink)
    assert {"platform", "users", "login_events"} <= sink.completed
    assert "fields" not in sink.completed and "contacts" not in sink.completed


def test_persistent_failure_is_reported_and_table_not_completed(sandbox):
    sandbox.inject("500", times=100, path_contains="/query")
    from crm_audit_core.extract import MemorySink

    sink = MemorySink("t")
    with pytest.raises(ConnectorError) as info:
        run(sandbox, sink=sink, retry_attempts=3)
    assert "HTTP 500" in str(info.value) and "\n" not in str(info.value)
    assert not sink.completed - {"platform"}


# ---------------------------------------------------------------- limits


def test_client_side_rate_limiter_stays_under_the_sandbox_limit(tenant):
    handle = start_sandbox(tenant, rate_limit=8, rate_window=0.5)
    try:
        # a client window a little longer than the server's absorbs network jitter
        connector, _ = run(handle, rate_limit=8, rate_window=0.6, retry_attempts=1)
        assert not [r for r in handle.requests if r["status"] == 403]
        assert connector.stats.waited_seconds > 0
    finally:
        handle.stop()
    # without the limiter the sandbox throttles (403 REQUEST_LIMIT_EXCEEDED) and retries absorb it
    handle = start_sandbox(tenant, rate_limit=8, rate_window=0.5)
    try:
        connector, sink = run(handle, retry_base_delay=0.2, retry_max_delay=0.6, retry_attempts=10)
        assert [r for r in handle.requests if r["status"] == 403]
        assert "contacts" in sink.completed
    finally:
        handle.stop()


def test_budget_guard_stops_at_the_share(tenant):
    handle = start_sandbox(tenant, daily_limit=50)
    try:
        with pytest.raises(BudgetExhausted) as info:
            run(handle)
        counted = [r for r in handle.requests if r["path"].startswith("/services/data/v")]
        assert len(counted) == 10  # 20% of 50
        assert "20%" in str(info.value)
    finally:
        handle.stop()
    # little left of the day's quota: the audit takes at most 20% of what remained (40 -> 8)
    handle = start_sandbox(tenant, daily_limit=1000, daily_used=960)
    try:
        with pytest.raises(BudgetExhausted):
            run(handle)
        assert len([r for r in handle.requests if r["path"].startswith("/services/data/v")]) <= 9
    finally:
        handle.stop()


# ---------------------------------------------------------------- bulk and wide objects


def test_bulk_api_above_the_threshold(tenant):
    handle = start_sandbox(tenant, bulk_in_progress_polls=1)
    try:
        connector, sink = run(handle, bulk_threshold=10, bulk_page_size=7)
        ids = handle.extra["ids"]
        for table in ("contacts", "deals", "activities", "login_events"):
            assert not differences(tenant, sink.rows, table, ids, handle.extra["stage_keys"]), table
        assert not custom_differences(tenant, sink.rows, "contacts", ids)
        posts = [r for r in handle.requests if r["method"] == "POST"]
        assert posts and all(r["path"].endswith("/jobs/query") for r in posts)
        results = [r for r in handle.requests if r["path"].endswith("/results")]
        contacts = sum(1 for c in tenant["contacts"] if c["lifecycle_stage"] != "lead")
        contact_job = next(r for r in posts if "FROM Contact" in r["soql"])
        assert contact_job  # Bulk SOQL sent in the body, not the URL
        assert len(results) >= -(-contacts // 7)
    finally:
        handle.stop()


@pytest.mark.parametrize("bulk_threshold", [10_000, 5])
def test_wide_contact_object_with_720_custom_fields(bulk_threshold):
    tenant = make_tenant(contacts=40, custom_contact_fields=720)
    handle = start_sandbox(tenant)
    try:
        _, sink = run(handle, bulk_threshold=bulk_threshold)
        ids = handle.extra["ids"]
        assert not differences(tenant, sink.rows, "contacts", ids, handle.extra["stage_keys"])
        assert not custom_differences(tenant, sink.rows, "contacts", ids)
        assert all(r["status"] == 200 for r in handle.requests)
        custom = [f for f in sink.rows["fields"] if f["object"] == "contacts" and f["is_custom"]]
        assert len(custom) == 720
    finally:
        handle.stop()


def test_login_history_without_permission_is_a_note(tenant):
    handle = start_sandbox(tenant, login_history=False)
    try:
        _, sink = run(handle)
        assert "login_events" not in sink.completed and not sink.rows.get("login_events")
        assert any("login history" in n for n in sink.notes)
        assert "users" in sink.completed
    finally:
        handle.stop()


# ---------------------------------------------------------------- the sandbox itself


def test_sandbox_speaks_salesforce(sandbox):
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would win over s.verify
    s.verify = sandbox.options["ca_bundle"]
    base = sandbox.url + "/services/data/v58.0"
    auth = {"Authorization": "Bearer sandbox-token"}
    r = s.get(base + "/query/", params={"q": "SELECT Id FROM Contact GROUP BY Name"}, headers=auth)
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "MALFORMED_QUERY"
    r = s.get(base + "/query/", params={"q": "SELECT Nope FROM Contact"}, headers=auth)
    assert r.json()[0]["errorCode"] == "INVALID_FIELD"
    r = s.get(base + "/query/", params={"q": "SELECT Id FROM Contact"})
    assert r.status_code == 401 and r.json() == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    r = s.get(base + "/query/", params={"q": "SELECT Id, Account.Name FROM Contact WHERE CreatedDate >= "
                                            "2020-01-01T00:00:00Z ORDER BY CreatedDate DESC LIMIT 3"}, headers=auth)
    body = r.json()
    assert r.headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert len(body["records"]) == 3 and body["records"][0]["attributes"]["type"] == "Contact"
    assert set(body["records"][0]) == {"attributes", "Id", "Account"}
    r = s.get(base + "/query/", params={"q": "SELECT Id FROM Contact " + "x" * 17000}, headers=auth)
    assert r.status_code == 414
    assert m.sobject_of(body["records"][0]["Id"]) == "Contact"
