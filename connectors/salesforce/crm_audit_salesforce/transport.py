"""Every HTTP call the Salesforce connector makes, and what its failures mean.

simple-salesforce makes the calls itself, so the kit's :class:`~crm_audit_core.kit.CallPolicy`
is applied in two places: :class:`SalesforceTransport`, a ``requests`` transport adapter
mounted on the session simple-salesforce uses, sends every call (REST, Bulk 2.0, logins)
through ``policy.send`` (budget guard, rate limiter, counting) and feeds the budget guard
the daily usage of ``Sforce-Limit-Info``; :meth:`Calls.call` runs each client call in
``policy.retry`` with :meth:`Calls.classify_error`, which reads simple-salesforce's
exceptions as verdicts (retry, rate-limited, auth failed, quota spent, unavailable, fatal).
"""

from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import urlparse

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

from crm_audit_core.errors import ConnectorError
from crm_audit_core.kit import CallPolicy, Verdict, make_session

from .auth import auth_failure
from .i18n import _

# Objects whose absence (permission or edition) is a note, not a failure.
OPTIONAL = {"LoginHistory": "login_events", "TwoFactorMethodsInfo": "users.mfa_enabled",
            "PermissionSetAssignment": _("users.is_admin and permissions"), "PermissionSet": "users.is_admin",
            "Campaign": "campaigns", "OpportunityStage": "stages",
            "ConnectedApplication": _("integrations (connected apps; needs '{permission}')",
                                      permission="View Setup and Configuration"),
            "OauthToken": _("integrations and oauth_grants (OAuth tokens; needs '{permission}')",
                            permission="Customize Application"),
            "SecurityHealthCheck": _("platform.security_score (Health Check)"),
            "SecurityHealthCheckRisks": _("security_settings (Health Check)"),
            "SetupAuditTrail": "audit_trail", "InstalledSubscriberPackage": "packages",
            "UserLogin": "users.is_frozen", "UserPermissionAccess": _("the audit user's own permissions"),
            "ObjectPermissions": _("permissions (guest profiles' object access)"),
            "CampaignMember": _("contacts.segments (campaign membership)"),
            "recordCount": _("record counts ({resource})", resource="/limits/recordCount"),
            "RecordType": _("stages.pipeline (Opportunity record types)"),
            "ui-api": _("stages.pipeline (each record type's stages, User Interface API)")}

TLS_HINT = _("set 'ca_bundle' to the CA that signed the server's certificate")
ACCESS_HINT = _("give the audit user 'View Setup and Configuration' and 'View All Data' (read-only)")
QUOTA_HINT = _("the allowance is a rolling 24-hour window, so calls free up as those made 24 hours earlier age "
               "out: run the audit later, find the integration that spends it in Setup > System Overview, "
               "or ask Salesforce for a higher limit")


class Calls:
    """The connector's call policy and how Salesforce's answers are read."""

    def __init__(self, policy: CallPolicy, *, mode: str, timeout: float, verify: Any):
        self.policy = policy
        self.mode = mode
        self.timeout = timeout
        self.verify = verify
        self.organization: dict | None = None  # named in the spent-quota message once read

    @property
    def where(self) -> str:
        return self.policy.where

    @property
    def progress(self) -> Any:
        return self.policy.progress

    def session(self, domain: str, login_url: str | None) -> requests.Session:
        """The session simple-salesforce uses, with every call going through this transport."""
        session = make_session(verify=self.verify)
        transport = SalesforceTransport(self)
        session.mount("https://", transport)
        session.mount("http://", transport)
        if login_url:
            session.mount(f"https://{domain}.salesforce.com/", LoginRewrite(self, domain, login_url))
        return session

    def call(self, fn: Callable[[], Any], what: str, sobject: str | None = None) -> Any:
        """``fn()`` (a simple-salesforce call) under the retry policy."""
        return self.policy.retry(what, fn, lambda exc: self.classify_error(exc, what, sobject))

    def classify_error(self, exc: BaseException, what: str, sobject: str | None) -> Verdict | None:
        """What a simple-salesforce or ``requests`` exception means (None: re-raise it)."""
        if isinstance(exc, (SalesforceAuthenticationFailed, SalesforceExpiredSession)):
            return Verdict.auth_failed(*auth_failure(exc, self.mode))
        if isinstance(exc, SalesforceError):
            return self._translate(exc, what, sobject)
        if isinstance(exc, requests.exceptions.SSLError):
            return Verdict.fatal(_("{what}: TLS verification failed ({error})", what=what, error=_short(exc)), TLS_HINT)
        if isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                            requests.exceptions.ContentDecodingError)):
            return Verdict.retry(_("{what}: connection problem ({error})", what=what, error=type(exc).__name__))
        if isinstance(exc, ValueError):  # a body that is not JSON (cut or garbled)
            return Verdict.retry(_("{what}: malformed response ({error})", what=what, error=str(exc)))
        return None

    def _translate(self, exc: SalesforceError, what: str, sobject: str | None) -> Verdict:
        content = getattr(exc, "content", None)
        first = content[0] if isinstance(content, list) and content and isinstance(content[0], dict) else {}
        code, message = first.get("errorCode", ""), first.get("message", str(content)[:200])
        status = getattr(exc, "status", None)
        if isinstance(exc, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
            if self._daily_allowance_spent(message):
                return Verdict.quota_spent(self._quota_message(what, message), QUOTA_HINT)
            # the concurrent-request limit (ConcurrentRequests, ConcurrentPerOrgLongTxn): transient
            return Verdict.rate_limited(_("{what}: Salesforce throttled the request ({message})", what=what,
                                          message=message))
        if isinstance(exc, SalesforceGeneralError) and status is not None and (status >= 500 or status == 429):
            answer = f"{status} {code}".strip()  # the status and Salesforce's error code
            return Verdict.retry(_("{what}: HTTP {status}", what=what, status=answer))
        if sobject in OPTIONAL and (
            isinstance(exc, (SalesforceRefusedRequest, SalesforceResourceNotFound))
            or code in ("INVALID_TYPE", "INSUFFICIENT_ACCESS", "INVALID_FIELD", "NOT_FOUND")
        ):
            return Verdict.unavailable(_("{object} is not readable by this user ({code}: {message})", object=sobject,
                                         code=str(code or status), message=message.strip()))
        if isinstance(exc, SalesforceOperationError):
            return Verdict.fatal(_("{what}: Bulk API job failed: {error}", what=what, error=str(exc)))
        hint = ACCESS_HINT if code == "INSUFFICIENT_ACCESS" or isinstance(exc, SalesforceRefusedRequest) else None
        return Verdict.fatal(_("{what}: HTTP {status} {code}: {message}", what=what, status=str(status), code=code,
                               message=message.strip()), hint)

    def _daily_allowance_spent(self, message: str) -> bool:
        """A REQUEST_LIMIT_EXCEEDED is the spent daily allowance, not a throttle: Salesforce
        says "TotalRequests Limit exceeded.", or its Sforce-Limit-Info shows nothing left."""
        if "totalrequests" in message.replace(" ", "").lower():
            return True
        budget = self.policy.budget
        return budget.limit is not None and budget.remaining is not None and budget.remaining <= 0

    def _quota_message(self, what: str, message: str) -> str:
        """One line for a spent daily allowance: retrying cannot help, so no retry."""
        budget = self.policy.budget
        if budget.limit is not None and budget.remaining is not None and budget.remaining <= 0:
            usage = _("{used} of {limit} calls used in the last 24 hours", used=int(budget.limit - budget.remaining),
                      limit=int(budget.limit))
        else:  # the refusal carried no usage header: Salesforce's own words
            usage = f"REQUEST_LIMIT_EXCEEDED: {message.strip().rstrip('.')}"
        org = self.organization or {}
        if org.get("Name") and org.get("Id"):
            name = _("org {name} ({id})", name=repr(org["Name"]), id=str(org["Id"]))
        else:
            name = _("the org")
        return _("Salesforce's daily API request limit is used up for {org} ({usage}); stopped while {what}",
                 org=name, usage=usage, what=what)


class SalesforceTransport(HTTPAdapter):
    """Every HTTP call through the policy (budget, limiter, counting), with the timeout and
    TLS settings; reads the daily usage from ``Sforce-Limit-Info``."""

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
        url = request.url or ""

        def send():
            try:
                return super(SalesforceTransport, self).send(request, **kwargs)
            except requests.exceptions.SSLError as exc:
                raise ConnectorError(_("TLS verification of {host} failed ({error})", host=urlparse(url).netloc,
                                       error=_short(exc)),
                                     where=calls.where, hint=TLS_HINT) from None

        # calls to the versioned API count against the daily allowance; logins do not
        response = calls.policy.send(f"{request.method} {urlparse(url).path}", send,
                                     guarded="/services/data/v" in url)
        info = response.headers.get("Sforce-Limit-Info")
        if info:
            usage = re.search(r"api-usage=(\d+)/(\d+)", info)
            if usage:
                calls.policy.budget.observe(limit=int(usage[2]), used=int(usage[1]))
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


def _short(exc: BaseException) -> str:
    text = str(exc)
    found = re.search(r"\[SSL[^\]]*\][^')\"]*", text)
    return found[0] if found else text[:120]
