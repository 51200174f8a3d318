"""Shared HTTP plumbing: limiter, budget guard, retries (with fake clocks, no sleeping but one thread test)."""

from __future__ import annotations

import random
import threading
import time
from collections import deque

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


# -- answer-stamped slots: a server counts a call when it arrives -------------------------


class ArrivalCountingServer:
    """A rolling window as HubSpot and Pipedrive keep it: arrivals in the last ``window`` seconds.

    A call arrives somewhere between the client sending it and reading the answer; the
    client never sees that moment."""

    def __init__(self, max_calls: int, window: float):
        self.max_calls, self.window = max_calls, window
        self.arrivals: deque[float] = deque()
        self.refused = 0

    def arrive(self, at: float) -> int:
        """Count a call arriving ``at``; return Remaining (or -1: 429)."""
        while self.arrivals and at - self.arrivals[0] >= self.window:
            self.arrivals.popleft()
        if len(self.arrivals) >= self.max_calls:
            self.refused += 1
            return -1
        self.arrivals.append(at)
        return self.max_calls - len(self.arrivals)


def latencies(seed: int, n: int) -> list[tuple[float, float, float]]:
    """Per call: (client work before the send, time to reach the server, time back).

    Some calls are slow to build and send (1,000-id association batches), most are not."""
    rng = random.Random(seed)
    return [(rng.choice([0.002, 0.01, 0.03]), rng.choice([0.0005, 0.001, 0.004, 0.012]),
             rng.choice([0.001, 0.005, 0.02])) for _ in range(n)]


def run_calls(limiter, clock: FakeClock, server: ArrivalCountingServer, timing, *, record: bool) -> list[float]:
    """Sequential calls through ``limiter``; returns the send times."""
    sent = []
    for work, there, back in timing:
        clock.now += work
        limiter.acquire()
        sent.append(clock.now)
        remaining = server.arrive(clock.now + there)
        clock.now += there + back
        if record:
            limiter.record()
            if remaining == 0:
                limiter.server_full()
    return sent


def fake_limiter(max_calls: int, per_seconds: float, clock: FakeClock, stats: CallStats | None = None) -> RateLimiter:
    return RateLimiter(max_calls, per_seconds, stats=stats, clock=clock.clock, sleep=clock.sleep)


@pytest.mark.parametrize("seed", range(5))
def test_recorded_answers_never_overrun_an_arrival_counting_server(seed):
    clock, server = FakeClock(), ArrivalCountingServer(100, 10.0)
    run_calls(fake_limiter(100, 10.0, clock), clock, server, latencies(seed, 475), record=True)
    assert server.refused == 0


def test_send_stamps_alone_overrun_an_arrival_counting_server():
    """Why record() exists: the server counts arrivals, and call k reaching it later than
    call k + 100 does makes the 101st within its ten seconds (the 429s that cost a whole
    window each, HubSpot issue #9)."""
    clock, server = FakeClock(), ArrivalCountingServer(100, 10.0)
    run_calls(fake_limiter(100, 10.0, clock), clock, server, latencies(0, 475), record=False)
    assert server.refused > 0


def test_waits_no_longer_than_until_the_oldest_answer_leaves_the_window():
    clock, stats = FakeClock(), CallStats()
    limiter = fake_limiter(3, 10.0, clock, stats)
    answers = []
    for _ in range(3):
        assert limiter.acquire() == 0  # free slots: no wait at all
        clock.now += 0.5
        limiter.record()
        answers.append(clock.now)
    waited = limiter.acquire()
    assert clock.now == pytest.approx(answers[0] + 10.0, abs=0.002)  # when the first answer's slot frees
    assert waited == pytest.approx(answers[0] + 10.0 - answers[-1], abs=0.002)
    assert waited == pytest.approx(stats.waited_seconds)
    limiter.record()
    clock.now = answers[1] + 10.0 - 0.25
    assert limiter.delay() == pytest.approx(0.25)
    clock.now = answers[1] + 10.0
    assert limiter.delay() == 0


def test_a_reservation_holds_its_slot_until_answered_then_a_window_more():
    clock = FakeClock()
    limiter = fake_limiter(2, 10.0, clock)
    limiter.acquire()  # two calls in flight at once (threads)
    limiter.acquire()
    assert limiter.delay() == pytest.approx(10.0)  # unanswered: as send stamps
    clock.now += 4.0
    limiter.record()  # one answer: the oldest reservation becomes an answer stamp
    assert limiter.delay() == pytest.approx(6.0)  # the other send stamp leaves first
    clock.now += 1.0
    limiter.record()
    assert limiter.delay() == pytest.approx(9.0)  # the first answer, 4 s after its send
    clock.now += 9.0
    assert limiter.delay() == 0


def test_the_servers_full_window_holds_until_our_oldest_call_leaves_it():
    clock = FakeClock()
    limiter = fake_limiter(100, 10.0, clock)
    for _ in range(3):
        limiter.acquire()
        clock.now += 1.0
        limiter.record()
    # other apps filled the window: one of our three leaving it frees a slot
    assert limiter.server_full() == pytest.approx(8.0)
    assert limiter.delay() == pytest.approx(8.0)
    clock.now += 8.0
    assert limiter.delay() == 0
    # none of ours in the window: a whole window
    clock.now += 30.0
    assert limiter.server_full() == pytest.approx(10.0)


def test_follows_a_tighter_server_window():
    limiter = RateLimiter(100, 10.0)
    limiter.follow(50, 10.0)
    limiter.follow(200, 1.0)
    assert (limiter.max_calls, limiter.per_seconds) == (50, 10.0)
    limiter.follow(20)  # calls only (Pipedrive's x-ratelimit-limit)
    assert (limiter.max_calls, limiter.per_seconds) == (20, 10.0)


def test_record_does_not_wait_for_a_sleeping_acquire():
    """acquire() sleeps outside the lock: a thread whose call was answered records at once."""
    limiter = RateLimiter(1, 0.5)
    limiter.acquire()
    limiter.record()
    sleeper = threading.Thread(target=limiter.acquire)
    sleeper.start()
    time.sleep(0.05)  # the sleeper waits for the slot
    started = time.monotonic()
    limiter.record()  # as if another call's answer arrived
    assert time.monotonic() - started < 0.2
    sleeper.join()


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
