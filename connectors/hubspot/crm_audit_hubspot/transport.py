"""HubSpot's HTTP calls: the client's API handles, the senders, and what an answer means.

Every call goes through one :class:`crm_audit_core.kit.CallPolicy` (budget guard ->
limiter of the ten-second window -> send -> record -> retries with backoff and jitter,
honouring ``Retry-After``), sent through hubspot-api-client with ``_preload_content`` off
(urllib3's own retries are switched off), or through a plain session for account-info,
which has no API class. What is HubSpot's is :meth:`HubSpotTransport.classify`: the
``X-HubSpot-RateLimit-*`` headers steer the limiter and the budget guard; 429, 5xx and
malformed bodies are retried; auth errors and the daily limit are not; a 414 raises
``UrlTooLong`` (the reader switches to batch reads); a 403/404 is "unavailable" (an
endpoint this account does not offer: the reader notes it).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

from urllib3.util.retry import Retry

from crm_audit_core.errors import ConnectorError
from crm_audit_core.kit import CallPolicy, RetryableError, Unavailable, Verdict, make_session, parse_retry_after
from crm_audit_core.secrets import redact

from .i18n import _

PAGE_SIZE = 100  # HubSpot's maximum for CRM object lists, batch reads and settings users
SCOPES_HINT = _("grant the private app the scopes listed in docs/connectors/hubspot.md#scopes "
                "(crm.objects.*.read, crm.schemas.*.read, crm.lists.read, settings.users.read, ...)")

Answer = tuple[int, Any, bytes]  # status, headers, raw body
Send = Callable[[], Answer]


class UrlTooLong(Exception):
    """The server refused the request line (414): read through batch reads instead."""


class HubSpotTransport:
    """The API handles of one portal and the call policy every reader goes through.

    ``policy.progress`` is the current table's progress (readers swap it per table).
    """

    def __init__(self, token: str, base_url: str, *, timeout: float, policy: CallPolicy):
        from hubspot import HubSpot

        self.base_url = base_url
        self.timeout = timeout
        self.policy = policy
        self._rate_limited_in_a_row = 0  # consecutive ten-second 429s
        # No retries inside urllib3: the call policy decides, so waits are counted and bounded.
        no_retry = Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0,
                         raise_on_status=False, raise_on_redirect=False)
        client = HubSpot(access_token=token, host=base_url, base_url=base_url, retry=no_retry)
        crm = client.crm
        self.objects_basic = crm.objects.basic_api
        self.objects_batch = crm.objects.batch_api
        self.objects_search = crm.objects.search_api
        self.properties_api = crm.properties.core_api
        self.owners_api = crm.owners.owners_api
        self.pipelines_api = crm.pipelines.pipelines_api
        self.associations_batch = crm.associations.v4.batch_api
        self.users_api = client.settings.users.users_api
        self.roles_api = client.settings.users.roles_api
        self.emails_api = client.marketing.emails.marketing_emails_api
        self.lists_api = crm.lists.lists_api
        self.list_members_api = crm.lists.memberships_api
        # account-info has no API class in hubspot-api-client 12 (CRM-APIS.md 2.2); its
        # generic api_request has no timeout, so these few calls use a plain session.
        self._session = make_session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    @property
    def limiter(self):
        return self.policy.limiter

    @property
    def budget(self):
        return self.policy.budget

    @property
    def progress(self):
        return self.policy.progress

    @progress.setter
    def progress(self, progress) -> None:
        self.policy.progress = progress

    # ------------------------------------------------------------------ calls

    def request(self, what: str, send: Send) -> dict:
        """One logical call (budget, limiter, retries); returns the decoded JSON body.
        An endpoint the account does not offer raises :class:`crm_audit_core.kit.Unavailable`."""
        return self.policy.call(what, send, lambda answer: self.classify(what, answer),
                                status_of=lambda answer: answer[0])

    def required(self, what: str, send: Send) -> dict:
        """``request`` for an endpoint the audit cannot do without (403/404: ConnectorError)."""
        try:
            return self.request(what, send)
        except Unavailable as exc:
            raise ConnectorError(exc.message, where="hubspot", hint=SCOPES_HINT) from None

    def pages(self, what: str, fetch: Callable[[str | None], Send], required: bool = True) -> Iterator[dict]:
        """The bodies of a paged list: ``fetch(after)`` makes the send of each page."""
        after = None
        while True:
            send = fetch(after)
            body = self.required(what, send) if required else self.request(what, send)
            yield body
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def client_call(self, fn, *args, **kwargs) -> Send:
        """A send through a hubspot-api-client method, answering (status, headers, raw body)."""
        def send() -> Answer:
            try:
                response = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            except Exception as exc:  # hubspot-api-client's ApiException, one class per API package
                if not hasattr(exc, "status") or not hasattr(exc, "body"):
                    raise
                if not exc.status:  # TLS or parsing failure inside the client
                    raise RetryableError(_("HubSpot's client failed: {error}",
                                           error=redact(str(getattr(exc, 'reason', exc)))),
                                         where="hubspot") from None
                return exc.status, exc.headers or {}, exc.body
            try:
                data = response.data
            finally:
                response.release_conn()
            return response.status, response.headers, data
        return send

    def session_call(self, path: str, params: dict | None = None) -> Send:
        """A send through the plain session (account-info endpoints)."""
        def send() -> Answer:
            response = self._session.get(self.base_url + path, params=params, timeout=self.timeout)
            return response.status_code, response.headers, response.content
        return send

    # ------------------------------------------------------------------ answers

    def classify(self, what: str, answer: Answer) -> Verdict:
        """What HubSpot's answer means (the policy acts on it); reads the limit headers."""
        status, headers, body = answer
        headers = {str(k).lower(): v for k, v in dict(headers or {}).items()}
        self.observe(headers)
        self._rate_limited_in_a_row = self._rate_limited_in_a_row + 1 if status == 429 else 0
        if isinstance(body, str):
            body = body.encode("utf-8")
        if 200 <= status < 300:
            try:
                return Verdict.ok(json.loads(body or b"{}"))
            except ValueError:
                return Verdict.retry(_("{what}: HubSpot sent a malformed response body", what=what))
        return self.verdict(what, status, headers, body)

    def observe(self, headers: dict) -> None:
        """Follow the daily allowance and the burst window the answer's headers report."""
        daily = headers.get("x-hubspot-ratelimit-daily")
        remaining = headers.get("x-hubspot-ratelimit-daily-remaining")
        if daily:
            self.budget.observe(limit=daily, remaining=remaining)
        window_max = headers.get("x-hubspot-ratelimit-max")
        interval_ms = headers.get("x-hubspot-ratelimit-interval-milliseconds")
        if window_max and interval_ms:
            # Follow the server's burst window when it is tighter than our own setting.
            self.limiter.follow(int(window_max), int(interval_ms) / 1000)
            if headers.get("x-hubspot-ratelimit-remaining") == "0":
                # The window is full (perhaps by other apps): the next call waits for a slot
                # (in RateLimiter.acquire, which reports the wait).
                self.limiter.server_full()

    def verdict(self, what: str, status: int, headers: dict, body: bytes) -> Verdict:
        """The verdict on a non-2xx answer (retryable ones carry their wait)."""
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        message = redact(str(payload.get("message") or "")).strip()
        category = payload.get("category") or payload.get("errorType") or ""
        if status == 401:
            if category == "EXPIRED_AUTHENTICATION":
                return Verdict.auth_failed(
                    _("the access token expired while reading {what}", what=what),
                    hint=_("create a new token (OAuth) or use a private-app token, then run again"))
            return Verdict.auth_failed(_("the access token was refused (401 INVALID_AUTHENTICATION)"),
                                       hint=_("check access_token / HUBSPOT_ACCESS_TOKEN: a private-app token "
                                              "'pat-…' of this portal"))
        if status == 429:
            if payload.get("policyName") == "DAILY":
                return Verdict.quota_spent(_("HubSpot's daily API limit is reached (while reading {what})", what=what),
                                           hint=_("run the audit after the daily quota resets"))
            retry_after = _retry_after(headers, default_from_interval=False)
            if retry_after is None:
                # The rolling window is full. The first time, wait until a slot frees (our
                # oldest call in the window leaves it, see RateLimiter.server_full), not a
                # whole window; if 429s go on (someone else fills it), a whole window each.
                interval = _retry_after(headers)
                retry_after = interval if self._rate_limited_in_a_row > 1 or interval is None \
                    else min(interval, self.limiter.server_full())
            policy = payload.get("policyName") or ""
            if policy:
                limited = _("{what}: rate limited by HubSpot (429 {policy})", what=what, policy=policy)
            else:
                limited = _("{what}: rate limited by HubSpot (429)", what=what)
            return Verdict.rate_limited(limited, retry_after)
        if status >= 500:
            return Verdict.retry(_("{what}: HubSpot answered {status}", what=what, status=str(status)),
                                 _retry_after(headers, None))
        if status == 414:
            raise UrlTooLong(what)
        if status in (403, 404):
            scopes = []
            for err in payload.get("errors") or []:
                scopes += (err.get("context") or {}).get("requiredScopes") or []
            code = f"{status} {category}".strip()  # the status and HubSpot's category: vendor data
            if scopes:
                return Verdict.unavailable(_("{what}: HubSpot answered {status} (needs scope {scopes})",
                                             what=what, status=code, scopes=", ".join(scopes)))
            return Verdict.unavailable(_("{what}: HubSpot answered {status}", what=what, status=code))
        return Verdict.fatal(_("{what}: HubSpot answered {status}: {message}", what=what, status=str(status),
                               message=message or category))


def _retry_after(headers: dict, default_from_interval: bool | None = True) -> float | None:
    after = parse_retry_after(headers.get("retry-after"))
    if after is not None:
        return after
    if default_from_interval:
        interval = headers.get("x-hubspot-ratelimit-interval-milliseconds")
        if interval:
            try:
                return int(interval) / 1000
            except ValueError:
                return None
    return None

