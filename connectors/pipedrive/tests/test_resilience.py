"""Faults, auth, rate limits and the budget guard, against the sandbox over real HTTP."""

from __future__ import annotations

import time

import pytest

from crm_audit_core.errors import AuthError, BudgetExhausted, ConnectorError
from crm_audit_core.extract import MemorySink
from crm_audit_pipedrive.connector import create_connector
from crm_audit_pipedrive.sandbox import start_sandbox


def _ids(sink):
    return {t: sorted(str(r.get("id", r.get("name"))) for r in rows) for t, rows in sink.rows.items()}


@pytest.fixture(scope="module")
def clean_read(small_tenant):
    with start_sandbox(small_tenant) as handle:
        sink = MemorySink(tenant="t")
        create_connector({**handle.options, "retry_base_delay": 0.01, "rate_limit": 1000}).extract(sink)
        return _ids(sink)


@pytest.mark.parametrize("kind", ["429", "500", "503", "malformed", "truncated", "drop"])
def test_fault_is_retried_to_success(small_tenant, clean_read, pd_options, kind):
    with start_sandbox(small_tenant, retry_after=0.05) as handle:
        handle.inject(kind, times=2, path_contains="/api/v2/persons")
        connector = create_connector(pd_options(handle))
        sink = MemorySink(tenant="t")
        connector.extract(sink)
        persons = [r for r in handle.requests if r["path"] == "/api/v2/persons"]
        assert len(persons) == 3  # two faults, then the page
        assert connector.stats.retries == 2
        assert _ids(sink) == clean_read  # nothing lost, nothing doubled
        assert "contacts" in sink.completed


def test_slow_response_times_out_and_is_retried(small_tenant, clean_read, pd_options):
    with start_sandbox(small_tenant, slow_seconds=1.5) as handle:
        handle.inject("slow", times=1, path_contains="/api/v2/deals")
        connector = create_connector(pd_options(handle, timeout=0.4))
        sink = MemorySink(tenant="t")
        connector.extract(sink)
        assert connector.stats.retries == 1
        assert _ids(sink) == clean_read


def test_429_waits_at_least_retry_after(small_tenant, pd_options):
    with start_sandbox(small_tenant, retry_after=0.4) as handle:
        handle.inject("429", times=1, path_contains="/api/v2/organizations")
        connector = create_connector(pd_options(handle))
        started = time.monotonic()
        connector.extract(MemorySink(tenant="t"))
        assert time.monotonic() - started >= 0.4
        assert connector.stats.waited_seconds >= 0.4


def test_persistent_5xx_fails_clearly_and_leaves_table_partial(small_tenant, pd_options):
    with start_sandbox(small_tenant) as handle:
        handle.inject("503", times=100, path_contains="/api/v2/persons")
        connector = create_connector(pd_options(handle, retry_attempts=3))
        sink = MemorySink(tenant="t")
        with pytest.raises(ConnectorError) as info:
            connector.extract(sink)
        message = str(info.value)
        assert "\n" not in message and "/api/v2/persons" in message and "3 attempts" in message
        assert "companies" in sink.completed and "contacts" not in sink.completed
        assert "deals" not in sink.completed


def test_expiring_token_is_an_auth_error_not_retried(small_tenant, pd_options):
    with start_sandbox(small_tenant) as handle:
        handle.inject("expire-token", times=1, path_contains="/api/v2/persons")
        connector = create_connector(pd_options(handle))
        sink = MemorySink(tenant="t")
        with pytest.raises(AuthError):
            connector.extract(sink)
        assert [r["status"] for r in handle.requests if r["path"] == "/api/v2/persons"] == [401]
        assert "companies" in sink.completed and "contacts" not in sink.completed


def test_bad_token_one_clear_line_without_the_secret(sandbox):
    connector = create_connector({"api_token": "wrong-token-123456", "base_url": sandbox.url})
    with pytest.raises(AuthError) as info:
        connector.extract(MemorySink(tenant="t"))
    message = str(info.value)
    assert "\n" not in message and "401" in message and "api_token" in message
    assert "wrong-token-123456" not in message
    assert info.value.exit_code == 3
    assert len(sandbox.requests) == 1  # auth errors are never retried


def test_oauth_bearer_token_is_accepted(small_tenant):
    with start_sandbox(small_tenant, token="oauth-access-abc") as handle:
        sink = MemorySink(tenant="t")
        create_connector({"access_token": "oauth-access-abc", "base_url": handle.url}).extract(sink)
        assert len(sink.rows["contacts"]) == len(small_tenant["contacts"])


def test_bad_token_exit_code_3_via_cli(sandbox, tmp_path):
    from click.testing import CliRunner

    from crm_audit_core.cli import main

    config = tmp_path / "crm-audit.toml"
    config.write_text(
        f'[tenants.x]\nconnector = "pipedrive"\napi_token = "nope-nope-nope"\nbase_url = "{sandbox.url}"\n'
    )
    result = CliRunner().invoke(main, ["run", "-c", str(config), "--out", str(tmp_path / "audits"), "--no-progress"])
    assert result.exit_code == 3, result.output
    assert "nope-nope-nope" not in result.output


def test_client_limiter_keeps_under_the_burst_limit(small_tenant, pd_options):
    with start_sandbox(small_tenant, rate_limit=4, rate_window=0.3) as handle:
        connector = create_connector(pd_options(handle, rate_limit=4, rate_window=0.3))
        connector.extract(MemorySink(tenant="t"))
        assert all(r["status"] != 429 for r in handle.requests)


def test_limiter_adopts_the_server_burst_limit(small_tenant, pd_options):
    # configured far too high: the first response's x-ratelimit-limit lowers it
    with start_sandbox(small_tenant, rate_limit=3, rate_window=0.3) as handle:
        connector = create_connector(pd_options(handle, rate_limit=1000, rate_window=0.3))
        connector.extract(MemorySink(tenant="t"))
        assert connector.limiter.max_calls == 3
        assert all(r["status"] != 429 for r in handle.requests)


def test_budget_guard_stops_at_the_share(small_tenant, pd_options):
    with start_sandbox(small_tenant, daily_limit=500) as handle:
        connector = create_connector(pd_options(handle, budget_share=0.2))
        sink = MemorySink(tenant="t")
        with pytest.raises(BudgetExhausted) as info:
            connector.extract(sink)
        assert "20%" in str(info.value)
        spent = handle.app.daily_used
        assert spent <= 0.2 * 500
        assert "platform" not in sink.completed


def test_daily_budget_exhausted_stops_without_retrying(small_tenant, pd_options):
    with start_sandbox(small_tenant, daily_limit=1000, daily_used=995) as handle:
        connector = create_connector(pd_options(handle))
        with pytest.raises(BudgetExhausted):
            connector.extract(MemorySink(tenant="t"))
        assert [r["status"] for r in handle.requests] == [429]


def test_progress_per_object(small_tenant, pd_options):
    class RecordingSink(MemorySink):
        def __init__(self):
            super().__init__(tenant="t")
            self.bars = {}

        def progress(self, table, total=None):
            sink = self

            class Bar:
                records = calls = 0

                def advance(self, records=0, calls=0):
                    self.records += records
                    self.calls += calls

                def set_total(self, total):
                    pass

                def waiting(self, seconds):
                    pass

            sink.bars[table] = Bar()
            return sink.bars[table]

    with start_sandbox(small_tenant) as handle:
        sink = RecordingSink()
        create_connector(pd_options(handle)).extract(sink)
    for table in ("users", "contacts", "companies", "deals", "activities", "stages", "fields"):
        assert sink.bars[table].records == len(sink.rows[table])
        assert sink.bars[table].calls >= 1


def test_write_requests_are_refused_by_the_sandbox(sandbox):
    import requests

    response = requests.put(f"{sandbox.url}/api/v1/persons/1/merge", json={"merge_with_id": 2},
                            headers={"x-api-token": "sandbox-token"})
    assert response.status_code == 405
    assert response.json()["success"] is False
