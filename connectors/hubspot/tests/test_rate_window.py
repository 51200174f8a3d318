"""The client-side ten-second window (CallWindow), on a fake clock: no sleeping, no timing thresholds.

A simulated HubSpot counts each call when it *arrives*, somewhere between the client
sending it and reading the answer; the client never sees that moment.
"""

from __future__ import annotations

import json
import random
from collections import deque

import pytest

from crm_audit_core.http import CallStats, RateLimiter, RetryableError
from crm_audit_hubspot.connector import CallWindow, HubSpotConnector


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Server:
    """HubSpot's rolling window as the sandbox keeps it: arrivals in the last ``window`` seconds."""

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


def run_calls(limiter, clock: FakeClock, server: Server, timing, *, stamp_on_answer: bool = True) -> list[float]:
    """Sequential calls through ``limiter``; returns the send times."""
    sent = []
    for work, there, back in timing:
        clock.now += work
        limiter.acquire()
        sent.append(clock.now)
        remaining = server.arrive(clock.now + there)
        clock.now += there + back
        if stamp_on_answer:
            limiter.record()
            if remaining == 0:
                limiter.server_full()
    return sent


@pytest.mark.parametrize("seed", range(5))
def test_never_more_calls_in_the_servers_window_than_it_allows(seed):
    clock, server = FakeClock(), Server(100, 10.0)
    window = CallWindow(100, 10.0, clock=clock.clock, sleep=clock.sleep)
    run_calls(window, clock, server, latencies(seed, 475))
    assert server.refused == 0


def test_a_limiter_stamping_calls_when_sent_overruns_the_servers_window():
    """Why CallWindow stamps answers: the server counts arrivals, and call k reaching it
    later than call k + 100 does makes the 101st within its ten seconds (the 429s that
    cost a whole window each, issue #9)."""
    clock, server = FakeClock(), Server(100, 10.0)
    limiter = RateLimiter(100, 10.0, clock=clock.clock, sleep=clock.sleep)
    run_calls(limiter, clock, server, latencies(0, 475), stamp_on_answer=False)
    assert server.refused > 0


def test_waits_no_longer_than_until_the_oldest_answer_leaves_the_window():
    clock = FakeClock()
    stats = CallStats()
    window = CallWindow(3, 10.0, stats=stats, clock=clock.clock, sleep=clock.sleep)
    answers = []
    for _ in range(3):
        assert window.acquire() == 0  # free slots: no wait at all
        clock.now += 0.5
        window.record()
        answers.append(clock.now)
    waited = window.acquire()
    assert clock.now == pytest.approx(answers[0] + 10.0)  # exactly when the first answer's slot frees
    assert waited == pytest.approx(answers[0] + 10.0 - answers[-1]) == stats.waited_seconds
    window.record()
    clock.now = answers[1] + 10.0 - 0.25
    assert window.delay() == pytest.approx(0.25)
    clock.now = answers[1] + 10.0
    assert window.delay() == 0


def test_the_servers_full_window_holds_until_our_oldest_call_leaves_it():
    clock = FakeClock()
    window = CallWindow(100, 10.0, clock=clock.clock, sleep=clock.sleep)
    for _ in range(3):
        window.acquire()
        clock.now += 1.0
        window.record()
    # other apps filled the window: one of our three leaving it frees a slot
    assert window.server_full() == pytest.approx(8.0)
    assert window.delay() == pytest.approx(8.0)
    clock.now += 8.0
    assert window.delay() == 0
    # none of ours in the window: a whole window
    clock.now += 30.0
    assert window.server_full() == pytest.approx(10.0)


def test_follows_a_tighter_server_window():
    window = CallWindow(100, 10.0)
    window.follow(50, 10.0)
    window.follow(200, 1.0)
    assert (window.max_calls, window.per_seconds) == (50, 10.0)


def rate_limited(connector, clock: FakeClock, in_a_row: int, retry_after: str | None = None) -> RetryableError:
    headers = {"x-hubspot-ratelimit-max": "100", "x-hubspot-ratelimit-remaining": "0",
               "x-hubspot-ratelimit-interval-milliseconds": "10000"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    connector._observe(headers)
    connector._rate_limited_in_a_row = in_a_row
    body = json.dumps({"status": "error", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}).encode()
    return connector._error("contacts page", 429, headers, body)


def test_a_429_waits_for_a_free_slot_then_whole_windows():
    clock = FakeClock()
    connector = HubSpotConnector({"access_token": "t", "base_url": "http://127.0.0.1:9"}, None)
    connector.limiter = CallWindow(100, 10.0, clock=clock.clock, sleep=clock.sleep)
    connector.limiter.acquire()
    connector.limiter.record()
    clock.now += 7.0
    first = rate_limited(connector, clock, 1)
    assert first.retry_after == pytest.approx(3.0)  # our call of 7 s ago leaves the window in 3 s
    assert rate_limited(connector, clock, 2).retry_after == pytest.approx(10.0)  # others keep it full
    assert rate_limited(connector, clock, 1, retry_after="4").retry_after == pytest.approx(4.0)  # the server's word
