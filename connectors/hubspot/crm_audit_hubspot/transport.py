"""HubSpot's HTTP calls: the client's API handles, one call loop, and what an answer means.

Every call goes through ``HubSpotTransport.request``: the budget guard, the client-side
limiter of the ten-second window, one send (hubspot-api-client with ``_preload_content``
off, or a plain session for account-info, which has no API class), then retries through
:func:`crm_audit_core.http.retrying` (tenacity, exponential backoff with jitter) on 429,
5xx, malformed bodies and connection errors, honouring ``Retry-After`` and the
``X-HubSpot-RateLimit-*`` headers. urllib3's own retries are switched off. Auth errors are
never retried; a 414 raises ``UrlTooLong`` (the reader switches to batch reads); a 403/404
raises ``NotOffered`` (an endpoint this account does not have: the reader notes it).
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterator

import requests
import urllib3
from urllib3.util.retry import Retry

from crm_audit_core.errors import AuthError, BudgetExhausted, ConnectorError
from crm_audit_core.http import BudgetGuard, CallStats, RateLimiter, RetryableError, make_session, retrying
from crm_audit_core.secrets import redact

PAGE_SIZE = 100  # HubSpot's maximum for CRM object lists, batch reads and settings users

Send = Callable[[], tuple[int, Any, bytes]]


class UrlTooLong(Exception):
    """The server refused the request line (414): read through batch reads instead."""


class NotOffered(Exception):
    """An endpoint this account does not offer (403/404): skip it with a note."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class NullProgress:
    def advance(self, records: int = 0, calls: int = 0) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass

    def waiting(self, seconds: float) -> None:
        pass


class HubSpotTransport:
    """The API handles of one portal and the call loop every reader goes through.

    ``progress`` is the current table's progress (readers swap it per table).
    """

    def __init__(self, token: str, base_url: str, *, timeout: float, max_attempts: int, base_delay: float,
                 max_delay: float, limiter: RateLimiter, budget: BudgetGuard, stats: CallStats):
        from hubspot import HubSpot

        self.base_url = base_url
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.limiter = limiter
        self.budget = budget
        self.stats = stats
        self.progress: Any = NullProgress()
        self._rate_limited_in_a_row = 0  # consecutive ten-second 429s
        # No retries inside urllib3: tenacity decides, so waits are counted and bounded.
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
        # account-info has no API class in hubspot-api-client 12 (CRM-APIS.md 2.2); its
        # generic api_request has no timeout, so these few calls use a plain session.
        self._session = make_session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
            self.progress.waiting(seconds)

    def request(self, what: str, send: Send) -> dict:
        """One logical call: budget, limiter, retries; returns the decoded JSON body."""
        for attempt in retrying(max_attempts=self.max_attempts, base_delay=self.base_delay,
                                max_delay=self.max_delay, stats=self.stats, sleep=self.sleep):
            with attempt:
                return self._once(what, send)
        raise ConnectorError(f"{what}: no attempt made", where="hubspot")  # pragma: no cover

    def _once(self, what: str, send: Send) -> dict:
        self.budget.before_call()
        waited = self.limiter.acquire()
        if waited:
            self.progress.waiting(waited)
        try:
            status, headers, body = send()
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            self.limiter.record()  # the server may have counted it
            self.stats.record_call(None)
            self.progress.advance(calls=1)
            raise RetryableError(f"{what}: connection to HubSpot failed ({type(exc).__name__})",
                                 where="hubspot") from None
        except Exception as exc:  # hubspot-api-client's ApiException, one class per API package
            if not hasattr(exc, "status") or not hasattr(exc, "body"):
                self.limiter.record()
                raise
            status, headers, body = exc.status or 0, exc.headers or {}, exc.body
            if status == 0:  # TLS or parsing failure inside the client
                self.limiter.record()
                self.stats.record_call(None)
                self.progress.advance(calls=1)
                raise RetryableError(f"{what}: {redact(str(getattr(exc, 'reason', exc)))}", where="hubspot") from None
        self.limiter.record()
        self.stats.record_call(status)
        self.progress.advance(calls=1)
        headers = {str(k).lower(): v for k, v in dict(headers or {}).items()}
        self.observe(headers)
        self._rate_limited_in_a_row = self._rate_limited_in_a_row + 1 if status == 429 else 0
        if isinstance(body, str):
            body = body.encode("utf-8")
        if 200 <= status < 300:
            try:
                return json.loads(body or b"{}")
            except ValueError:
                raise RetryableError(f"{what}: HubSpot sent a malformed response body", where="hubspot") from None
        raise self.error(what, status, headers, body)

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

    def error(self, what: str, status: int, headers: dict, body: bytes) -> Exception:
        """The exception a non-2xx answer stands for (retryable ones carry their wait)."""
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
                return AuthError(f"the access token expired while reading {what}", where=self.base_url,
                                 hint="create a new token (OAuth) or use a private-app token, then run again")
            return AuthError("the access token was refused (401 INVALID_AUTHENTICATION)", where=self.base_url,
                             hint="check access_token / HUBSPOT_ACCESS_TOKEN: a private-app token 'pat-…' of this portal")
        if status == 429:
            if payload.get("policyName") == "DAILY":
                return BudgetExhausted(f"HubSpot's daily API limit is reached (while reading {what})",
                                       where="hubspot", hint="run the audit after the daily quota resets")
            retry_after = _retry_after(headers, default_from_interval=False)
            if retry_after is None:
                # The rolling window is full. The first time, wait until a slot frees (our
                # oldest call in the window leaves it, see RateLimiter.server_full), not a
                # whole window; if 429s go on (someone else fills it), a whole window each.
                interval = _retry_after(headers)
                retry_after = interval if self._rate_limited_in_a_row > 1 or interval is None \
                    else min(interval, self.limiter.server_full())
            return RetryableError(f"{what}: rate limited by HubSpot (429 {payload.get('policyName') or ''})".strip(),
                                  retry_after=retry_after, where="hubspot")
        if status >= 500:
            return RetryableError(f"{what}: HubSpot answered {status}", retry_after=_retry_after(headers, None),
                                  where="hubspot")
        if status == 414:
            return UrlTooLong(what)
        if status in (403, 404):
            scopes = []
            for err in payload.get("errors") or []:
                scopes += (err.get("context") or {}).get("requiredScopes") or []
            detail = f" (needs scope {', '.join(scopes)})" if scopes else ""
            return NotOffered(status, f"{what}: HubSpot answered {status} {category}{detail}".strip())
        return ConnectorError(f"{what}: HubSpot answered {status}: {message or category}", where="hubspot")

    def required(self, what: str, send: Send) -> dict:
        """``request`` for an endpoint the audit cannot do without (403/404: ConnectorError)."""
        try:
            return self.request(what, send)
        except NotOffered as exc:
            raise ConnectorError(str(exc), where="hubspot",
                                 hint="grant the private app the crm.objects.*.read, crm.schemas.*.read and "
                                      "settings.users.read scopes") from None

    def client_call(self, fn, *args, **kwargs) -> Send:
        """A send through a hubspot-api-client method, answering (status, headers, raw body)."""
        def send():
            response = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            try:
                data = response.data
            finally:
                response.release_conn()
            return response.status, response.headers, data
        return send

    def session_call(self, path: str, params: dict | None = None) -> Send:
        def send():
            response = self._session.get(self.base_url + path, params=params, timeout=self.timeout)
            return response.status_code, response.headers, response.content
        return send

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


def _retry_after(headers: dict, default_from_interval: bool | None = True) -> float | None:
    from crm_audit_core.http import parse_retry_after

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

