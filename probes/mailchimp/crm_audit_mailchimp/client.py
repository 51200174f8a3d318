"""Mailchimp's official client (``mailchimp-marketing``) behind the kit's
:class:`~crm_audit_core.kit.CallPolicy`: the call budget (``max_calls``), the client-side
rate limit, retries with backoff on 429, 5xx, cut or non-JSON answers and connection
failures, and one clear line for what cannot be retried (401, 403, 404, other 4xx).

The client is pointed at its API through its own configuration: ``set_config`` with the
API key (or OAuth token) and the timeout, and the API client's ``host`` set to
``https://<dc>.api.mailchimp.com/3.0`` (or a sandbox / proxy URL). The client substitutes
its ``server`` setting for the word "server" in the host; the probe gives the full host and
an empty ``server``, so a URL is used as written.

What the client gives back (``mailchimp_marketing/api_client.py`` of release 3.0.80): the
decoded JSON body on success; ``ApiClientError(text, status_code)`` on an HTTP error (the
body as text, since Mailchimp's error documents are ``application/problem+json``); and
``ApiClientError(exception)`` with no status when the request failed before an answer
(timeout, refused connection). A success body that is not JSON comes back as text or as the
``requests.Response`` itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import requests
from mailchimp_marketing import Client
from mailchimp_marketing.api_client import ApiClientError

from crm_audit_core.errors import BudgetExhausted, ConnectorError
from crm_audit_core.kit import BudgetGuard, CallPolicy, CallStats, RateLimiter, Verdict
from crm_audit_core.secrets import redact

from .i18n import _

API_KEY_HINT = _("check api_key (Mailchimp: Profile > Extras > API keys) and that its data center, the part "
                 "after the dash (e.g. us21), is the account's; set 'server' when the key has no suffix")


class NotFound(ConnectorError):
    """HTTP 404: Mailchimp has no such resource (an audience id that is not the account's)."""


class CallBudget(BudgetGuard):
    """At most ``max_calls`` calls per probe run (Mailchimp reports no daily allowance to
    budget against; the cap keeps a probe from paging without end)."""

    def __init__(self, max_calls: int):
        super().__init__(share=1.0, crm="Mailchimp")
        self.max_calls = max_calls

    def before_call(self, cost: int = 1) -> None:
        with self._lock:
            if self.spent + cost > self.max_calls:
                raise BudgetExhausted(
                    _("stopped after {spent} Mailchimp API calls: the probe's option max_calls allows {allowed}",
                      spent=self.spent, allowed=self.max_calls),
                    where="mailchimp", hint=_("raise 'max_calls' in the probe's options"))
            self.spent += cost


@dataclass
class Answer:
    """What one call of the official client gave: its value, or the error it raised."""

    value: Any = None
    error: ApiClientError | None = None

    @property
    def status(self) -> int | None:
        if self.error is not None:
            return self.error.status_code
        if isinstance(self.value, requests.Response):
            return self.value.status_code
        return 200


def problem_text(error: ApiClientError) -> str:
    """``title: detail`` of Mailchimp's error document (redacted), or its text cut short."""
    text = error.text
    if isinstance(text, (bytes, str)):
        try:
            text = json.loads(text)
        except ValueError:
            return redact(str(text)[:200])
    if isinstance(text, dict):
        parts = [str(text.get(k)) for k in ("title", "detail") if text.get(k)]
        return redact(": ".join(parts))
    return redact(str(text)[:200])


class MailchimpApi:
    """GETs through the official client, each under the call policy. ``host``: the API's
    base URL (``.../3.0``)."""

    def __init__(self, host: str, *, api_key: str | None = None, access_token: str | None = None,
                 timeout: float = 60.0, rate_limit: int = 10, rate_window: float = 1.0, max_calls: int = 200,
                 retry_attempts: int = 4, retry_base_delay: float = 0.5, retry_max_delay: float = 30.0):
        self.host = host
        self.timeout = timeout
        self.oauth = not api_key
        config = {"timeout": timeout, "server": ""}
        config["api_key" if api_key else "access_token"] = api_key or access_token
        self.client = Client(config)
        self.client.api_client.host = host  # the client's configured base URL
        self.stats = CallStats()
        self.budget = CallBudget(max_calls)
        self.policy = CallPolicy("Mailchimp", host, stats=self.stats, limiter=RateLimiter(rate_limit, rate_window, stats=self.stats),
                                 budget=self.budget, attempts=retry_attempts, base_delay=retry_base_delay,
                                 max_delay=retry_max_delay)

    @property
    def calls(self) -> int:
        """HTTP calls sent so far (retries included)."""
        return self.stats.calls

    def get(self, what: str, call: Callable[[], Any]) -> dict:
        """The JSON body of one GET made by ``call`` (a method of the official client);
        ``what``: the request for messages, e.g. ``GET /3.0/lists/{list_id}``."""
        label = f"Mailchimp {what}"

        def send() -> Answer:
            try:
                return Answer(value=call())
            except ApiClientError as exc:
                return Answer(error=exc)

        self._timed_out = False
        try:
            return self.policy.call(label, send, lambda answer: self.classify(label, answer),
                                    status_of=lambda answer: answer.status)
        except ConnectorError as exc:
            if not self._timed_out or type(exc) is not ConnectorError:
                raise
            # The last attempt timed out: the fix is more time, or a later run.
            raise ConnectorError(exc.message, where=exc.where,
                                 hint=_("Mailchimp may be slow or degraded: raise the probe's 'timeout' (now "
                                        "{seconds} seconds) or run the audit again later",
                                        seconds=format(self.timeout, "g"))) from None

    def classify(self, what: str, answer: Answer) -> Verdict:
        error = answer.error
        self._timed_out = False
        if error is not None and error.status_code is None:
            cause = error.text
            self._timed_out = isinstance(cause, requests.Timeout)
            if self._timed_out:
                return Verdict.retry(_("Mailchimp did not answer within {seconds} seconds", seconds=format(self.timeout, "g")))
            return Verdict.retry(_("the connection to Mailchimp failed ({error})", error=type(cause).__name__))
        if error is not None:
            status, text = error.status_code, problem_text(error)
            if status == 401:
                answer = f"401 {text}".strip()  # the status and Mailchimp's own words
                if self.oauth:
                    return Verdict.auth_failed(_("Mailchimp refused the OAuth access token (HTTP {status})",
                                                 status=answer),
                                               hint=_("the access token is invalid or revoked: authorize the app again"))
                return Verdict.auth_failed(_("Mailchimp refused the API key (HTTP {status})", status=answer),
                                           hint=API_KEY_HINT)
            answer = f"{status} {text}".strip()  # the status and Mailchimp's own words
            if status == 403:
                return Verdict.fatal(_("{what}: HTTP {status}", what=what, status=answer),
                                     hint=_("the API key's user may not read this; use a key of an account owner "
                                            "or admin"))
            if status == 404:
                message = _("{what}: HTTP {status}", what=what, status=answer)
                hint = _("check the probe's options (list_id) against the Mailchimp account")
                return Verdict.fatal(message, hint, error=NotFound(redact(message), where=self.host, hint=hint))
            if status == 429:
                return Verdict.rate_limited(_("HTTP {status}", status=answer))
            if status >= 500:
                return Verdict.retry(_("HTTP {status}", status=answer))
            return Verdict.fatal(_("{what}: HTTP {status}", what=what, status=answer),
                                 hint=_("this is a request the probe should not make; please report it"))
        if not isinstance(answer.value, dict):
            size = len(answer.value.content) if isinstance(answer.value, requests.Response) else len(str(answer.value))
            return Verdict.retry(_("an answer that is not JSON ({size} bytes)", size=size))
        return Verdict.ok(answer.value)
