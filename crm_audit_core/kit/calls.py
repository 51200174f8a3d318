"""One call policy for every connector: budget guard -> limiter -> send -> record -> retry.

A connector supplies only what is vendor-specific: how to send a call (its client library
or ``requests``) and how to read the answer, ``classify(response) -> Verdict``. The policy
owns everything else, the same way for every CRM:

* :meth:`CallPolicy.send`: one HTTP call. The budget guard refuses a call past the audit's
  share of the daily allowance, the rate limiter holds it until the window has room (the
  wait is shown in the progress bar), the call is sent, its slot is recorded when the answer
  arrives (or the call fails: servers count arrivals), and it is counted. Transport failures
  (connection reset, timeout, cut body) become :class:`~crm_audit_core.http.RetryableError`.
* :meth:`CallPolicy.call`: :meth:`send` plus ``classify``, retried with exponential backoff
  and full jitter (tenacity) on :data:`RETRY` and :data:`RATE_LIMITED` verdicts, honouring
  the server's ``retry_after``. Auth failures, a spent quota and fatal answers are never
  retried. After the last attempt: one :class:`~crm_audit_core.errors.ConnectorError`.
* :meth:`CallPolicy.retry`: the retry loop alone, for clients that send the request
  themselves (simple-salesforce), with ``classify_error(exception) -> Verdict | None``.

:class:`Unavailable` is the verdict "this data is not readable by this user or on this
plan": the connector catches it and notes the table or column as not supplied.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from ..errors import AuthError, BudgetExhausted, ConnectorError, CrmAuditError
from ..http import BudgetGuard, CallStats, RateLimiter, RetryableError, retrying
from ..i18n import _
from ..secrets import redact

T = TypeVar("T")

OK = "ok"
RETRY = "retry"
RATE_LIMITED = "rate-limited"
AUTH_FAILED = "auth-failed"
QUOTA_SPENT = "quota-spent"
UNAVAILABLE = "unavailable"
FATAL = "fatal"
OUTCOMES = (OK, RETRY, RATE_LIMITED, AUTH_FAILED, QUOTA_SPENT, UNAVAILABLE, FATAL)


class Unavailable(ConnectorError):
    """The CRM refused data this user or plan may not read (a 403 on an optional object).

    Not an audit failure: the connector says so with ``sink.unavailable(table_or_column,
    reason)`` (naming the permission or plan to grant; ``sink.note`` for what no check
    needs) and leaves the table or column not supplied, so the checks that need it are
    skipped with that reason."""


@dataclass
class Verdict:
    """What one answer means. Build it with the class methods:

    ``Verdict.ok(value)``, ``Verdict.retry(message, retry_after=None)``,
    ``Verdict.rate_limited(message, retry_after=None)``, ``Verdict.auth_failed(message, hint)``,
    ``Verdict.quota_spent(message, hint)``, ``Verdict.unavailable(message, hint)``,
    ``Verdict.fatal(message, hint, error=None)``.
    """

    outcome: str
    message: str = ""
    value: Any = None
    retry_after: float | None = None
    hint: str | None = None
    error: Exception | None = None  # a connector's own exception to raise instead (FATAL only)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown verdict {self.outcome!r}; known: {', '.join(OUTCOMES)}")

    @classmethod
    def ok(cls, value: Any = None) -> "Verdict":
        """The answer is good: ``value`` is what the call returns."""
        return cls(OK, value=value)

    @classmethod
    def retry(cls, message: str, retry_after: float | None = None) -> "Verdict":
        """A transient failure (5xx, a cut body): retried with backoff."""
        return cls(RETRY, message, retry_after=retry_after)

    @classmethod
    def rate_limited(cls, message: str, retry_after: float | None = None) -> "Verdict":
        """The rate window is full (429): retried after ``retry_after`` seconds."""
        return cls(RATE_LIMITED, message, retry_after=retry_after)

    @classmethod
    def auth_failed(cls, message: str, hint: str | None = None) -> "Verdict":
        """The credentials were refused: never retried (exit code 3)."""
        return cls(AUTH_FAILED, message, hint=hint)

    @classmethod
    def quota_spent(cls, message: str, hint: str | None = None) -> "Verdict":
        """The CRM's daily allowance is spent: never retried."""
        return cls(QUOTA_SPENT, message, hint=hint)

    @classmethod
    def unavailable(cls, message: str, hint: str | None = None) -> "Verdict":
        """This user or plan may not read this: noted, the data not supplied."""
        return cls(UNAVAILABLE, message, hint=hint)

    @classmethod
    def fatal(cls, message: str, hint: str | None = None, error: Exception | None = None) -> "Verdict":
        """Not retried. ``error``: the connector's own exception (a ConnectorError subclass)
        to raise, so its paging code can tell this failure from others (an expired cursor)."""
        return cls(FATAL, message, hint=hint, error=error)


class NullProgress:
    """A progress handle that shows nothing (before a table's bar exists, or in tests)."""

    def advance(self, records: int = 0, calls: int = 0) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass

    def waiting(self, seconds: float) -> None:
        pass


def _transport_errors() -> tuple[type[BaseException], ...]:
    import requests
    import urllib3

    return (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


class CallPolicy:
    """The per-call policy of one connector instance (see the module docstring).

    ``vendor``: the CRM's name in messages ("HubSpot"); ``where``: the place errors name
    (the base URL or connector name). ``limiter`` and ``budget`` are optional: a vendor
    without a burst window or without a reported daily allowance passes None.
    ``progress``: the current table's progress handle; the connector swaps it per table.
    ``sleep``: injectable for fast tests.
    """

    def __init__(self, vendor: str, where: str, *, stats: CallStats | None = None,
                 limiter: RateLimiter | None = None, budget: BudgetGuard | None = None,
                 attempts: int = 6, base_delay: float = 0.5, max_delay: float = 30.0,
                 progress: Any = None, sleep: Callable[[float], None] = time.sleep,
                 count_calls: bool = True):
        self.vendor = vendor
        self.where = where
        self.stats = stats or CallStats()
        self.limiter = limiter
        self.budget = budget
        self.attempts = max(1, int(attempts))
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.progress = progress or NullProgress()
        self._sleep = sleep
        # False when the session already counts responses (make_session(stats)).
        self.count_calls = count_calls

    # -- one call ------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a backoff), shown in the progress bar."""
        if seconds > 0:
            self._sleep(seconds)
            self.progress.waiting(seconds)

    def send(self, what: str, send: Callable[[], T], cost: int = 1, *, guarded: bool = True,
             status_of: Callable[[T], int | None] | None = None) -> T:
        """Send one HTTP call through the budget guard and the limiter; count it.

        ``guarded=False``: a call the vendor does not count against the allowance (a
        login) skips the budget guard. ``status_of(response)``: the HTTP status, for the
        per-status counts."""
        if guarded and self.budget is not None:
            self.budget.before_call(cost)
        if self.limiter is not None:
            waited = self.limiter.acquire()
            if waited:
                self.progress.waiting(waited)
        try:
            response = send()
        except CrmAuditError:
            self._answered(None)
            raise
        except _transport_errors() as exc:
            self._answered(None)
            raise RetryableError(_("{what}: connection to {vendor} failed ({error})", what=what,
                                   vendor=self.vendor, error=type(exc).__name__),
                                 where=self.where) from None
        except BaseException:
            self._answered(None)
            raise
        self._answered(status_of(response) if status_of else getattr(response, "status_code", None))
        return response

    def _answered(self, status: int | None) -> None:
        if self.limiter is not None:
            self.limiter.record()  # answered or failed: the server counted it on arrival
        if self.count_calls:
            self.stats.record_call(status)
        self.progress.advance(calls=1)

    # -- retries -------------------------------------------------------------------

    def call(self, what: str, send: Callable[[], Any], classify: Callable[[Any], Verdict],
             cost: int = 1, **send_options) -> Any:
        """Send, classify and retry; return the verdict's value (see the module docstring)."""

        def once():
            response = self.send(what, send, cost, **send_options)
            return self.apply(what, classify(response))

        return self._retrying(what, once)

    def retry(self, what: str, fn: Callable[[], T],
              classify_error: Callable[[BaseException], Verdict | None] | None = None) -> T:
        """Run ``fn`` with the retry policy; ``classify_error`` turns its exceptions into
        verdicts (None: re-raise the exception as it is)."""

        def once():
            try:
                return fn()
            except (CrmAuditError, RetryableError):
                raise
            except Exception as exc:
                verdict = classify_error(exc) if classify_error else None
                if verdict is None:
                    raise
                return self.apply(what, verdict)

        return self._retrying(what, once)

    def apply(self, what: str, verdict: Verdict) -> Any:
        """Turn a verdict into its value or its exception."""
        message = redact(verdict.message or _("{what}: {vendor} answered {outcome}", what=what,
                                              vendor=self.vendor, outcome=verdict.outcome))
        if verdict.outcome == OK:
            return verdict.value
        if verdict.outcome in (RETRY, RATE_LIMITED):
            raise RetryableError(message, retry_after=verdict.retry_after, where=self.where)
        if verdict.outcome == AUTH_FAILED:
            raise AuthError(message, where=self.where, hint=verdict.hint)
        if verdict.outcome == QUOTA_SPENT:
            raise BudgetExhausted(message, where=self.where,
                                  hint=verdict.hint or _("run the audit after the daily quota resets"))
        if verdict.outcome == UNAVAILABLE:
            raise Unavailable(message, where=self.where, hint=verdict.hint)
        if verdict.error is not None:
            raise verdict.error
        raise ConnectorError(message, where=self.where, hint=verdict.hint)

    def _retrying(self, what: str, once: Callable[[], T]) -> T:
        try:
            for attempt in retrying(max_attempts=self.attempts, base_delay=self.base_delay,
                                    max_delay=self.max_delay, stats=self.stats, sleep=self.sleep):
                with attempt:
                    return once()
        except RetryableError as exc:
            raise ConnectorError(
                _("{what} still failing after {attempts} attempts: {error}", what=what,
                  attempts=self.attempts, error=exc.message),
                where=self.where,
                hint=_("{vendor} may be degraded; run the audit again later or raise 'retry_attempts'",
                       vendor=self.vendor),
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover
