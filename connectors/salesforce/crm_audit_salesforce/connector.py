"""Reads a Salesforce org into the canonical schema with simple-salesforce.

simple-salesforce makes the calls; this module adds what it lacks (shared/CRM-APIS.md,
section 0): retries with backoff and jitter (it has none), a client-side rate limiter,
a budget guard fed by ``Sforce-Limit-Info``, timeouts and call counting. All of that
sits in one ``requests`` transport adapter mounted on the session simple-salesforce
uses, so every HTTP call (REST, Bulk 2.0, logins) passes through it.

Reading strategy per object: a REST query with the largest batch size (2,000); when the
first batch says the object holds more than ``bulk_threshold`` records, a Bulk 2.0 query
job instead (CSV pages of ``bulk_page_size``). A field list that would make the query URL
(16 KB) or the SOQL (100,000 characters) too long is split into several queries that
are joined on ``Id``. The connector never writes: Bulk query-job creation is its only POST.
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator
from urllib.parse import quote_plus, urlparse

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceOperationError,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from crm_audit_core.errors import AuthError, BudgetExhausted, ConfigError, ConnectorError
from crm_audit_core.http import BudgetGuard, CallStats, RateLimiter, RetryableError, make_session, retrying
from crm_audit_core.secrets import redact, remember

from . import mapping as m

UTC = timezone.utc

OPTIONS = {
    "instance_url": "https://<mydomain>.my.salesforce.com (session-id mode; optional for JWT)",
    "session_id": "an OAuth access token or session id (session-id mode)",
    "username": "Salesforce username (password and JWT modes)",
    "password": "password (password mode)",
    "security_token": "the user's security token (password mode)",
    "consumer_key": "connected app consumer key (JWT bearer mode)",
    "private_key": "PEM private key whose certificate is on the connected app (JWT mode)",
    "private_key_file": "path to that PEM key, instead of private_key",
    "domain": "login domain: 'login' (production, default), 'test' (sandbox org) or a My Domain prefix",
    "sandbox": "true for a sandbox org (same as domain = 'test')",
    "api_version": "API version to use, e.g. '62.0' (default: the newest the org offers)",
    "ca_bundle": "path to a CA bundle to trust (for proxies or the local sandbox)",
    "verify": "false to skip TLS verification (not recommended)",
    "login_url": "send logins to this base URL instead of https://<domain>.salesforce.com",
    "bulk_threshold": "objects with more records than this are read with Bulk API 2.0 (default 10000)",
    "bulk": "false to never use Bulk API 2.0",
    "batch_size": "REST query batch size, 200..2000 (default 2000)",
    "bulk_page_size": "records per Bulk 2.0 result page (default 50000)",
    "bulk_poll_seconds": "seconds between Bulk job status polls (default 2)",
    "max_url_length": "longest query URL to send before splitting the field list (default 16000)",
    "max_soql_length": "longest SOQL statement before splitting (default 100000)",
    "budget_share": "share of the org's daily API requests the audit may use (default 0.2)",
    "rate_limit": "client-side limit, 'calls/seconds' (e.g. '20/1'; default none)",
    "retry_attempts": "attempts per call on 5xx, throttling and connection errors (default 6)",
    "retry_base_delay": "first backoff delay in seconds (default 0.5)",
    "retry_max_delay": "longest backoff delay in seconds (default 30)",
    "timeout": "seconds to wait for one HTTP response (default 120)",
    "login_history_days": "days of LoginHistory to read (default 180)",
    "lifecycle_field": "Contact field holding the lifecycle stage (default Lifecycle_Stage__c)",
    "lead_status_field": "Contact field holding a lead status (default Lead_Status__c)",
    "segments_field": "Contact/Lead multi-select picklist of segments (default Segments__c)",
    "source_detail_field": "field naming the integration that created a record (default Source_Detail__c)",
    "loss_reason_field": "Opportunity loss-reason field (default: detected, e.g. Loss_Reason__c)",
    "lead_account_field": "Lead lookup to an Account (default Account__c), read as the lead's company_id",
}

# Objects whose absence (permission or edition) is a note, not a failure.
OPTIONAL = {"LoginHistory": "login_events", "TwoFactorMethodsInfo": "users.mfa_enabled",
            "PermissionSetAssignment": "users.is_admin", "PermissionSet": "users.is_admin",
            "Campaign": "campaigns", "OpportunityStage": "stages", "limits": "API usage (/limits)"}


class _Unavailable(Exception):
    """An optional object the audit user may not read (permission, edition)."""


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _number(options: dict, name: str, default: float, kind=float) -> Any:
    value = options.get(name)
    if value in (None, ""):
        return default
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option {name!r} must be a number, got {value!r}", where="salesforce") from None


class _Transport(HTTPAdapter):
    """Every HTTP call: rate limit, budget, timeout, count, read Sforce-Limit-Info."""

    def __init__(self, owner: "SalesforceConnector"):
        super().__init__()
        self.owner = owner

    def send(self, request, **kwargs):
        owner = self.owner
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = owner.timeout
        if owner.verify is not True:
            # An explicit ca_bundle/verify option beats REQUESTS_CA_BUNDLE from the
            # environment, which requests would otherwise prefer over session.verify.
            kwargs["verify"] = owner.verify
        counted = "/services/data/v" in (request.url or "")
        if counted:
            owner.budget.before_call()
        if owner.limiter is not None:
            waited = owner.limiter.acquire()
            if waited and owner.progress is not None:
                owner.progress.waiting(waited)
        try:
            response = super().send(request, **kwargs)
        except Exception:
            owner.stats.record_call(None)
            raise
        owner.stats.record_call(response.status_code)
        if owner.progress is not None:
            owner.progress.advance(calls=1)
        info = response.headers.get("Sforce-Limit-Info")
        if info:
            usage = re.search(r"api-usage=(\d+)/(\d+)", info)
            if usage:
                owner.budget.observe(limit=int(usage[2]), used=int(usage[1]))
        return response


class _NullProgress:
    def advance(self, records: int = 0, calls: int = 0) -> None:
        pass

    def set_total(self, total) -> None:
        pass

    def waiting(self, seconds: float) -> None:
        pass


class SalesforceConnector:
    """One org, read once per audit (see the module docstring)."""

    def __init__(self, options: dict, context: Any = None):
        self.options = dict(options or {})
        self.context = context
        o = self.options
        if not o.get("session_id") and o.get("access_token"):
            o["session_id"] = o["access_token"]
        for key in ("session_id", "password", "security_token", "private_key", "consumer_secret"):
            remember(o.get(key))
        self.mode = self._auth_mode()
        self.domain = "test" if _bool(o.get("sandbox"), False) else (o.get("domain") or "login")
        self.api_version = m_version(o.get("api_version"))
        self.bulk_enabled = _bool(o.get("bulk"), True)
        self.bulk_threshold = _number(o, "bulk_threshold", 10_000, int)
        self.batch_size = min(2000, max(200, _number(o, "batch_size", 2000, int)))
        self.bulk_page_size = _number(o, "bulk_page_size", 50_000, int)
        self.bulk_poll_seconds = _number(o, "bulk_poll_seconds", 2.0)
        self.max_url_length = _number(o, "max_url_length", 16_000, int)
        self.max_soql_length = _number(o, "max_soql_length", 100_000, int)
        self.timeout = _number(o, "timeout", 120.0)
        self.login_history_days = _number(o, "login_history_days", 180, int)
        self.retry_attempts = _number(o, "retry_attempts", 6, int)
        self.retry_base_delay = _number(o, "retry_base_delay", 0.5)
        self.retry_max_delay = _number(o, "retry_max_delay", 30.0)
        self.stats = CallStats()
        try:
            self.budget = BudgetGuard(_number(o, "budget_share", 0.2), crm="Salesforce")
        except ValueError as exc:
            raise ConfigError(f"option 'budget_share': {exc}", where="salesforce") from None
        self.limiter = None
        if o.get("rate_limit"):
            calls, _, seconds = str(o["rate_limit"]).partition("/")
            try:
                self.limiter = RateLimiter(int(calls), float(seconds or 1), stats=self.stats)
            except ValueError:
                raise ConfigError(f"option 'rate_limit' must look like 'calls/seconds', got {o['rate_limit']!r}",
                                  where="salesforce") from None
        self.cfg = {k: (o.get(k) or v) for k, v in m.MAPPED_CUSTOM_FIELDS.items()}
        self.progress: Any = None
        self.stage_ids: dict[str, str] = {}
        self.verify: Any = True
        self.sf: Salesforce | None = None
        self.types: dict[str, dict[str, str]] = {}
        self.describes: dict[str, dict] = {}
        self.as_of = _as_of(context)

    # ------------------------------------------------------------------ setup

    def _auth_mode(self) -> str:
        o = self.options
        if o.get("session_id"):
            if not o.get("instance_url"):
                raise ConfigError("session-id mode needs 'instance_url' (https://<mydomain>.my.salesforce.com)",
                                  where="salesforce")
            return "session"
        if o.get("username") and o.get("consumer_key") and (o.get("private_key") or o.get("private_key_file")):
            return "jwt"
        if o.get("username") and o.get("password") and o.get("security_token") is not None:
            return "password"
        raise ConfigError(
            "no credentials: give session_id + instance_url, or username + password + security_token, "
            "or username + consumer_key + private_key(_file) for the JWT bearer flow", where="salesforce")

    def _session(self) -> requests.Session:
        o = self.options
        verify: Any = True
        if o.get("ca_bundle"):
            verify = o["ca_bundle"]
        elif not _bool(o.get("verify"), True):
            verify = False
        self.verify = verify
        session = make_session(verify=verify)
        transport = _Transport(self)
        session.mount("https://", transport)
        session.mount("http://", transport)
        if o.get("login_url"):
            session.mount(f"https://{self.domain}.salesforce.com/", _Rewrite(self, o["login_url"]))
        return session

    def client_kwargs(self) -> dict:
        """The simple-salesforce constructor arguments for the configured auth mode."""
        o = self.options
        version = self.api_version or "59.0"
        if self.mode == "session":
            return {"instance_url": o["instance_url"], "session_id": o["session_id"], "version": version}
        if self.mode == "jwt":
            kwargs = {"username": o["username"], "consumer_key": o["consumer_key"], "domain": self.domain,
                      "version": version}
            if o.get("private_key"):
                kwargs["privatekey"] = o["private_key"]
            else:
                kwargs["privatekey_file"] = o["private_key_file"]
            return kwargs
        return {"username": o["username"], "password": o["password"], "security_token": o["security_token"],
                "domain": self.domain, "version": version}

    def _where(self) -> str:
        if self.mode == "session":
            return self.options["instance_url"]
        return self.options.get("login_url") or f"https://{self.domain}.salesforce.com"

    def connect(self) -> Salesforce:
        session = self._session()
        kwargs = self.client_kwargs()
        try:
            self.sf = self._call(lambda: Salesforce(session=session, **kwargs), "logging in")
        except SalesforceAuthenticationFailed as exc:  # pragma: no cover - translated in _call
            raise self._auth_error(exc) from None
        return self.sf

    def _auth_error(self, exc: Exception) -> AuthError:
        content = getattr(exc, "content", None)
        if isinstance(content, list) and content and isinstance(content[0], dict):
            detail = f"{content[0].get('errorCode')}: {content[0].get('message')}"
        elif isinstance(exc, SalesforceAuthenticationFailed):
            detail = f"{exc.code}: {exc.message}"
        else:
            detail = str(content or exc)
        detail = " ".join(str(detail).split())
        hints = {
            "session": "get a fresh access token / session id, or use the password or JWT mode",
            "password": "check username, password and security token, and the login domain ('test' for sandboxes)",
            "jwt": "check the consumer key, that the certificate on the connected app matches the private key, "
                   "and that the user is pre-authorised for the app",
        }
        return AuthError(redact(f"Salesforce refused the credentials ({self.mode} mode): {detail}"),
                         where=self._where(), hint=hints[self.mode])

    # ------------------------------------------------------------ HTTP policy

    def _call(self, fn: Callable[[], Any], what: str, sobject: str | None = None) -> Any:
        for attempt in retrying(max_attempts=self.retry_attempts, base_delay=self.retry_base_delay,
                                max_delay=self.retry_max_delay, stats=self.stats):
            with attempt:
                try:
                    return fn()
                except (AuthError, BudgetExhausted, ConnectorError, _Unavailable):
                    raise
                except SalesforceAuthenticationFailed as exc:
                    raise self._auth_error(exc) from None
                except SalesforceExpiredSession as exc:
                    raise self._auth_error(exc) from None
                except SalesforceError as exc:
                    raise self._translate(exc, what, sobject) from None
                except requests.exceptions.SSLError as exc:
                    raise ConnectorError(f"{what}: TLS verification failed ({_short(exc)})", where=self._where(),
                                         hint="set 'ca_bundle' to the CA that signed the server's certificate") from None
                except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                        requests.exceptions.ContentDecodingError) as exc:
                    raise RetryableError(f"{what}: connection problem ({type(exc).__name__})",
                                         where=self._where()) from None
                except ValueError as exc:  # a body that is not JSON (cut or garbled)
                    raise RetryableError(f"{what}: malformed response ({exc})", where=self._where()) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _translate(self, exc: SalesforceError, what: str, sobject: str | None) -> Exception:
        content = getattr(exc, "content", None)
        first = content[0] if isinstance(content, list) and content and isinstance(content[0], dict) else {}
        code, message = first.get("errorCode", ""), first.get("message", str(content)[:200])
        status = getattr(exc, "status", None)
        if isinstance(exc, SalesforceRefusedRequest) and code == "REQUEST_LIMIT_EXCEEDED":
            return RetryableError(f"{what}: Salesforce throttled the request ({message})", where=self._where())
        if isinstance(exc, SalesforceGeneralError) and status is not None and (status >= 500 or status == 429):
            return RetryableError(f"{what}: HTTP {status} {code}".strip(), where=self._where())
        if sobject in OPTIONAL and (
            isinstance(exc, (SalesforceRefusedRequest, SalesforceResourceNotFound))
            or code in ("INVALID_TYPE", "INSUFFICIENT_ACCESS", "INVALID_FIELD", "NOT_FOUND")
        ):
            return _Unavailable(f"{sobject} is not readable by this user ({code or status}: {message.strip()})")
        if isinstance(exc, SalesforceOperationError):
            return ConnectorError(f"{what}: Bulk API job failed: {exc}", where=self._where())
        hint = None
        if code == "INSUFFICIENT_ACCESS" or isinstance(exc, SalesforceRefusedRequest):
            hint = "give the audit user 'View Setup and Configuration' and 'View All Data' (read-only)"
        return ConnectorError(redact(f"{what}: HTTP {status} {code}: {message.strip()}"), where=self._where(),
                              hint=hint)

    # ------------------------------------------------------------ versions

    def _versions(self) -> list[dict]:
        url = f"https://{self.sf.sf_instance}/services/data/"

        def get():
            response = self.sf.session.get(url, headers={"Accept": "application/json"})
            if response.status_code >= 500:
                raise RetryableError(f"reading API versions: HTTP {response.status_code}", where=self._where())
            response.raise_for_status()
            return response.json()

        return self._call(get, "reading API versions")

    def _use_version(self, version: str) -> None:
        sf = self.sf
        sf.sf_version = version
        sf.base_url = f"https://{sf.sf_instance}/services/data/v{version}/"
        sf.bulk2_url = f"https://{sf.sf_instance}/services/data/v{version}/jobs/"

    # ------------------------------------------------------------ reading

    def _soql(self, fields: list[str], sobject: str, where: str | None) -> str:
        text = f"SELECT {', '.join(fields)} FROM {sobject}"
        return f"{text} WHERE {where}" if where else text

    def _chunks(self, fields: list[str], sobject: str, where: str | None, bulk: bool) -> list[list[str]]:
        """Split a field list so each query fits the URL (REST) or SOQL (Bulk) limit."""

        def fits(candidate: list[str]) -> bool:
            soql = self._soql(candidate, sobject, where)
            if bulk:
                return len(soql) <= self.max_soql_length
            return len(self.sf.base_url) + len("query/?q=") + len(quote_plus(soql)) <= self.max_url_length

        if fits(fields):
            return [fields]
        chunks: list[list[str]] = []
        current = ["Id"]
        for f in fields:
            if f == "Id":
                continue
            if fits(current + [f]):
                current.append(f)
            else:
                chunks.append(current)
                current = ["Id", f]
        chunks.append(current)
        return chunks

    def _rest_pages(self, soql: str, sobject: str) -> Iterator[tuple[int, list[dict]]]:
        headers = {"Sforce-Query-Options": f"batchSize={self.batch_size}"}
        result = self._call(lambda: self.sf.query(soql, headers=headers), f"querying {sobject}", sobject)
        while True:
            records = [{k: v for k, v in r.items() if k != "attributes"} for r in result["records"]]
            yield result.get("totalSize", len(records)), records
            if result.get("done", True):
                return
            nxt = result["nextRecordsUrl"]
            result = self._call(lambda: self.sf.query_more(nxt, identifier_is_url=True, headers=headers),
                                f"querying {sobject}", sobject)

    def _bulk_pages(self, soql: str, sobject: str) -> Iterator[list[dict]]:
        client = getattr(self.sf.bulk2, sobject)._client
        job = self._call(lambda: client.create_job("query", soql), f"creating a Bulk query job for {sobject}", sobject)
        job_id = job["id"]
        while True:
            info = self._call(lambda: client.get_job(job_id, True), f"waiting for the Bulk job on {sobject}", sobject)
            state = info.get("state")
            if state == "JobComplete":
                break
            if state in ("Failed", "Aborted"):
                raise ConnectorError(f"Bulk query job {job_id} on {sobject} {state.lower()}: "
                                     f"{info.get('errorMessage') or 'no reason given'}", where=self._where())
            time.sleep(self.bulk_poll_seconds)
        locator = ""
        while True:
            def page(loc=locator):
                result = client.get_query_results(job_id, loc, self.bulk_page_size)
                records = _parse_csv(result["records"])
                if len(records) != result["number_of_records"]:
                    raise RetryableError(f"Bulk results for {sobject}: {len(records)} rows but "
                                         f"Sforce-NumberOfRecords says {result['number_of_records']}",
                                         where=self._where())
                return result["locator"], records

            locator, records = self._call(page, f"reading Bulk results for {sobject}", sobject)
            yield records
            if not locator:
                return

    def read(self, sobject: str, fields: list[str], where: str | None = None) -> Iterator[list[dict]]:
        """Pages of records (dicts without ``attributes``) of ``sobject``."""
        chunks = self._chunks(fields, sobject, where, bulk=False)
        first_soql = self._soql(chunks[0], sobject, where)
        pages = self._rest_pages(first_soql, sobject)
        total, first = next(pages)
        if self.progress is not None:
            _set_total(self.progress, total)
        if self.bulk_enabled and total > self.bulk_threshold:
            pages.close()
            yield from self._read_bulk(sobject, fields, where)
            return
        if len(chunks) == 1:
            yield first
            for _, records in pages:
                yield records
            return
        # A wide object: join the field chunks on Id.
        merged: dict[str, dict] = {}
        for r in first:
            merged[r["Id"]] = r
        for _, records in pages:
            for r in records:
                merged[r["Id"]] = r
        for chunk in chunks[1:]:
            for _, records in self._rest_pages(self._soql(chunk, sobject, where), sobject):
                for r in records:
                    merged.setdefault(r["Id"], {"Id": r["Id"]}).update(r)
        rows = list(merged.values())
        for i in range(0, len(rows), self.batch_size):
            yield rows[i : i + self.batch_size]

    def _read_bulk(self, sobject: str, fields: list[str], where: str | None) -> Iterator[list[dict]]:
        chunks = self._chunks(fields, sobject, where, bulk=True)
        if len(chunks) == 1:
            yield from self._bulk_pages(self._soql(fields, sobject, where), sobject)
            return
        merged: dict[str, dict] = {}
        for chunk in chunks:
            for records in self._bulk_pages(self._soql(chunk, sobject, where), sobject):
                for r in records:
                    merged.setdefault(r["Id"], {}).update(r)
        rows = list(merged.values())
        for i in range(0, len(rows), self.bulk_page_size):
            yield rows[i : i + self.bulk_page_size]

    def read_all(self, sobject: str, fields: list[str], where: str | None = None) -> list[dict]:
        out: list[dict] = []
        for page in self.read(sobject, fields, where):
            out.extend(page)
        return out

    def describe(self, sobject: str) -> dict:
        if sobject not in self.describes:
            self.describes[sobject] = self._call(lambda: getattr(self.sf, sobject).describe(),
                                                 f"describing {sobject}", sobject)
            self.types[sobject] = {f["name"]: f.get("type") for f in self.describes[sobject].get("fields", [])}
        return self.describes[sobject]

    # ----------------------------------------------------------- the extract

    def api_calls(self) -> int:
        return self.stats.calls

    def extract(self, sink) -> None:
        self.connect()
        versions = self._versions()
        offered = [v["version"] for v in versions]
        if self.api_version is None:
            self.api_version = max(offered, key=float) if offered else self.sf.sf_version
        elif offered and self.api_version not in offered:
            raise ConnectorError(f"API version {self.api_version} is not offered by this org "
                                 f"(it offers {offered[0]} to {offered[-1]})", where=self._where(),
                                 hint="set 'api_version' to one the org offers, or leave it out")
        self._use_version(self.api_version)
        self._limits(sink)
        self._platform(sink, versions)
        self._users(sink)
        self._logins(sink)
        custom = self._fields(sink)
        self._companies(sink, custom)
        self._contacts(sink, custom)
        self._stages(sink)
        self._deals(sink, custom)
        self._activities(sink, custom)
        self._campaigns(sink)

    def _begin(self, sink, table: str):
        self.progress = sink.progress(table, None) if hasattr(sink, "progress") else _NullProgress()
        return self.progress

    def _limits(self, sink) -> None:
        try:
            limits = self._call(lambda: self.sf.limits(), "reading org limits", "limits")
        except _Unavailable as exc:
            sink.note(f"Salesforce: {exc}; the budget guard relies on Sforce-Limit-Info headers only")
            limits = {}
        daily = (limits or {}).get("DailyApiRequests") or {}
        if daily.get("Max"):
            self.budget.observe(limit=daily["Max"], remaining=daily.get("Remaining"))
        self.limits = limits

    def _platform(self, sink, versions: list[dict]) -> None:
        self._begin(sink, "platform")
        org = self.read_all("Organization", m.ORGANIZATION_FIELDS)
        self.organization = org[0] if org else None
        sink.write("platform", [m.platform_row(self.organization, versions, self.api_version)])
        sink.complete("platform")

    def _optional(self, sink, sobject: str, fields: list[str], where: str | None = None) -> list[dict] | None:
        try:
            return self.read_all(sobject, fields, where)
        except _Unavailable as exc:
            sink.note(f"Salesforce: {OPTIONAL[sobject]} not available: {exc}")
            return None

    def _users(self, sink) -> None:
        progress = self._begin(sink, "users")
        admin_sets = self._optional(sink, "PermissionSet", m.PERMISSION_SET_FIELDS)
        admin_ids: set[str] = set()
        if admin_sets is not None:
            privileged = {p["Id"] for p in admin_sets
                          if m.as_bool(p.get("PermissionsModifyAllData")) or m.as_bool(p.get("PermissionsViewAllData"))}
            assignments = self._optional(sink, "PermissionSetAssignment", m.ASSIGNMENT_FIELDS) or []
            admin_ids = {a["AssigneeId"] for a in assignments if a.get("PermissionSetId") in privileged}
        mfa_rows = self._optional(sink, "TwoFactorMethodsInfo", m.MFA_FIELDS)
        mfa = None if mfa_rows is None else {r["UserId"]: m.has_mfa(r) for r in mfa_rows}
        for page in self.read("User", m.USER_FIELDS):
            sink.write("users", [m.user_row(r, admin_ids, mfa) for r in page])
            progress.advance(records=len(page))
        sink.complete("users")

    def _logins(self, sink) -> None:
        progress = self._begin(sink, "login_events")
        since = (self.as_of - timedelta(days=self.login_history_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            for page in self.read("LoginHistory", m.LOGIN_FIELDS, f"LoginTime >= {since}"):
                sink.write("login_events", [m.login_row(r) for r in page])
                progress.advance(records=len(page))
        except _Unavailable as exc:
            sink.note(f"Salesforce: login history not available: {exc} (grant 'Manage Users' or "
                      "'Monitor Login History' to the audit user)")
            return
        sink.complete("login_events")

    def _fields(self, sink) -> dict[str, list[str]]:
        """Describe the audited objects: the fields table, custom fields per object."""
        self._begin(sink, "fields")
        mapped = set(self.cfg.values())
        objects = {"Account": "companies", "Contact": "contacts", "Lead": "contacts", "Opportunity": "deals",
                   "Task": "activities", "Event": "activities"}
        rows, seen, custom = [], set(), {}
        for sobject, table in objects.items():
            describe = self.describe(sobject)
            custom[sobject] = [f["name"] for f in describe.get("fields", [])
                               if (f.get("custom") or f["name"].endswith("__c")) and f["name"] not in mapped]
            for f in describe.get("fields", []):
                if (table, f["name"]) in seen:
                    continue
                seen.add((table, f["name"]))
                rows.append(m.field_row(table, f, mapped))
        sink.write("fields", rows)
        sink.complete("fields")
        return custom

    def _present(self, sobject: str, fields: list[str]) -> list[str]:
        known = self.types.get(sobject, {})
        out = []
        for f in fields:
            base = f.split(".")[0] + "Id" if "." in f else f
            if base in known:
                out.append(f)
        return out

    def _companies(self, sink, custom) -> None:
        progress = self._begin(sink, "companies")
        fields = self._present("Account", m.ACCOUNT_FIELDS + [self.cfg["source_detail_field"]]) + custom["Account"]
        for page in self.read("Account", fields):
            sink.write("companies", [m.company_row(r, self.cfg, custom["Account"], self.types["Account"]) for r in page])
            progress.advance(records=len(page))
        sink.complete("companies")

    def _contacts(self, sink, custom) -> None:
        progress = self._begin(sink, "contacts")
        extra = [self.cfg[k] for k in ("lifecycle_field", "lead_status_field", "segments_field", "source_detail_field",
                                       "lead_account_field")]
        fields = self._present("Contact", m.CONTACT_FIELDS + extra) + custom["Contact"]
        for page in self.read("Contact", fields):
            sink.write("contacts", [m.contact_row_from_contact(r, self.cfg, custom["Contact"], self.types["Contact"])
                                    for r in page])
            progress.advance(records=len(page))
        fields = self._present("Lead", m.LEAD_FIELDS + extra) + custom["Lead"]
        # Converted leads live on as their Contact; only open leads are contacts at stage "lead".
        for page in self.read("Lead", fields, "IsConverted = false"):
            sink.write("contacts", [m.contact_row_from_lead(r, self.cfg, custom["Lead"], self.types["Lead"])
                                    for r in page])
            progress.advance(records=len(page))
        sink.complete("contacts")

    def _stages(self, sink) -> None:
        progress = self._begin(sink, "stages")
        rows = self._optional(sink, "OpportunityStage", m.STAGE_FIELDS)
        if rows is None:
            return
        for r in rows:
            for key in ("MasterLabel", "ApiName"):
                if r.get(key):
                    self.stage_ids.setdefault(r[key], r["Id"])
        sink.write("stages", [m.stage_row(r) for r in rows])
        progress.advance(records=len(rows))
        sink.complete("stages")

    def _loss_field(self, sink) -> str | None:
        known = self.types.get("Opportunity", {})
        wanted = self.options.get("loss_reason_field")
        if wanted:
            if wanted in known:
                return wanted
            sink.note(f"Salesforce: Opportunity has no field {wanted} (option loss_reason_field): "
                      "deals.lost_reason not supplied")
            return None
        if m.MAPPED_CUSTOM_FIELDS["loss_reason_field"] in known:
            return m.MAPPED_CUSTOM_FIELDS["loss_reason_field"]
        for name in known:
            low = name.lower()
            if ("loss" in low or "lost" in low) and "reason" in low:
                return name
        sink.note("Salesforce: no loss-reason field on Opportunity (set option loss_reason_field): "
                  "deals.lost_reason not supplied")
        return None

    def _deals(self, sink, custom) -> None:
        progress = self._begin(sink, "deals")
        self.describe("Opportunity")
        loss = self._loss_field(sink)
        cfg = {**self.cfg, "loss_reason_field": loss}
        fields = self._present("Opportunity", m.OPPORTUNITY_FIELDS + ["RecordType.Name", "CurrencyIsoCode",
                                                                     self.cfg["source_detail_field"]])
        if loss and loss not in fields:
            fields.append(loss)
        fields += [f for f in custom["Opportunity"] if f not in fields]
        deal_custom = [f for f in custom["Opportunity"] if f != loss]
        currency = (self.organization or {}).get("DefaultCurrencyIsoCode")
        for page in self.read("Opportunity", fields):
            rows = [m.deal_row(r, cfg, deal_custom, self.types["Opportunity"], currency, self.stage_ids)
                    for r in page]
            if loss is None:
                for row in rows:
                    row.pop("lost_reason", None)
            sink.write("deals", rows)
            progress.advance(records=len(page))
        sink.complete("deals")

    def _activities(self, sink, custom) -> None:
        progress = self._begin(sink, "activities")
        fields = self._present("Task", m.TASK_FIELDS) + custom["Task"]
        for page in self.read("Task", fields):
            sink.write("activities", [m.activity_row_from_task(r, custom["Task"], self.types["Task"]) for r in page])
            progress.advance(records=len(page))
        fields = self._present("Event", m.EVENT_FIELDS) + custom["Event"]
        for page in self.read("Event", fields):
            sink.write("activities", [m.activity_row_from_event(r, self.as_of, custom["Event"], self.types["Event"])
                                      for r in page])
            progress.advance(records=len(page))
        sink.complete("activities")

    def _campaigns(self, sink) -> None:
        progress = self._begin(sink, "campaigns")
        try:
            for page in self.read("Campaign", m.CAMPAIGN_FIELDS):
                sink.write("campaigns", [m.campaign_row(r) for r in page])
                progress.advance(records=len(page))
        except _Unavailable as exc:
            sink.note(f"Salesforce: campaigns not available: {exc} (Campaigns need the Marketing User "
                      "setting or a Sales Cloud edition)")
            return
        sink.complete("campaigns")


class _Rewrite(_Transport):
    """Sends login calls for ``https://<domain>.salesforce.com`` to ``login_url``."""

    def __init__(self, owner: SalesforceConnector, login_url: str):
        super().__init__(owner)
        self.prefix = f"https://{owner.domain}.salesforce.com"
        self.target = login_url.rstrip("/")

    def send(self, request, **kwargs):
        if request.url.startswith(self.prefix):
            request.url = self.target + request.url[len(self.prefix):]
        return super().send(request, **kwargs)


def _short(exc: Exception) -> str:
    text = str(exc)
    found = re.search(r"\[SSL[^\]]*\][^')\"]*", text)
    return found[0] if found else text[:120]


def m_version(value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).lstrip("vV")
    try:
        return f"{float(text):.1f}"
    except ValueError:
        raise ConfigError(f"option 'api_version' must look like '62.0', got {value!r}", where="salesforce") from None


def _as_of(context: Any) -> datetime:
    value = getattr(context, "as_of", None) if context is not None else None
    return m.parse_datetime(value) or datetime.now(UTC)


def _set_total(progress, total: int) -> None:
    setter = getattr(progress, "set_total", None)
    if setter is not None:
        try:
            setter(total)
        except Exception:  # a progress bar must never break the audit
            pass


def _parse_csv(text: str) -> list[dict]:
    if not text.strip():
        return []
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "Id" not in reader.fieldnames and len(reader.fieldnames) > 0 and \
            not all(re.match(r"^[\w.]+$", f or "") for f in reader.fieldnames):
        raise ValueError("Bulk results are not CSV with a header row")
    return [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]


def create_connector(options: dict, context: Any = None) -> SalesforceConnector:
    return SalesforceConnector(options, context)


def record_url(options: dict, obj: str, record_id: str) -> str | None:
    base = (options or {}).get("instance_url")
    if not base or not record_id:
        return None
    parsed = urlparse(base if "//" in base else "https://" + base)
    return f"https://{parsed.netloc}/{record_id}"
