"""Pipedrive's own limits and auth against the sandbox over real HTTP: the 429 reset headers,
the burst limiter following x-ratelimit-limit, the daily token budget, OAuth bearer tokens,
progress per table. The generic fault matrix and bad credentials are the acceptance
suite's (test_acceptance.py)."""

from __future__ import annotations

import time

import pytest

from crm_audit_core.errors import BudgetExhausted
from crm_audit_core.extract import MemorySink
from crm_audit_pipedrive.connector import create_connector
from crm_audit_pipedrive.sandbox import start_sandbox


def test_429_waits_at_least_retry_after(small_tenant, pd_options):
    with start_sandbox(small_tenant, retry_after=0.4) as handle:
        handle.inject("429", times=1, path_contains="/api/v2/organizations")
        connector = create_connector(pd_options(handle))
        started = time.monotonic()
        connector.extract(MemorySink(tenant="t"))
        assert time.monotonic() - started >= 0.4
        assert connector.stats.waited_seconds >= 0.4


def test_oauth_bearer_token_is_accepted(small_tenant):
    with start_sandbox(small_tenant, token="oauth-access-abc") as handle:
        sink = MemorySink(tenant="t")
        create_connector({"access_token": "oauth-access-abc", "base_url": handle.url}).extract(sink)
        assert len(sink.rows["contacts"]) == len(small_tenant["contacts"])


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
