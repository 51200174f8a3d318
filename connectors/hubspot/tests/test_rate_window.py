"""How the connector answers a full ten-second window (a 429 or ``Remaining: 0``), on a fake clock.

The window itself is ``crm_audit_core.http.RateLimiter`` (answer-stamped slots,
``server_full``); its tests, with a simulated server that counts arrivals, are in
tests/test_http.py.
"""

from __future__ import annotations

import json

import pytest

from crm_audit_core.kit import RATE_LIMITED, RateLimiter, Verdict
from crm_audit_hubspot.connector import HubSpotConnector


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def rate_limited(connector, in_a_row: int, retry_after: str | None = None) -> Verdict:
    headers = {"x-hubspot-ratelimit-max": "100", "x-hubspot-ratelimit-remaining": "0",
               "x-hubspot-ratelimit-interval-milliseconds": "10000"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    connector.transport.observe(headers)
    connector.transport._rate_limited_in_a_row = in_a_row
    body = json.dumps({"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}).encode()
    verdict = connector.transport.verdict("contacts page", 429, headers, body)
    assert verdict.outcome == RATE_LIMITED
    return verdict


def test_a_429_waits_for_a_free_slot_then_whole_windows():
    clock = FakeClock()
    connector = HubSpotConnector({"access_token": "t", "base_url": "http://127.0.0.1:9"}, None)
    connector.transport.policy.limiter = RateLimiter(100, 10.0, clock=clock.clock, sleep=clock.sleep)
    connector.transport.limiter.acquire()
    connector.transport.limiter.record()
    clock.now += 7.0
    first = rate_limited(connector, 1)
    assert first.retry_after == pytest.approx(3.0)  # our call of 7 s ago leaves the window in 3 s
    assert rate_limited(connector, 2).retry_after == pytest.approx(10.0)  # others keep it full
    assert rate_limited(connector, 1, retry_after="4").retry_after == pytest.approx(4.0)  # the server's word


def test_the_connector_uses_the_core_limiter_for_its_ten_second_window():
    connector = HubSpotConnector({"access_token": "t", "base_url": "http://127.0.0.1:9"}, None)
    assert type(connector.transport.limiter) is RateLimiter
    assert (connector.transport.limiter.max_calls, connector.transport.limiter.per_seconds) == (100, 10.0)
