"""Shared HTTP plumbing: limiter, budget guard, retries (with fake clocks, no sleeping)."""

from __future__ import annotations

import pytest

from crm_audit_core.errors import AuthError, BudgetExhausted
from crm_audit_core.http import BudgetGuard, CallStats, RateLimiter, RetryableError, parse_retry_after, retrying


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_never_exceeds_window():
    fake = FakeClock()
    stats = CallStats()
    limiter = RateLimiter(10, 2.0, stats=stats, clock=fake.clock, sleep=fake.sleep)
    stamps = []
    for _ in range(35):
        limiter.acquire()
        stamps.append(fake.now)
    for i in range(len(stamps) - 10):
        assert stamps[i + 10] - stamps[i] >= 2.0 - 1e-9
    assert stats.waited_seconds == pytest.approx(sum(fake.slept))
    assert stamps[-1] == pytest.approx(6.0, abs=0.01)  # 35 calls at 10 / 2 s: 3 full waits


def test_budget_guard_stops_at_share():
    guard = BudgetGuard(share=0.2, crm="HubSpot")
    guard.observe(limit=100, remaining=100)
    for _ in range(20):
        guard.before_call()
    with pytest.raises(BudgetExhausted, match="at most 20% of HubSpot's daily allowance of 100"):
        guard.before_call()


def test_budget_guard_takes_a_share_of_what_is_left():
    guard = BudgetGuard(share=0.2)
    guard.observe(limit=1000, remaining=300)  # a busy day: 300 left when the audit starts
    for _ in range(60):
        guard.before_call()
        guard.observe(limit=1000, remaining=guard.remaining - 1)
    with pytest.raises(BudgetExhausted, match="240 daily API calls left of the 300"):
        guard.before_call()


def test_budget_guard_counts_what_others_spend_meanwhile():
    guard = BudgetGuard(share=0.2)
    guard.observe(limit=1000, remaining=1000)
    guard.before_call()
    guard.observe(limit=1000, remaining=800)  # the company's integrations spent 199 meanwhile
    with pytest.raises(BudgetExhausted):
        guard.before_call()


def test_retrying_honours_retry_after_and_gives_up():
    fake = FakeClock()
    stats = CallStats()
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RetryableError("429", retry_after=7)
        return "ok"

    assert retrying(stats=stats, sleep=fake.sleep, seed=1)(flaky) == "ok"
    assert len(calls) == 3 and all(s >= 7 for s in fake.slept) and stats.retries == 2

    def always():
        raise RetryableError("503")

    with pytest.raises(RetryableError):
        retrying(max_attempts=4, sleep=fake.sleep, seed=1)(always)


def test_auth_errors_are_not_retried():
    fake = FakeClock()
    calls = []

    def refused():
        calls.append(1)
        raise AuthError("token refused")

    with pytest.raises(AuthError):
        retrying(sleep=fake.sleep)(refused)
    assert len(calls) == 1 and fake.slept == []


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_session_verify_beats_the_environment_ca_bundle(monkeypatch, tmp_path):
    from crm_audit_core.http import make_session

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    bundle = tmp_path / "ca.pem"
    session = make_session(verify=str(bundle))
    settings = session.merge_environment_settings("https://127.0.0.1:1/", {}, None, None, None)
    assert settings["verify"] == str(bundle)
    default = make_session()
    assert default.merge_environment_settings("https://x.example/", {}, None, None, None)["verify"] == "/etc/ssl/certs/ca-certificates.crt"
