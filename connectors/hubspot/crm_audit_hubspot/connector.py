"""Reads a HubSpot portal into the canonical schema through hubspot-api-client.

Efficiency: every list is read at HubSpot's maximum page size with all the properties
the audit needs (standard and custom) in one pass. When the property list would make a
request line longer than a server accepts (portals with 1,000+ properties), the list is
read with ids only and each page is fetched with a batch read that carries the property
list in the body. Associations are read through the v4 batch endpoint, 1,000 ids a call.

Resilience: urllib3's own retries are switched off; every call goes through
:func:`crm_audit_core.http.retrying` (tenacity, exponential backoff with jitter) on 429,
5xx, malformed bodies and connection errors, honouring ``Retry-After`` and the
``X-HubSpot-RateLimit-*`` headers. A client-side limiter keeps under the ten-second
limit, and a budget guard stops before the audit spends more than ``budget_share`` of
the daily allowance. Auth errors are never retried.
"""

from __future__ import annotations

import json
import math
import os
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import requests
import urllib3
from urllib3.util.retry import Retry

from crm_audit_core.connector import ExtractContext
from crm_audit_core.errors import AuthError, BudgetExhausted, ConnectorError
from crm_audit_core.http import BudgetGuard, CallStats, RateLimiter, RetryableError, make_session, retrying
from crm_audit_core.secrets import redact, remember

from . import mapping

DEFAULT_BASE_URL = "https://api.hubapi.com"
PAGE_SIZE = 100  # HubSpot's maximum for CRM object lists, batch reads and settings users
LOGIN_PAGE_SIZE = 200
ASSOCIATION_BATCH = 1000
SEARCH_PAGE_SIZE = 200  # HubSpot's maximum for the CRM search endpoint
SEARCH_RATE = (4, 1.0)  # the search endpoints allow 5 requests a second per account; stay under
# HubSpot keeps deleted (archived) records, listed with archived=true, for 90 days: an
# incremental audit whose previous audit is older cannot see every deletion and reads in full.
ARCHIVE_DAYS = 89
RECORD_TABLES = ("companies", "contacts", "deals")
# Incremental audits: which canonical link columns of a table point into which table. A row
# whose link points at a record deleted since is read again (its association is gone in
# HubSpot, and deleting the other record does not modify it).
LINKS = {
    "contacts": {"company_id": "companies"},
    "deals": {"company_id": "companies", "contact_id": "contacts"},
    "activities": {"company_id": "companies", "contact_id": "contacts", "deal_id": "deals"},
}
TOKEN_ENV = ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_TOKEN")

OPTIONS = {
    "access_token": "Private-app (or OAuth) access token; default: $HUBSPOT_ACCESS_TOKEN or $HUBSPOT_TOKEN",
    "base_url": f"API root (default {DEFAULT_BASE_URL})",
    "budget_share": "Share of the daily API allowance the audit may use (default 0.2)",
    "rate_limit": "Calls allowed per rate_window seconds, client side (default 100, HubSpot's lowest tier)",
    "rate_window": "Seconds of the rate-limit window (default 10)",
    "timeout": "Seconds to wait for one response (default 60)",
    "max_retries": "Attempts per call on 429/5xx/connection errors (default 6)",
    "retry_base_delay": "First backoff delay in seconds (default 0.5)",
    "retry_max_delay": "Longest backoff delay in seconds (default 60)",
    "max_url_length": "Longest request line sent; longer property lists go into batch-read bodies (default 7000)",
}


class _UrlTooLong(Exception):
    """The server refused the request line (414): read through batch reads instead."""


class _Optional(Exception):
    """An endpoint this account does not offer (403/404): skip it with a note."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _float_option(options: dict, name: str, default: float) -> float:
    value = options.get(name)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConnectorError(f"option {name} must be a number, got {value!r}", where="hubspot") from None


class _NullProgress:
    def advance(self, records: int = 0, calls: int = 0) -> None:
        pass

    def set_total(self, total: int | None) -> None:
        pass

    def waiting(self, seconds: float) -> None:
        pass


class HubSpotConnector:
    def __init__(self, options: dict, context: ExtractContext | None = None):
        from hubspot import HubSpot

        self.context = context
        token = options.get("access_token") or next((os.environ[k] for k in TOKEN_ENV if os.environ.get(k)), None)
        if not token:
            raise AuthError("no access token", where="hubspot",
                            hint="set access_token in the tenant's options or HUBSPOT_ACCESS_TOKEN in the environment")
        remember(token)
        self.token = token
        self.base_url = str(options.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = _float_option(options, "timeout", 60.0)
        self.max_attempts = int(_float_option(options, "max_retries", 6))
        self.base_delay = _float_option(options, "retry_base_delay", 0.5)
        self.max_delay = _float_option(options, "retry_max_delay", 60.0)
        self.max_url_length = int(_float_option(options, "max_url_length", 7000))
        self.stats = CallStats()
        rate_window = _float_option(options, "rate_window", 10.0)
        self.limiter = RateLimiter(int(_float_option(options, "rate_limit", 100)), rate_window, stats=self.stats)
        self.search_limiter = RateLimiter(*SEARCH_RATE)
        self.budget = BudgetGuard(_float_option(options, "budget_share", 0.2), crm="HubSpot")
        self._rate_limited_in_a_row = 0  # consecutive ten-second 429s
        self._progress: Any = _NullProgress()
        # No retries inside urllib3: tenacity decides, so waits are counted and bounded.
        no_retry = Retry(total=0, connect=0, read=0, redirect=0, status=0, other=0,
                         raise_on_status=False, raise_on_redirect=False)
        self.client = HubSpot(access_token=token, host=self.base_url, base_url=self.base_url, retry=no_retry)
        crm = self.client.crm
        self._objects_basic = crm.objects.basic_api
        self._objects_batch = crm.objects.batch_api
        self._objects_search = crm.objects.search_api
        self._properties_api = crm.properties.core_api
        self._owners_api = crm.owners.owners_api
        self._pipelines_api = crm.pipelines.pipelines_api
        self._associations_batch = crm.associations.v4.batch_api
        users = self.client.settings.users
        self._users_api = users.users_api
        self._roles_api = users.roles_api
        self._emails_api = self.client.marketing.emails.marketing_emails_api
        # account-info has no API class in hubspot-api-client 12 (CRM-APIS.md 2.2); its
        # generic api_request has no timeout, so these few calls use a plain session.
        self._session = make_session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self.notes: list[str] = []
        self._gone: dict[str, set[str]] = {}  # incremental: table -> ids deleted (or merged away) since
        self._merged: dict[str, set[str]] = {}
        self._read_ids: dict[str, set[str]] = {}  # incremental: ids read in this run, per table

    # ------------------------------------------------------------------ protocol

    def api_calls(self) -> int:
        return self.stats.calls

    def extract(self, sink) -> None:
        """Read the portal into ``sink``.

        Resumable: tables an interrupted run completed are skipped; record tables
        (companies, contacts, deals, activities) continue from their last checkpoint, one
        per association chunk (1,000 records). Incremental (``context.previous``): record
        tables are read through the search endpoint filtered on the last-modified date,
        deletions come from the archived lists, the rest is carried forward.
        """
        self._sink = sink
        previous = self._previous(sink)
        details, daily_limit = self._account()
        if not (sink.is_complete("users") and sink.is_complete("login_events")):
            self._read_users(sink)
        if not sink.is_complete("stages"):
            self._read_stages(sink)
        custom_types = self._read_fields(sink)
        for table in (*RECORD_TABLES, "activities"):
            self._read_table(sink, table, custom_types, previous)
        if not sink.is_complete("campaigns"):
            self._read_campaigns(sink)
        if not sink.is_complete("platform"):
            daily_limit = daily_limit or self.budget.limit
            sink.write("platform", [mapping.to_platform(details, daily_limit)])
            sink.complete("platform")
        self._note(sink, "HubSpot's API does not list installed apps: the integrations table is not supplied "
                         "(records created by integrations are still marked source=integration)")

    def _previous(self, sink):
        """The previous snapshot to build on, or None for a full read."""
        previous = getattr(self.context, "previous", None)
        if previous is None:
            return None
        since = _aware(previous.since)
        if since < datetime.now(timezone.utc) - timedelta(days=ARCHIVE_DAYS):
            self._note(sink, f"incremental audit not possible: the previous audit ({since:%Y-%m-%d}) is older than "
                             f"the {ARCHIVE_DAYS + 1} days HubSpot keeps deleted records; read in full")
            return None
        return previous

    # ------------------------------------------------------------------ calls

    def _note(self, sink, message: str) -> None:
        self.notes.append(message)
        sink.note(message)

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
            self._progress.waiting(seconds)

    def _request(self, what: str, send: Callable[[], tuple[int, Any, bytes]]) -> dict:
        """One logical call: budget, limiter, retries; returns the decoded JSON body."""
        for attempt in retrying(max_attempts=self.max_attempts, base_delay=self.base_delay,
                                max_delay=self.max_delay, stats=self.stats, sleep=self._sleep):
            with attempt:
                return self._once(what, send)
        raise ConnectorError(f"{what}: no attempt made", where="hubspot")  # pragma: no cover

    def _once(self, what: str, send: Callable[[], tuple[int, Any, bytes]]) -> dict:
        self.budget.before_call()
        waited = self.limiter.acquire()
        if waited:
            self._progress.waiting(waited)
        try:
            status, headers, body = send()
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            self.limiter.record()  # the server may have counted it
            self.stats.record_call(None)
            self._progress.advance(calls=1)
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
                self._progress.advance(calls=1)
                raise RetryableError(f"{what}: {redact(str(getattr(exc, 'reason', exc)))}", where="hubspot") from None
        self.limiter.record()
        self.stats.record_call(status)
        self._progress.advance(calls=1)
        headers = {str(k).lower(): v for k, v in dict(headers or {}).items()}
        self._observe(headers)
        self._rate_limited_in_a_row = self._rate_limited_in_a_row + 1 if status == 429 else 0
        if isinstance(body, str):
            body = body.encode("utf-8")
        if 200 <= status < 300:
            try:
                return json.loads(body or b"{}")
            except ValueError:
                raise RetryableError(f"{what}: HubSpot sent a malformed response body", where="hubspot") from None
        raise self._error(what, status, headers, body)

    def _observe(self, headers: dict) -> None:
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

    def _error(self, what: str, status: int, headers: dict, body: bytes) -> Exception:
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
            return _UrlTooLong(what)
        if status in (403, 404):
            scopes = []
            for err in payload.get("errors") or []:
                scopes += (err.get("context") or {}).get("requiredScopes") or []
            detail = f" (needs scope {', '.join(scopes)})" if scopes else ""
            return _Optional(status, f"{what}: HubSpot answered {status} {category}{detail}".strip())
        return ConnectorError(f"{what}: HubSpot answered {status}: {message or category}", where="hubspot")

    def _required(self, what: str, send) -> dict:
        try:
            return self._request(what, send)
        except _Optional as exc:
            raise ConnectorError(str(exc), where="hubspot",
                                 hint="grant the private app the crm.objects.*.read, crm.schemas.*.read and "
                                      "settings.users.read scopes") from None

    def _client_call(self, fn, *args, **kwargs) -> Callable[[], tuple[int, Any, bytes]]:
        def send():
            response = fn(*args, _preload_content=False, _request_timeout=self.timeout, **kwargs)
            try:
                data = response.data
            finally:
                response.release_conn()
            return response.status, response.headers, data
        return send

    def _session_call(self, path: str, params: dict | None = None) -> Callable[[], tuple[int, Any, bytes]]:
        def send():
            response = self._session.get(self.base_url + path, params=params, timeout=self.timeout)
            return response.status_code, response.headers, response.content
        return send

    def _pages(self, what: str, fetch: Callable[[str | None], Callable], required: bool = True) -> Iterator[dict]:
        after = None
        while True:
            send = fetch(after)
            body = self._required(what, send) if required else self._request(what, send)
            yield body
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    # ------------------------------------------------------------------ account, users, stages, fields

    def _account(self) -> tuple[dict | None, int | None]:
        details = daily_limit = None
        try:
            details = self._request("account details", self._session_call("/account-info/v3/details"))
        except _Optional as exc:
            self._note(self._sink, f"account details not available: {exc}")
        try:
            usage = self._request("API usage",
                                  self._session_call("/account-info/v3/api-usage/daily/private-apps"))
            for item in usage.get("results") or []:
                if item.get("usageLimit"):
                    daily_limit = int(item["usageLimit"])
                    self.budget.observe(limit=daily_limit, used=item.get("currentUsage") or 0)
        except _Optional as exc:
            self._note(self._sink, f"daily API usage not available (OAuth tokens cannot read it): {exc}")
        return details, daily_limit

    def _read_users(self, sink) -> None:
        progress = self._progress = sink.progress("users")
        owners: list[dict] = []
        for archived in (False, True):
            for page in self._pages("owners", lambda after, a=archived: self._client_call(
                    self._owners_api.get_page, limit=PAGE_SIZE, after=after, archived=a)):
                owners += page.get("results") or []
        settings_users: dict[str, dict] = {}
        try:
            for page in self._pages("users", lambda after: self._client_call(
                    self._users_api.get_page, limit=PAGE_SIZE, after=after), required=False):
                for u in page.get("results") or []:
                    settings_users[str(u.get("id"))] = u
        except _Optional as exc:
            self._note(sink, f"user roles not available: {exc}")
        role_names: dict[str, str] = {}
        if settings_users:
            try:
                roles = self._request("roles", self._client_call(self._roles_api.get_all))
                role_names = {str(r["id"]): r.get("name") for r in roles.get("results") or []}
            except _Optional as exc:
                self._note(sink, f"role names not available: {exc}")
        owner_of_user = {str(o.get("userId")): str(o["id"]) for o in owners if o.get("userId") is not None}
        # Login events go to the sink page by page (a big portal has hundreds of thousands);
        # only each user's last successful login is kept, for the users table.
        last_login: dict[str, Any] | None = {}
        write_logins = not sink.is_complete("login_events")
        try:
            login_progress = self._progress = sink.progress("login_events")
            for page in self._pages("login activity", lambda after: self._session_call(
                    "/account-info/v3/activity/login",
                    {"limit": LOGIN_PAGE_SIZE, **({"after": after} if after else {})}), required=False):
                rows = [mapping.to_login_event(e, owner_of_user) for e in page.get("results") or []]
                for e in rows:
                    if e["status"] == "success" and e["at"] and (e["user_id"] not in last_login
                                                                 or e["at"] > last_login[e["user_id"]]):
                        last_login[e["user_id"]] = e["at"]
                if write_logins:
                    sink.write("login_events", rows)
                login_progress.advance(records=len(rows))
        except _Optional as exc:
            last_login = None
            self._note(sink, f"login history not available (HubSpot offers it to Enterprise accounts with the "
                             f"account-info.security.read scope): {exc}")
        self._progress = progress
        rows = []
        seen = set()
        for owner in owners:
            if str(owner["id"]) in seen:
                continue
            seen.add(str(owner["id"]))
            row = mapping.to_user(owner, settings_users.get(str(owner.get("userId"))), role_names)
            if not settings_users:
                row.pop("role"), row.pop("is_admin")
            if last_login is not None:
                row["last_login_at"] = last_login.get(row["id"])
            rows.append(row)
        if not sink.is_complete("users"):
            sink.write("users", rows)
            progress.advance(records=len(rows))
            sink.complete("users")
        if last_login is not None and write_logins:
            sink.complete("login_events")

    def _read_stages(self, sink) -> None:
        self._progress = progress = sink.progress("stages")
        body = self._required("deal pipelines", self._client_call(self._pipelines_api.get_all, "deals"))
        rows = [s for p in body.get("results") or [] for s in mapping.to_stages(p)]
        sink.write("stages", rows)
        progress.advance(records=len(rows))
        sink.complete("stages")

    def _read_fields(self, sink) -> dict[str, dict[str, str]]:
        self._progress = progress = sink.progress("fields")
        custom_types: dict[str, dict[str, str]] = {}
        rows, seen = [], set()
        for table, object_types in mapping.OBJECT_TYPES.items():
            for object_type in object_types:
                body = self._required(f"{object_type} properties",
                                      self._client_call(self._properties_api.get_all, object_type, archived=False))
                custom_types[object_type] = {}
                for prop in body.get("results") or []:
                    if not prop.get("hubspotDefined", False):
                        custom_types[object_type][prop["name"]] = prop.get("type") or "string"
                    if (table, prop["name"]) not in seen:
                        seen.add((table, prop["name"]))
                        rows.append(mapping.to_field(table, prop))
        if not sink.is_complete("fields"):  # resuming: still needed for the custom property types
            sink.write("fields", rows)
            progress.advance(records=len(rows))
            sink.complete("fields")
        return custom_types

    # ------------------------------------------------------------------ records

    def _url_fits(self, object_type: str, properties: list[str]) -> bool:
        query = urlencode([("limit", PAGE_SIZE), ("after", "x" * 40), ("archived", "false")]
                          + [("properties", p) for p in properties])
        return len(f"GET {self.base_url}/crm/v3/objects/{object_type}?{query} HTTP/1.1") <= self.max_url_length

    def _objects(self, object_type: str, properties: list[str], after: str | None = None
                 ) -> Iterator[tuple[list[dict], dict]]:
        """Pages of HubSpot objects with ``properties``: one GET a page, or ids + batch read.

        Yields ``(objects, position)``; ``position`` continues the list after this page
        (HubSpot's list cursor, a keyset position on the object id, which does not expire).
        """
        use_batch = not self._url_fits(object_type, properties)
        while True:
            try:
                page = self._required(f"{object_type} page", self._client_call(
                    self._objects_basic.get_page, object_type, limit=PAGE_SIZE, after=after,
                    properties=["hs_object_id"] if use_batch else properties, archived=False))
            except _UrlTooLong:
                if use_batch:
                    raise ConnectorError(f"{object_type}: the server refused even a short request line (414)",
                                         where="hubspot") from None
                use_batch = True
                continue
            results = page.get("results") or []
            if use_batch and results:
                results = self._batch_read(object_type, [str(r["id"]) for r in results], properties)
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            yield results, {"after": after, "done": not after}
            if not after:
                return

    def _changed(self, object_type: str, properties: list[str], since: datetime, after_id: str | None = None
                 ) -> Iterator[tuple[list[dict], dict]]:
        """Pages of objects created or modified since ``since``, through the search endpoint.

        Keyset paging: every request filters ``hs_object_id > last id`` sorted by
        ``hs_object_id``, so no query pages past HubSpot's 10,000-result cap and the
        position (the last id) stays valid across runs.
        """
        from hubspot.crm.objects.models import Filter, FilterGroup, PublicObjectSearchRequest

        modified = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
        since_ms = str(int(_aware(since).timestamp() * 1000))
        while True:
            filters = [Filter(property_name=modified, operator="GTE", value=since_ms)]
            if after_id is not None:
                filters.append(Filter(property_name="hs_object_id", operator="GT", value=str(after_id)))
            request = PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=filters)], properties=properties, limit=SEARCH_PAGE_SIZE,
                sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}])
            waited = self.search_limiter.acquire()
            if waited:
                self._progress.waiting(waited)
            page = self._required(f"{object_type} search", self._client_call(
                self._objects_search.do_search, object_type, public_object_search_request=request))
            results = page.get("results") or []
            more = bool(((page.get("paging") or {}).get("next") or {}).get("after")) and bool(results)
            if results:
                after_id = str(results[-1]["id"])
            yield results, {"after_id": after_id, "done": not more}
            if not more:
                return

    def _deleted(self, object_type: str, since: datetime) -> list[str]:
        """Ids of ``object_type`` records deleted since ``since`` (HubSpot's archived list)."""
        since = _aware(since)
        ids = []
        for page in self._pages(f"archived {object_type}", lambda after: self._client_call(
                self._objects_basic.get_page, object_type, limit=PAGE_SIZE, after=after,
                properties=["hs_object_id"], archived=True)):
            for obj in page.get("results") or []:
                at = mapping.parse_time(obj.get("archivedAt"))
                if at is None or at >= since:
                    ids.append(str(obj["id"]))
        return ids

    def _batch_read(self, object_type: str, ids: list[str], properties: list[str]) -> list[dict]:
        from hubspot.crm.objects.models import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

        request = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids], properties=properties, properties_with_history=[])
        body = self._required(f"{object_type} batch read",
                              self._client_call(self._objects_batch.read, object_type, request, archived=False))
        by_id = {str(r["id"]): r for r in body.get("results") or []}
        missing = [i for i in ids if i not in by_id]
        if missing:  # deleted between the list call and the batch read: note, do not invent
            self._note(self._sink, f"{len(missing)} {object_type} disappeared while being read (deleted meanwhile)")
        return [by_id[i] for i in ids if i in by_id]

    def _associations(self, from_type: str, ids: list[str]) -> dict[str, dict[str, str]]:
        """{canonical column: {from id: associated id}} for the pairs the audit needs."""
        from hubspot.crm.associations.v4.models import (BatchInputPublicFetchAssociationsBatchRequest,
                                                        PublicFetchAssociationsBatchRequest)

        out: dict[str, dict[str, str]] = {}
        for to_type, column in mapping.ASSOCIATIONS.get(from_type, {}).items():
            found: dict[str, list[dict]] = {}
            pending = [(i, None) for i in ids]
            while pending:
                batch, pending = pending[:ASSOCIATION_BATCH], pending[ASSOCIATION_BATCH:]
                request = BatchInputPublicFetchAssociationsBatchRequest(
                    inputs=[PublicFetchAssociationsBatchRequest(id=i, after=a) for i, a in batch])
                body = self._required(f"{from_type}->{to_type} associations", self._client_call(
                    self._associations_batch.get_page, from_type, to_type, request))
                for result in body.get("results") or []:
                    from_id = str((result.get("from") or {}).get("id"))
                    found.setdefault(from_id, []).extend(result.get("to") or [])
                    nxt = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if nxt:
                        pending.append((from_id, nxt))
                for err in body.get("errors") or []:
                    if "NO_ASSOCIATIONS" not in str(err.get("subCategory") or "") and \
                            "associated" not in str(err.get("message") or ""):
                        raise ConnectorError(f"{from_type}->{to_type} associations: {err.get('message')}",
                                             where="hubspot")
            out[column] = {k: mapping.primary_association(v) for k, v in found.items()}
        return out

    @staticmethod
    def _chunks(pages: Iterator[tuple[list[dict], dict]]) -> Iterator[tuple[list[dict], dict]]:
        """Pages grouped into chunks of up to ASSOCIATION_BATCH objects, with the position after each."""
        chunk: list[dict] = []
        position: dict = {}
        for page, position in pages:
            chunk += page
            if len(chunk) >= ASSOCIATION_BATCH:
                yield chunk, position
                chunk = []
        if chunk or position.get("done"):
            yield chunk, position

    def _read_table(self, sink, table: str, custom_types: dict[str, dict[str, str]], previous) -> None:
        """One record table (from one or several HubSpot object types), resumable, maybe incremental.

        Checkpoint state: ``{"mode", "object_type", "after" | "after_id", "done"}``: the
        object type names the sub-source (activities come from six), ``after`` is the list
        cursor (full reads), ``after_id`` the last id read through search (incremental).
        """
        if sink.is_complete(table):
            return
        self._progress = progress = sink.progress(table)
        if previous is not None and previous.records and table not in previous.records:
            previous = None  # the previous audit did not read this table: read it in full
        since = _aware(previous.since) if previous is not None else None
        mode = "full" if since is None else "since"
        state = sink.resume_state(table) or {}
        if state and state.get("mode") != mode:
            raise ConnectorError(f"{table}: cannot resume a {state.get('mode')} read as a {mode} read",
                                 where="hubspot", hint="resume with the same --incremental setting")
        object_types = mapping.OBJECT_TYPES[table]
        start = object_types.index(state["object_type"]) if state.get("object_type") in object_types else 0
        merged: list[str] = list(state.get("merged") or [])  # ids merged away (gone), seen on survivors
        for index in range(start, len(object_types)):
            object_type = object_types[index]
            position = state if index == start and state.get("object_type") == object_type else {}
            if position.get("done"):
                continue
            types = custom_types.get(object_type, {})
            properties = sorted(set(mapping.needed_properties(object_type)) | set(types))
            if since is None:
                pages = self._objects(object_type, properties, position.get("after"))
            else:
                if table in RECORD_TABLES:
                    properties.append("hs_merged_object_ids")
                pages = self._changed(object_type, properties, since, position.get("after_id"))
            for chunk, position in self._chunks(pages):
                rows = self._linked_rows(table, object_type, chunk, types)
                if rows:
                    sink.write(table, rows)
                    if since is not None:
                        self._read_ids.setdefault(table, set()).update(r["id"] for r in rows)
                if since is not None:
                    for obj in chunk:
                        merged += [i for i in str((obj.get("properties") or {}).get("hs_merged_object_ids") or "")
                                   .split(";") if i.strip()]
                sink.checkpoint(table, {"mode": mode, "object_type": object_type, **position,
                                        **({"merged": merged} if merged else {})})
                progress.advance(records=len(rows))
        if previous is not None:
            self._merged[table] = set(merged)
            if not state.get("relinked"):
                base = {"mode": mode, "object_type": object_types[-1], "done": True,
                        **({"merged": merged} if merged else {})}
                relinked = self._reread_linked_to_deleted(sink, table, custom_types, previous, base,
                                                          state.get("relink_at"))
                sink.checkpoint(table, {**base, "relinked": True})
                progress.advance(records=relinked)
            sink.carry_forward(table, previous, sorted(self._gone_ids(table, since)))
        sink.complete(table)

    def _linked_rows(self, table: str, object_type: str, objs: list[dict], types: dict) -> list[dict]:
        """Canonical rows of ``objs`` with their association columns filled (one batch read
        per association pair for the whole chunk)."""
        if table in RECORD_TABLES:
            rows = [mapping.to_record(table, obj, types) for obj in objs]
        else:
            rows = [mapping.to_activity(object_type, obj, types) for obj in objs]
        if rows:
            links = self._associations(object_type, [r["id"] for r in rows])
            for row in rows:
                for column, by_id in links.items():
                    row[column] = by_id.get(row["id"])
        return rows

    def _gone_ids(self, table: str, since: datetime) -> set[str]:
        """Ids of ``table`` deleted (archived) or merged away since ``since``; cached."""
        if table not in self._gone:
            gone = set(self._merged.get(table, ()))
            for object_type in mapping.OBJECT_TYPES[table]:
                gone.update(self._deleted(object_type, since))
            self._gone[table] = gone
        self._gone[table] |= self._merged.get(table, set())
        return self._gone[table]

    def _reread_linked_to_deleted(self, sink, table: str, custom_types, previous, base: dict,
                                  resume_at: list | None) -> int:
        """Read again the unchanged rows whose company/contact/deal was deleted since.

        HubSpot drops the associations of a deleted record without modifying the records
        on the other side, so their carried rows would keep a link to a record that is
        gone. The previous snapshot says which rows point at the deleted ids; they are
        read with batch reads (100 a call) and win over the carried copies. A checkpoint
        after each chunk (``relink_at``: object type and last id) makes this resumable too.
        """
        links = LINKS.get(table)
        if not links:
            return 0
        since = _aware(previous.since)
        gone = {target: sorted(self._gone_ids(target, since)) for target in set(links.values())}
        if not any(gone.values()):
            return 0
        import duckdb

        gone = {target: ids for target, ids in gone.items() if ids}
        condition = " OR ".join(f"list_contains(${target}, {column})" for column, target in links.items()
                                if target in gone)
        kind = "type" if table == "activities" else "NULL"
        con = duckdb.connect(str(previous.path), read_only=True)
        try:
            found = con.execute(f"SELECT id, {kind} FROM canonical.{table} WHERE tenant = $tenant AND ({condition})",
                                {"tenant": self.context.tenant if self.context else sink.tenant,
                                 **{t: ids for t, ids in gone.items()}}).fetchall()
        finally:
            con.close()
        already = self._read_ids.get(table, set())
        by_type: dict[str, list[str]] = {}
        for record_id, activity_type in found:
            if record_id in already or record_id in self._gone_ids(table, since):
                continue
            object_type = table if table != "activities" else mapping.OBJECT_TYPE_OF_ACTIVITY.get(activity_type, "notes")
            by_type.setdefault(object_type, []).append(record_id)
        count = 0
        order = mapping.OBJECT_TYPES[table]
        for object_type in sorted(by_type, key=order.index):
            ids = sorted(by_type[object_type], key=_id_key)
            if resume_at:
                if order.index(object_type) < order.index(resume_at[0]):
                    continue
                if object_type == resume_at[0]:
                    ids = [i for i in ids if _id_key(i) > _id_key(resume_at[1])]
            types = custom_types.get(object_type, {})
            properties = sorted(set(mapping.needed_properties(object_type)) | set(types))
            for start in range(0, len(ids), ASSOCIATION_BATCH):
                objs = []
                for i in range(start, min(start + ASSOCIATION_BATCH, len(ids)), PAGE_SIZE):
                    objs += self._batch_read(object_type, ids[i: min(i + PAGE_SIZE, start + ASSOCIATION_BATCH)],
                                             properties)
                # modified since: the search pass read it (in this run or before an interruption)
                objs = [o for o in objs if (_modified(o, object_type) or since) < since]
                rows = self._linked_rows(table, object_type, objs, types)
                if rows:
                    sink.write(table, rows)
                    count += len(rows)
                last = ids[min(start + ASSOCIATION_BATCH, len(ids)) - 1]
                sink.checkpoint(table, {**base, "relink_at": [object_type, last]})
        return count

    def _read_campaigns(self, sink) -> None:
        self._progress = progress = sink.progress("campaigns")
        rows: list[dict] = []
        try:
            for page in self._pages("marketing emails", lambda after: self._client_call(
                    self._emails_api.get_page, limit=PAGE_SIZE, after=after, include_stats=True), required=False):
                batch = [mapping.to_campaign(e) for e in page.get("results") or []]
                rows += batch
                progress.advance(records=len(batch))
        except _Optional as exc:
            self._note(sink, f"marketing email statistics not available (needs Marketing Hub and the "
                             f"content scope): {exc}")
            return
        sink.write("campaigns", rows)
        sink.complete("campaigns")


def _id_key(value: str):
    return (0, int(value)) if str(value).isdigit() else (1, str(value))


def _modified(obj: dict, object_type: str) -> datetime | None:
    props = obj.get("properties") or {}
    value = props.get("lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate") or obj.get("updatedAt")
    return mapping.parse_time(value)


def _aware(value) -> datetime:
    if isinstance(value, str):
        value = mapping.parse_time(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


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


def record_url(options: dict, object_name: str, record_id: str) -> str | None:
    """A link into HubSpot's UI (needs option ``portal_id``; app.hubspot.com unless ``ui_domain``)."""
    portal = options.get("portal_id")
    if not portal or not record_id:
        return None
    kinds = {"contact": "0-1", "company": "0-2", "deal": "0-3"}
    kind = kinds.get(object_name)
    if kind is None:
        return None
    domain = options.get("ui_domain") or "app.hubspot.com"
    return f"https://{domain}/contacts/{portal}/record/{kind}/{record_id}"


def make_connector(options: dict, context: ExtractContext) -> HubSpotConnector:
    return HubSpotConnector(options, context)
