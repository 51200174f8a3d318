"""The HubSpot connector against its sandbox over real HTTP (no mocks of hubspot-api-client)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

import pytest

from crm_audit_core.errors import AuthError, ConfigError
from crm_audit_core.extract import MemorySink
from crm_audit_hubspot.connector import HubSpotConnector
from crm_audit_hubspot.mapping import MAPPED_COLUMNS
from crm_audit_hubspot.sandbox import start_sandbox

FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.2, "timeout": 5}


def run(handle, **options):
    connector = HubSpotConnector({**handle.options, **FAST, **options}, None)
    sink = MemorySink(tenant="t")
    connector.extract(sink)
    return connector, sink


def norm(value):
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(value.timestamp())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def keyed(rows, table):
    key = "name" if table == "fields" else ("vendor" if table == "platform" else "id")
    if table == "fields":
        return {(r["object"], r["name"]): r for r in rows}
    return {r[key]: r for r in rows}


def assert_round_trip(tenant, sink):
    for table, columns in MAPPED_COLUMNS.items():
        if table == "integrations":  # the tenant lists none; what HubSpot shows is tested below
            continue
        expected = keyed(tenant[table], table)
        got = keyed(sink.rows[table], table)
        if table == "fields":  # the sandbox adds HubSpot's own properties; compare the tenant's custom ones
            expected = {k: v for k, v in expected.items() if v["is_custom"]}
            assert set(expected) <= set(got)
        else:
            assert set(got) == set(expected), table
        for key, row in expected.items():
            for column in columns:
                if column in row:
                    assert norm(got[key][column]) == norm(row[column]), (table, key, column)


def test_custom_values_are_typed_and_apps_only_from_records(tenant, sandbox):
    connector, sink = run(sandbox)
    assert_round_trip(tenant, sink)
    # custom values arrive in "custom", declared in fields, typed by their property type
    contact = next(r for r in sink.rows["contacts"] if r["custom"].get("favourite_colour"))
    assert contact["custom"]["favourite_colour"] == "blue"
    deal = next(r for r in sink.rows["deals"] if r["custom"].get("partner_deal") is not None)
    assert isinstance(deal["custom"]["partner_deal"], bool)
    call = next(r for r in sink.rows["activities"] if r["type"] == "call")
    assert call["custom"]["call_quality"] == "good"
    assert all("raw" in r for r in sink.rows["contacts"])
    # the tenant lists no integration; HubSpot still shows each app its records name
    assert sorted(r["name"] for r in sink.rows["integrations"]) == ["Salesloft", "Zapier"]


def test_bad_token_is_one_auth_error_without_retry(tenant):
    with start_sandbox(tenant, token="right") as handle:
        with pytest.raises(AuthError) as info:
            run(handle, access_token="wrong-token-123")
        assert len(handle.requests) == 1
        text = str(info.value)
        assert "refused" in text and "wrong-token-123" not in text and "\n" not in text


def test_missing_token_is_a_config_error(monkeypatch):
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="needs option 'access_token'.*HUBSPOT_ACCESS_TOKEN"):
        HubSpotConnector({"base_url": "http://127.0.0.1:9"}, None)


def test_token_from_environment(tenant, sandbox, monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", sandbox.options["access_token"])
    connector = HubSpotConnector({"base_url": sandbox.url, **FAST}, None)
    sink = MemorySink(tenant="t")
    connector.extract(sink)
    assert len(sink.rows["contacts"]) == len(tenant["contacts"])


def test_client_side_limiter_stays_under_the_rate_limit(tenant):
    with start_sandbox(tenant, rate_limit=25, rate_window=0.5) as handle:
        connector, sink = run(handle)
        assert all(r["status"] != 429 for r in handle.requests)
        assert len(sink.rows["contacts"]) == len(tenant["contacts"])
        assert connector.stats.waited_seconds > 0


def test_429s_from_a_shared_limit_are_waited_out(tenant):
    with start_sandbox(tenant, rate_limit=15, rate_window=0.3) as handle:
        # our own limiter thinks it may go faster: the server's headers and 429s slow it down
        connector, sink = run(handle, rate_limit=1000, rate_window=0.01)
        assert_round_trip(tenant, sink)


def test_login_history_and_marketing_unavailable_are_noted(tenant):
    with start_sandbox(tenant, login_history=False, marketing=False) as handle:
        connector, sink = run(handle)
        assert "login_events" not in sink.rows and "campaigns" not in sink.completed
        assert all("last_login_at" not in u for u in sink.rows["users"])
        assert any("login history not available" in n for n in sink.notes)
        assert any("marketing email" in n for n in sink.notes)


class RecordingSink(MemorySink):
    """MemorySink that keeps each table's progress handle."""

    def __init__(self, tenant="t"):
        super().__init__(tenant)
        self.bars = {}

    def progress(self, table, total=None):
        handle = self.bars[table] = super().progress(table, total)
        return handle


def test_progress_counts_records_calls_and_waits(tenant):
    with start_sandbox(tenant, rate_limit=30, rate_window=0.5) as handle:
        sink = RecordingSink()
        connector = HubSpotConnector({**handle.options, **FAST}, None)
        connector.extract(sink)
        bars = sink.bars
        assert bars["contacts"].records == len(tenant["contacts"])
        assert bars["contacts"].calls == 3 + 1  # 3 pages + 1 association batch
        assert bars["activities"].records == len(tenant["activities"])
        assert sum(b.calls for b in bars.values()) + 2 == connector.api_calls()  # + the two account calls
        assert sum(b.waited for b in bars.values()) > 0


def test_thousand_property_portal_uses_batch_reads(tenant):
    with start_sandbox(tenant, extra_properties=1000) as handle:
        connector, sink = run(handle)
        assert all(r["status"] != 414 for r in handle.requests)
        assert max(r["url_length"] for r in handle.requests) <= 7000
        batch = [r for r in handle.requests if r["path"].endswith("/batch/read") and "/v3/objects/" in r["path"]]
        assert len(batch) == sum(math.ceil(len(tenant[t]) / 100) for t in ("contacts", "companies", "deals"))
        assert_round_trip(tenant, sink)
        contact = sink.rows["contacts"][0]
        assert "audit_padding_custom_property_contacts_00999" in contact["custom"]
        custom_fields = [f for f in sink.rows["fields"] if f["object"] == "contacts" and f["is_custom"]]
        assert len(custom_fields) == 1002


def test_a_414_switches_to_batch_reads(tenant):
    with start_sandbox(tenant, extra_properties=1000) as handle:
        connector, sink = run(handle, max_url_length=10**9)
        assert sum(1 for r in handle.requests if r["status"] == 414) == 3  # once per object, then batch reads
        assert_round_trip(tenant, sink)


def test_plugin_registers_the_connector():
    from crm_audit_hubspot import plugin

    found = []
    plugin.crm_audit_register_connectors(found.append)
    info = found[0]
    assert info.name == "hubspot" and info.sandbox is not None and "access_token" in info.options
    assert info.record_url({"portal_id": "42"}, "contact", "7") == "https://app.hubspot.com/contacts/42/record/0-1/7"
    # the reports ask with the canonical table's name (Result.affected.object)
    assert info.record_url({"portal_id": "42"}, "companies", "9") == "https://app.hubspot.com/contacts/42/record/0-2/9"
    assert info.record_url({"portal_id": "42"}, "users", "9") is None


class WriteSizes(MemorySink):
    """MemorySink that records the size of every write, per table."""

    def __init__(self, tenant="t"):
        super().__init__(tenant)
        self.sizes: dict[str, list[int]] = {}

    def write(self, table, rows):
        rows = list(rows)
        self.sizes.setdefault(table, []).append(len(rows))
        return super().write(table, rows)


def test_login_events_go_to_the_sink_page_by_page(tenant):
    """A big portal's login history is not held whole: each page is written as it is read,
    and only each user's last successful login is kept for the users table."""
    tenant = {**tenant, "login_events": list(tenant["login_events"])}
    user = tenant["users"][1]
    for i in range(450):
        tenant["login_events"].append({"id": str(9_000_000 + i), "user_id": user["id"], "status": "failure",
                                       "at": datetime(2025, 1, 1, tzinfo=timezone.utc), "ip": "10.1.1.1",
                                       "application": "Browser"})
    with start_sandbox(tenant) as handle:
        sink = WriteSizes()
        HubSpotConnector({**handle.options, **FAST}, None).extract(sink)
    assert sink.sizes["login_events"] == [200, 200, len(tenant["login_events"]) - 400]
    assert len(sink.rows["login_events"]) == len(tenant["login_events"]) and "login_events" in sink.completed
    users = {u["id"]: u for u in sink.rows["users"]}
    assert users[user["id"]]["last_login_at"] == user["last_login_at"]  # failures do not count
