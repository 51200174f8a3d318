"""Shared HTTP plumbing for connectors: call counts, rate limiting, budget guard, retries.

Connectors use their vendor's client library (or ``requests``) for the calls themselves;
this module supplies what those clients lack, the same way for every CRM:

* :class:`CallStats`: calls made, retries, seconds spent waiting on rate limits;
* :class:`RateLimiter`: a client-side sliding-window limiter (e.g. 100 calls / 10 s) that
  counts a call until a window after its answer, as servers count arrivals;
* :class:`BudgetGuard`: never spend more than a share (default 20%) of the CRM's daily
  API allowance, so the audit does not starve the company's own integrations;
* :func:`retrying`: a tenacity policy with exponential backoff and full jitter that
  honours a server's ``Retry-After`` and never retries auth errors;
* :func:`make_session`: a ``requests.Session`` with a user agent and call counting.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Callable

import requests
import tenacity

from .errors import AuthError, BudgetExhausted, ConnectorError

USER_AGENT = "crm-audit (read-only audit; https://github.com/crm-audit/crm-audit)"


@dataclass
class CallStats:
    calls: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    by_status: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record_call(self, status: int | None = None) -> None:
        with self._lock:
            self.calls += 1
            if status is not None:
                self.by_status[status] = self.by_status.get(status, 0) + 1

    def record_wait(self, seconds: float) -> None:
        with self._lock:
            self.waited_seconds += seconds

    def record_retry(self) -> None:
        with self._lock:
            self.retries += 1


class RateLimiter:
    """At most ``max_calls`` in any ``per_seconds`` window, kept from the client's side (thread-safe).

    :meth:`acquire` reserves a slot for a call about to be sent, stamped with the send
    time; a caller that does no more has a send-stamping limiter. Servers (HubSpot's
    ten-second window, Pipedrive's burst window) count a call when it *arrives*, which
    the client never sees: somewhere between sending it and reading the answer. Call k
    may reach the server later than call k + max (a 1,000-id batch is built and sent
    more slowly than a list GET), so a limiter that frees call k's slot one window after
    it was sent may send call k + max a hair early: the server counts max + 1 and answers
    429, which costs a retry and a wait. So a caller that can should call :meth:`record`
    when the answer arrived (or the call failed): the oldest reservation still held is
    replaced by the answer time, and the call holds its slot until a window after that,
    never earlier than the server lets it go. That costs one round trip per slot and
    window (milliseconds). The window's count is the reservations plus the answers still
    inside it; a reservation not recorded within a window expires as a send stamp does.

    The server's own count wins when it is tighter: :meth:`follow` adopts its window
    (from its headers), :meth:`server_full` (it says the window is full: a "remaining 0"
    header, or a 429 from other apps sharing the limit) holds the next call until our
    oldest call in the window leaves it, or for a whole window if none of ours is in it.
    ``clock`` and ``sleep`` are injectable so tests and benchmarks can use a fake clock.
    """

    def __init__(
        self,
        max_calls: int,
        per_seconds: float,
        stats: CallStats | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if max_calls <= 0 or per_seconds <= 0:
            raise ValueError("rate limit must be positive")
        self.max_calls = max_calls
        self.per_seconds = per_seconds
        self.stats = stats
        self._clock = clock
        self._sleep = sleep
        self._reserved: deque[float] = deque()  # send times of calls not yet answered, oldest first
        self._answered: deque[float] = deque()  # answer times of recent calls, oldest first
        self._hold_until = 0.0
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        for stamps in (self._reserved, self._answered):
            while stamps and now - stamps[0] >= self.per_seconds:
                stamps.popleft()

    def _delay(self, now: float) -> float:
        self._expire(now)
        wait = self._hold_until - now
        excess = len(self._reserved) + len(self._answered) - self.max_calls
        if excess >= 0:  # the oldest excess + 1 stamps must leave the window first
            oldest = sorted((*self._reserved, *self._answered))[excess]
            wait = max(wait, oldest + self.per_seconds - now)
        return max(0.0, wait)

    def delay(self) -> float:
        """Seconds until the next call may be sent (0: now)."""
        with self._lock:
            return self._delay(self._clock())

    def acquire(self) -> float:
        """Block until a call is allowed and reserve its slot; return the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                delay = self._delay(now)
                if delay <= 0:
                    self._reserved.append(now)
                    break
            # Sleep outside the lock: record() from the threads whose calls are in flight
            # must not wait for this one. 1 ms over, so float rounding does not leave the
            # oldest stamp a hair inside the window after the sleep.
            delay += 0.001
            self._sleep(delay)
            waited += delay
        if waited and self.stats:
            self.stats.record_wait(waited)
        return waited

    def record(self) -> None:
        """The answer of a call let through by :meth:`acquire` arrived, or the call failed."""
        with self._lock:
            now = self._clock()
            if self._reserved:
                self._reserved.popleft()
            self._answered.append(now)
            self._expire(now)

    def follow(self, server_max: int, interval: float | None = None) -> None:
        """Adopt the server's window (calls, and seconds if it says) where it is tighter than ours."""
        with self._lock:
            if server_max > 0:
                self.max_calls = min(self.max_calls, server_max)
            if interval is not None:
                self.per_seconds = max(self.per_seconds, interval)

    def server_full(self) -> float:
        """The server says its window is full: hold the next call until a slot frees.

        That is when our oldest call in the window leaves it, or a whole window from now
        if none of ours is in it. Returns the seconds to wait from now."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            stamps = (*self._reserved, *self._answered)
            until = min(stamps) + self.per_seconds if stamps else now + self.per_seconds
            self._hold_until = max(self._hold_until, until)
            return max(0.0, self._hold_until - now)

    def pause(self, seconds: float) -> None:
        """The server asked us to wait (Retry-After / reset header)."""
        if seconds > 0:
            self._sleep(seconds)
            if self.stats:
                self.stats.record_wait(seconds)


class BudgetGuard:
    """Stops the audit before it spends more than ``share`` of the daily API allowance.

    Call :meth:`observe` with what the CRM reports (``limit``, and ``remaining`` or
    ``used``) whenever a response carries it, and :meth:`before_call` before each call.
    Two rules, both from the CRM's own numbers:

    * the audit spends at most ``share * limit`` calls (counted by this guard);
    * it never takes more than ``share`` of what was *left* when it started: the
      remaining allowance must stay above ``(1 - share) * remaining_at_start``, so an
      audit started late in a busy day leaves the company's integrations their quota.
    """

    def __init__(self, share: float = 0.2, crm: str = "the CRM", unit: str = "API calls"):
        if not 0 < share <= 1:
            raise ValueError("budget share must be in (0, 1]")
        self.share = share
        self.crm = crm
        self.unit = unit  # what the allowance counts: "API calls", or "API tokens" (Pipedrive)
        self.limit: int | None = None
        self.remaining: int | None = None
        self.remaining_at_start: int | None = None
        self.spent = 0
        self._lock = threading.Lock()

    def observe(self, limit=None, remaining=None, used=None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = int(limit)
            if remaining is not None:
                self.remaining = int(remaining)
            elif used is not None and self.limit is not None:
                self.remaining = self.limit - int(used)
            if self.remaining_at_start is None and self.remaining is not None:
                # What was left before this audit's first counted call.
                self.remaining_at_start = self.remaining + self.spent

    @property
    def allowance(self) -> int | None:
        return None if self.limit is None else int(self.limit * self.share)

    def before_call(self, cost: int = 1) -> None:
        with self._lock:
            allowance = self.allowance
            if allowance is not None and self.spent + cost > allowance:
                raise BudgetExhausted(
                    f"stopped after {self.spent} {self.unit}: the audit may use at most "
                    f"{self.share:.0%} of {self.crm}'s daily allowance of {self.limit}",
                    hint="raise 'budget_share' in the connector's options or run the audit later",
                )
            if (
                self.remaining_at_start is not None
                and self.remaining is not None
                and self.remaining - cost < self.remaining_at_start * (1 - self.share)
                and self.spent > 0
            ):
                raise BudgetExhausted(
                    f"stopped after {self.spent} {self.unit}: {self.crm} has {self.remaining} daily {self.unit} "
                    f"left of the {self.remaining_at_start} there were when the audit started, and the audit "
                    f"leaves {1 - self.share:.0%} of them to the company's own integrations",
                    hint="run the audit after the daily quota resets, or raise 'budget_share'",
                )
            self.spent += cost


class RetryableError(ConnectorError):
    """A transient failure (429, 5xx, connection reset) worth another try."""

    def __init__(self, message: str, retry_after: float | None = None, **kw):
        super().__init__(message, **kw)
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date)."""
    if value is None or value == "":
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, (AuthError, BudgetExhausted)):
        return False
    if isinstance(exc, RetryableError):
        return True
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError))


class _Wait(tenacity.wait.wait_base):
    """Exponential backoff with full jitter, but never less than the server's Retry-After."""

    def __init__(self, base: float, cap: float, rng: random.Random):
        self.base, self.cap, self.rng = base, cap, rng

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        attempt = retry_state.attempt_number
        backoff = self.rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        after = getattr(exc, "retry_after", None)
        if after is not None:
            # The server said how long to wait: that is the floor, plus a little jitter
            # so that parallel clients do not come back in lockstep.
            return after + self.rng.uniform(0, min(1.0, self.base))
        return backoff


def retrying(
    *,
    max_attempts: int = 6,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    stats: CallStats | None = None,
    retry_if: Callable[[BaseException], bool] = _is_retryable,
    sleep: Callable[[float], None] = time.sleep,
    seed: int | None = None,
) -> tenacity.Retrying:
    """A tenacity ``Retrying`` for one logical API call.

    Retries :class:`RetryableError` (raise it for 429/5xx with ``retry_after`` from the
    response) and connection errors; never :class:`AuthError` or :class:`BudgetExhausted`.
    After the last attempt the last exception is re-raised unchanged.
    """

    def _before_sleep(state: tenacity.RetryCallState) -> None:
        if stats:
            stats.record_retry()
            stats.record_wait(state.next_action.sleep if state.next_action else 0.0)

    return tenacity.Retrying(
        stop=tenacity.stop_after_attempt(max_attempts),
        wait=_Wait(base_delay, max_delay, random.Random(seed)),
        retry=tenacity.retry_if_exception(retry_if),
        reraise=True,
        sleep=sleep,
        before_sleep=_before_sleep,
    )


class _Session(requests.Session):
    """A Session whose own ``verify`` (a CA bundle, or False) beats REQUESTS_CA_BUNDLE.

    Plain requests lets the environment's CA bundle override ``session.verify``, so a
    sandbox's throwaway CA would silently be ignored on machines that set it.
    """

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and self.verify is not True:
            settings["verify"] = self.verify
        return settings


def make_session(stats: CallStats | None = None, verify=True) -> requests.Session:
    """A ``requests.Session`` that sends our user agent and counts every response."""
    session = _Session()
    session.headers["User-Agent"] = USER_AGENT
    session.verify = verify
    if stats is not None:
        session.hooks["response"].append(lambda r, *a, **k: stats.record_call(r.status_code))
    return session
