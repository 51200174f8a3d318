"""Every HTTP call the Salesforce connector makes, and what its failures mean.

simple-salesforce makes the calls but has no retries, rate limiting or budget guard
(shared/CRM-APIS.md, section 0). :class:`SalesforceTransport` is a ``requests`` transport
adapter mounted on the session simple-salesforce uses, so every call (REST, Bulk 2.0,
logins) passes through it: timeout, client-side rate limit, budget guard, call counting,
and the daily usage read from ``Sforce-Limit-Info``. :class:`Calls` holds that shared
state and runs each client call in the retry loop, translating simple-salesforce's
exceptions into the core's errors (retryable, auth, quota, unavailable object, fatal).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from crm_audit_core.errors import AuthError, BudgetExhausted, ConnectorError
from crm_audit_core.http import BudgetGuard, CallStats, RateLimiter, RetryableError, make_session, retrying
from crm_audit_core.secrets import redact

from .auth import auth_error

# Objects whose absence (permission or edition) is a note, not a failure.
OPTIONAL = {"LoginHistory": "login_events", "TwoFactorMethodsInfo": "users.mfa_enabled",
            "PermissionSetAssignment": "users.is_admin", "PermissionSet": "users.is_admin",
            "Campaign": "campaigns", "OpportunityStage": "stages",
            "recordCount": "record counts (/limits/recordCount)"}


class Unavailable(Exception):
    """An optional object the audit user may not read (permission, edition)."""


class Calls:
    """The state every call shares (stats, budget, limiter, progress, TLS, timeout) and
    the retry loop around one simple-salesforce call."""

    def __init__(self, *, stats: CallStats, budget: BudgetGuard, limiter: RateLimiter | None, timeout: float,
                 retry_attempts: int, retry_base_delay: float, retry_max_delay: float, mode: str, where: str):
        self.stats = stats
        self.budget = budget
        self.limiter = limiter
        self.timeout = timeout
        self.retry_attempts = retry_attempts
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.mode = mode
        self.where = where
        self.verify: Any = True
        self.progress: Any = None
        self.organization: dict | None = None  # named in the spent-quota message once read

    def session(self, verify: Any, domain: str, login_url: str | None) -> requests.Session:
        """The session simple-salesforce uses, with every call going through this transport."""
        self.verify = verify
        session = make_session(verify=verify)
        transport = SalesforceTransport(self)
        session.mount("https://", transport)
        session.mount("http://", transport)
        if login_url:
            session.mount(f"https://{domain}.salesforce.com/", LoginRewrite(self, domain, login_url))
        return session

    def call(self, fn: Callable[[], Any], what: str, sobject: str | None = None) -> Any:
        """``fn()`` with retries on throttling, 5xx and connection trouble."""
        for attempt in retrying(max_attempts=self.retry_attempts, base_delay=self.retry_base_delay,
                                max_delay=self.retry_max_delay, stats=self.stats):
            with attempt:
                try:
                    return fn()
                except (AuthError, BudgetExhausted, ConnectorError, Unavailable):
                    raise
                except (SalesforceAuthenticationFailed, SalesforceExpiredSession) as exc:
                    raise auth_error(exc, self.mode, self.where) from None
                except SalesforceError as exc:
                    raise self.translate(exc, what, sobject) from None
                except requests.exceptions.SSLError as exc:
                    raise ConnectorError(f"{what}: TLS verification failed ({_short(exc)})", where=self.where,
                                         hint="set 'ca_bundle' to the CA that signed the server's certificate") from None
                except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError) as exc:
                    raise RetryableError(f"{what}: connection problem ({type(exc).__name__})",
                                         where=self.where) from None
                except ValueError as exc:  # a body that is not JSON (cut or garbled)
                    raise RetryableError(f"{what}: malformed response ({exc})", where=self.where) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def translate(self, exc: SalesforceError, what: str, sobject: str | None) -> Exception:
        """A simple-salesforce error as the exception the retry loop acts on."""
        content = getattr(exc, "content", None)
        first = content[0] if isinstance(content, list) and content and isinstance(content[0], dict) else {}
        code, message = first.get("errorCode", ""), first.get("message", str(content)[:200])
        status = getattr(exc, "status", None)
        if isinstance(exc, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
            if self.daily_allowance_spent(message):
                return self.quota_spent(what, message)
            # the concurrent-request limit (ConcurrentRequests, ConcurrentPerOrgLongTxn): transient
            return RetryableError(f"{what}: Salesforce throttled the request ({message})", where=self.where)
        if isinstance(exc, SalesforceGeneralError) and status is not None and (status >= 500 or status == 429):
            return RetryableError(f"{what}: HTTP {status} {code}".strip(), where=self.where)
        if sobject in OPTIONAL and (
            isinstance(exc, (SalesforceRefusedRequest, SalesforceResourceNotFound))
            or code in ("INVALID_TYPE", "INSUFFICIENT_ACCESS", "INVALID_FIELD", "NOT_FOUND")
        ):
            return Unavailable(f"{sobject} is not readable by this user ({code or status}: {message.strip()})")
        if isinstance(exc, SalesforceOperationError):
            return ConnectorError(f"{what}: Bulk API job failed: {exc}", where=self.where)
        hint = None
        if code == "INSUFFICIENT_ACCESS" or isinstance(exc, SalesforceRefusedRequest):
            hint = "give the audit user 'View Setup and Configuration' and 'View All Data' (read-only)"
        return ConnectorError(redact(f"{what}: HTTP {status} {code}: {message.strip()}"), where=self.where,
                              hint=hint)

    def daily_allowance_spent(self, message: str) -> bool:
        """A REQUEST_LIMIT_EXCEEDED is the spent daily allowance, not a throttle: Salesforce
        says "TotalRequests Limit exceeded.", or its Sforce-Limit-Info shows nothing left."""
        if "totalrequests" in message.replace(" ", "").lower():
            return True
        budget = self.budget
        return budget.limit is not None and budget.remaining is not None and budget.remaining <= 0

    def quota_spent(self, what: str, message: str) -> ConnectorError:
        """One line for a spent daily allowance: retrying cannot help, so no retry."""
        budget = self.budget
        if budget.limit is not None and budget.remaining is not None and budget.remaining <= 0:
            usage = f"{budget.limit - budget.remaining:,} of {budget.limit:,} calls used in the last 24 hours"
        else:  # the refusal carried no usage header: Salesforce's own words
            usage = f"REQUEST_LIMIT_EXCEEDED: {message.strip().rstrip('.')}"
        org = self.organization or {}
        name = f"org {org['Name']!r} ({org['Id']})" if org.get("Name") and org.get("Id") else "the org"
        return BudgetExhausted(
            f"Salesforce's daily API request limit is used up for {name} ({usage}); stopped while {what}",
            where=self.where,
            hint="the allowance is a rolling 24-hour window, so calls free up as those made 24 hours earlier age "
                 "out: run the audit later, find the integration that spends it in Setup > System Overview, "
                 "or ask Salesforce for a higher limit")


class SalesforceTransport(HTTPAdapter):
    """Every HTTP call: rate limit, budget, timeout, count, read Sforce-Limit-Info."""

    def __init__(self, calls: Calls):
        super().__init__()
        self.calls = calls

    def send(self, request, **kwargs):
        calls = self.calls
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = calls.timeout
        if calls.verify is not True:
            # An explicit ca_bundle/verify option beats REQUESTS_CA_BUNDLE from the
            # environment, which requests would otherwise prefer over session.verify.
            kwargs["verify"] = calls.verify
        counted = "/services/data/v" in (request.url or "")
        if counted:
            calls.budget.before_call()
        if calls.limiter is not None:
            waited = calls.limiter.acquire()
            if waited and calls.progress is not None:
                calls.progress.waiting(waited)
        try:
            response = super().send(request, **kwargs)
        except Exception:
            calls.stats.record_call(None)
            raise
        finally:
            if calls.limiter is not None:
                calls.limiter.record()  # answered or failed: its slot is held a window from now
        calls.stats.record_call(response.status_code)
        if calls.progress is not None:
            calls.progress.advance(calls=1)
        info = response.headers.get("Sforce-Limit-Info")
        if info:
            usage = re.search(r"api-usage=(\d+)/(\d+)", info)
            if usage:
                calls.budget.observe(limit=int(usage[2]), used=int(usage[1]))
        return response


class LoginRewrite(SalesforceTransport):
    """Sends login calls for ``https://<domain>.salesforce.com`` to ``login_url``."""

    def __init__(self, calls: Calls, domain: str, login_url: str):
        super().__init__(calls)
        self.prefix = f"https://{domain}.salesforce.com"
        self.target = login_url.rstrip("/")

    def send(self, request, **kwargs):
        if request.url.startswith(self.prefix):
            request.url = self.target + request.url[len(self.prefix):]
        return super().send(request, **kwargs)


def _short(exc: Exception) -> str:
    text = str(exc)
    found = re.search(r"\[SSL[^\]]*\][^')\"]*", text)
    return found[0] if found else text[:120]
