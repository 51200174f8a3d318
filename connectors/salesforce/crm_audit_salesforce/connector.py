"""Reads a Salesforce org into the canonical schema with simple-salesforce.

simple-salesforce makes the calls; this module adds what it lacks (shared/CRM-APIS.md,
section 0): retries with backoff and jitter (it has none), a client-side rate limiter,
a budget guard fed by ``Sforce-Limit-Info``, timeouts and call counting. All of that
sits in one ``requests`` transport adapter mounted on the session simple-salesforce
uses, so every HTTP call (REST, Bulk 2.0, logins) passes through it.

Reading strategy per object: one ``limits/recordCount`` call at the start gives the
approximate size of every record object at once. An object counted above
``bulk_threshold`` is read with a Bulk 2.0 query job (CSV pages of ``bulk_page_size``);
any other with REST queries of the largest batch size (2,000). Counts are a cached
snapshot and may be stale, so they only choose the method: when the first REST batch
reports more than ``bulk_threshold`` records after all, that batch is kept and a Bulk
job reads the rest (``Id`` above the batch's last). Either way every record is read
exactly once. A field list that would make the query URL (16 KB) or the SOQL (100,000
characters) too long is split into several queries that are joined on ``Id``. The
connector never writes: Bulk query-job creation is its only POST.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from itertools import islice
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
    "access_token": "the older name of session_id",
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
            "Campaign": "campaigns", "OpportunityStage": "stages",
            "recordCount": "record counts (/limits/recordCount)"}

# The objects read in full, whose approximate size (limits/recordCount) picks REST or Bulk.
COUNTED_OBJECTS = ("User", "LoginHistory", "Account", "Contact", "Lead", "Opportunity", "Task", "Event", "Campaign")
RECORD_COUNT_SINCE = 40.0  # limits/recordCount exists from API version 40.0


class _Unavailable(Exception):
    """An optional object the audit user may not read (permission, edition)."""


class _WindowGone(Exception):
    """getDeleted cannot cover the incremental window (log purged, or too old)."""


# getDeleted returns deletions of the last 15 days at most; keep a day's margin.
DELETED_WINDOW = timedelta(days=14)


@dataclass
class _Source:
    """One object read into a canonical table (a table may have several: contacts from
    Contact and Lead). ``key`` names it in checkpoints; ``full_where``: the filter of a
    full read (incremental reads narrow ``where`` to changed records)."""

    key: str
    sobject: str
    fields: list[str]
    where: str | None
    row: Callable[[dict], dict]
    full_where: str | None = None


def _and(*conditions: str | None) -> str | None:
    parts = [c for c in conditions if c]
    return " AND ".join(parts) if parts else None


def _chain_first(first: list[dict], pages: Iterator[tuple[int, list[dict]]]) -> Iterator[list[dict]]:
    yield first
    for _, records in pages:
        yield records


def _soql_datetime(value: Any) -> str:
    when = m.parse_datetime(value)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        finally:
            if owner.limiter is not None:
                owner.limiter.record()  # answered or failed: its slot is held a window from now
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
        self._window_noted = False
        self.record_counts: dict[str, int] = {}  # limits/recordCount: approximate, may be stale
        self.organization: dict | None = None

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
            if self._daily_allowance_spent(message):
                return self._quota_spent(what, message)
            # the concurrent-request limit (ConcurrentRequests, ConcurrentPerOrgLongTxn): transient
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

    def _daily_allowance_spent(self, message: str) -> bool:
        """A REQUEST_LIMIT_EXCEEDED is the spent daily allowance, not a throttle: Salesforce
        says "TotalRequests Limit exceeded.", or its Sforce-Limit-Info shows nothing left."""
        if "totalrequests" in message.replace(" ", "").lower():
            return True
        budget = self.budget
        return budget.limit is not None and budget.remaining is not None and budget.remaining <= 0

    def _quota_spent(self, what: str, message: str) -> ConnectorError:
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
            where=self._where(),
            hint="the allowance is a rolling 24-hour window, so calls free up as those made 24 hours earlier age "
                 "out: run the audit later, find the integration that spends it in Setup > System Overview, "
                 "or ask Salesforce for a higher limit")

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

    def _soql(self, fields: list[str], sobject: str, where: str | None, order: str | None = None) -> str:
        text = f"SELECT {', '.join(fields)} FROM {sobject}"
        if where:
            text += f" WHERE {where}"
        if order:
            text += f" ORDER BY {order}"
        return text

    def _chunks(self, fields: list[str], sobject: str, where: str | None, bulk: bool,
                order: str | None = None) -> list[list[str]]:
        """Split a field list so each query fits the URL (REST) or SOQL (Bulk) limit."""

        def fits(candidate: list[str]) -> bool:
            soql = self._soql(candidate, sobject, where, order)
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

    def _bulk_pages(self, soql: str, sobject: str, job_id: str | None = None,
                    locator: str = "") -> Iterator[tuple[list[dict], str, str]]:
        """(records, job id, next locator) per Bulk 2.0 result page; the locator is '' after the last.

        ``records`` is a :class:`_CsvRecords`: the page's CSV, checked and counted, whose
        rows are decoded one by one as they are iterated, so a page of 50,000 records is
        never held as 50,000 dicts (see :meth:`_read_table`).

        ``job_id``/``locator``: continue the job of an interrupted run where it stopped
        (Bulk 2.0 keeps a query job's results for days) instead of creating a new job.
        """
        client = getattr(self.sf.bulk2, sobject)._client
        if job_id is None:
            job = self._call(lambda: client.create_job("query", soql), f"creating a Bulk query job for {sobject}",
                             sobject)
            job_id = job["id"]
        resumed = bool(locator)
        while True:
            try:
                info = self._call(lambda: client.get_job(job_id, True), f"waiting for the Bulk job on {sobject}",
                                  sobject)
            except ConnectorError as exc:
                if not resumed:
                    raise
                raise ConnectorError(f"cannot continue the Bulk query job {job_id} on {sobject} of the interrupted "
                                     f"audit: {exc.message}", where=self._where(),
                                     hint="its results are gone (Bulk 2.0 keeps them for a few days); "
                                          "run the audit again without --resume") from None
            state = info.get("state")
            if state == "JobComplete":
                break
            if state in ("Failed", "Aborted"):
                raise ConnectorError(f"Bulk query job {job_id} on {sobject} {state.lower()}: "
                                     f"{info.get('errorMessage') or 'no reason given'}", where=self._where())
            time.sleep(self.bulk_poll_seconds)
        while True:
            def page(loc=locator):
                result = client.get_query_results(job_id, loc, self.bulk_page_size)
                records = _CsvRecords(result["records"])  # counted now, decoded as they are written
                if len(records) != result["number_of_records"]:
                    raise RetryableError(f"Bulk results for {sobject}: {len(records)} rows but "
                                         f"Sforce-NumberOfRecords says {result['number_of_records']}",
                                         where=self._where())
                return result["locator"], records

            locator, records = self._call(page, f"reading Bulk results for {sobject}", sobject)
            yield records, job_id, locator or ""
            if not locator:
                return

    def pages(self, sobject: str, fields: list[str], where: str | None = None,
              state: dict | None = None, estimate: int | None = None) -> Iterator[tuple[list[dict], dict]]:
        """Pages of ``sobject`` records (dicts without ``attributes``), each with the state
        that resumes the read right after it (see docs/connectors/salesforce.md, "Resuming").

        ``estimate``: how many records the read will find, if known (``limits/recordCount``
        for a full read). Above ``bulk_threshold`` the read starts as a Bulk job. Otherwise
        it starts with REST, and if the first batch reports more than ``bulk_threshold``
        records after all (a stale count, or none), that batch is kept and a Bulk job reads
        the records after its last Id. States:

        * ``{"after": Id}``: REST pages come in ``ORDER BY Id``; everything up to that Id
          was handed out, so a resumed read asks ``WHERE ... AND Id > 'after'``. Query
          locators (``nextRecordsUrl``) expire, this keyset position does not;
        * ``{"job": id, "locator": loc}``: a Bulk 2.0 job (unordered), continued at its
          result locator;
        * ``{"done": True}``: nothing left.
        """
        state = state or {}
        if state.get("done"):
            return
        if state.get("job"):
            for records, _, nxt in self._bulk_pages("", sobject, state["job"], state.get("locator") or ""):
                yield records, ({"job": state["job"], "locator": nxt} if nxt else {"done": True})
            return
        cond = _and(where, f"Id > '{state['after']}'" if state.get("after") else None)
        keyed = "Id" in fields  # (a few helper reads select no Id: they are never checkpointed)
        if self.bulk_enabled and estimate is not None and estimate > self.bulk_threshold:
            if self.progress is not None:
                _set_total(self.progress, estimate)
            yield from self._read_bulk(sobject, fields, cond)
            return
        # room for the Id range of the joins of a wide object
        chunks = self._chunks(fields, sobject, _and(cond, f"Id >= '{'X' * 18}' AND Id <= '{'X' * 18}'"),
                              bulk=False, order="Id" if keyed else None)
        pages = self._rest_pages(self._soql(chunks[0], sobject, cond, "Id" if keyed else None), sobject)
        total, first = next(pages)
        if self.progress is not None:
            _set_total(self.progress, total)
        if self.bulk_enabled and total > self.bulk_threshold:
            pages.close()
            if not (keyed and first):
                yield from self._read_bulk(sobject, fields, cond)
                return
            # keep the first batch (Id order) and read the rest in Bulk: no record twice
            if len(chunks) > 1:
                first = self._join_chunks(sobject, chunks[1:], cond, first)
            last = first[-1]["Id"]
            yield first, {"after": last}
            yield from self._read_bulk(sobject, fields, _and(cond, f"Id > '{last}'"))
            return
        for records in _chain_first(first, pages):
            if not records:
                continue
            if len(chunks) > 1:
                records = self._join_chunks(sobject, chunks[1:], cond, records)
            yield records, ({"after": records[-1]["Id"]} if keyed else {})

    def _join_chunks(self, sobject: str, chunks: list[list[str]], cond: str | None, records: list[dict]) -> list[dict]:
        """A wide object: the other field chunks of the same Id range, joined on Id."""
        merged = {r["Id"]: dict(r) for r in records}
        span = f"Id >= '{records[0]['Id']}' AND Id <= '{records[-1]['Id']}'"
        for chunk in chunks:
            for _, part in self._rest_pages(self._soql(chunk, sobject, _and(cond, span), "Id"), sobject):
                for r in part:
                    if r["Id"] in merged:
                        merged[r["Id"]].update(r)
        return list(merged.values())

    def _read_bulk(self, sobject: str, fields: list[str], where: str | None) -> Iterator[tuple[list[dict], dict]]:
        chunks = self._chunks(fields, sobject, where, bulk=True)
        if len(chunks) == 1:
            for records, job_id, nxt in self._bulk_pages(self._soql(fields, sobject, where), sobject):
                yield records, ({"job": job_id, "locator": nxt} if nxt else {"done": True})
            return
        merged: dict[str, dict] = {}
        for chunk in chunks:
            for records, _, _ in self._bulk_pages(self._soql(chunk, sobject, where), sobject):
                for r in records:
                    merged.setdefault(r["Id"], {}).update(r)
        rows = [merged[k] for k in sorted(merged)]  # Id order: a keyset position resumes it
        for i in range(0, len(rows), self.bulk_page_size):
            page = rows[i : i + self.bulk_page_size]
            yield page, {"after": page[-1]["Id"]}

    def read(self, sobject: str, fields: list[str], where: str | None = None) -> Iterator[list[dict]]:
        """Pages of records (dicts without ``attributes``) of ``sobject``."""
        for records, _ in self.pages(sobject, fields, where):
            yield records

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
        self._record_counts(sink, offered)
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

    # -- resumable and incremental reads (docs/connectors/salesforce.md, "Resuming", "Incremental audits")

    @staticmethod
    def _done(sink, table: str) -> bool:
        """Resuming: an earlier run of this audit completed ``table``."""
        check = getattr(sink, "is_complete", None)
        return bool(check is not None and check(table))

    def _read_table(self, sink, table: str, sources: Callable[[Any], list["_Source"]], *,
                    incremental: bool = False) -> None:
        """Read ``table`` from its sources (one or more objects), checkpointing each page.

        The checkpoint state names the source and its position (:meth:`pages`), plus the
        incremental window when the table is read incrementally, so ``--resume`` continues
        exactly there in the same mode. Incrementally, only records changed since the
        previous audit are read; deletions come from getDeleted; the rest is carried forward.
        """
        if self._done(sink, table):
            return
        progress = self._begin(sink, table)
        getter = getattr(sink, "resume_state", None)
        state = (getter(table) if getter is not None else None) or {}
        previous = self._previous_for(sink, table, state) if incremental else None
        base: dict = {}
        if previous is not None:
            base = {"since": _soql_datetime(previous.since),
                    "previous": {"audit_id": previous.audit_id, "path": str(previous.path)}}
        plan = sources(previous)
        keys = [s.key for s in plan]
        begin = keys.index(state["source"]) if state.get("source") in keys else 0
        checkpoint = getattr(sink, "checkpoint", None)
        for i, source in enumerate(plan[begin:], start=begin):
            position = state.get("position") if i == begin else None
            # the object's approximate size picks REST or Bulk for a full read; a narrower
            # read (incremental, resumed) starts with REST and moves to Bulk if it is big
            estimate = self.record_counts.get(source.sobject) if previous is None and not position else None
            for records, position in self.pages(source.sobject, source.fields, source.where, position, estimate):
                # a Bulk page (up to 50,000 records) is mapped and written a slice at a time;
                # the sink keeps what it was given since the last checkpoint uncommitted, so
                # the page and its position still commit together:
                written = 0
                for part in _slices(records, WRITE_SLICE):
                    written += sink.write(table, [source.row(r) for r in part]) or len(part)
                if checkpoint is not None:
                    checkpoint(table, {**base, "source": source.key, "position": position})
                progress.advance(records=written)
                # the generators still point at this page while they fetch the next one:
                # let its text go now, or two pages' text are held at once
                release = getattr(records, "release", None)
                if release is not None:
                    release()
        if previous is not None:
            deleted = self._deleted_since(sink, table, plan, previous)
            sink.carry_forward(table, previous, deleted)
        sink.complete(table)

    def _previous_for(self, sink, table: str, state: dict):
        """The previous snapshot to read ``table`` against, or None for a full read."""
        from crm_audit_core.connector import PreviousSnapshot

        if state:  # resuming: keep the mode the interrupted run chose for this table
            if not state.get("since"):
                return None
            prev = state.get("previous") or {}
            return PreviousSnapshot(audit_id=prev.get("audit_id", "?"), path=prev.get("path"),
                                    since=m.parse_datetime(state["since"]))
        previous = getattr(self.context, "previous", None)
        if previous is None:
            return None
        since = m.parse_datetime(previous.since)
        if since is None or since < datetime.now(UTC) - DELETED_WINDOW:
            if not self._window_noted:
                self._window_noted = True
                sink.note(f"Salesforce: the previous audit {previous.audit_id} is older than Salesforce's "
                          f"{DELETED_WINDOW.days}-day deleted-records window: records read in full")
            return None
        return previous

    def _deleted_since(self, sink, table: str, plan: list["_Source"], previous) -> list[str]:
        """Ids of the table's records deleted (or turned into something else) since ``previous``."""
        since = m.parse_datetime(previous.since)
        start = since.replace(second=0, microsecond=0)  # getDeleted ignores seconds
        end = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
        deleted: set[str] = set()
        for sobject in dict.fromkeys(s.sobject for s in plan):
            try:
                result = self._call(lambda: getattr(self.sf, sobject).deleted(start, end),
                                    f"reading deleted {sobject} records", sobject)
                earliest = m.parse_datetime((result or {}).get("earliestDateAvailable"))
                if earliest is not None and earliest > start:
                    raise _WindowGone(f"its deleted-records log starts at {m.format_datetime(earliest)}")
                deleted.update(r["id"] for r in (result or {}).get("deletedRecords") or [])
            except (_WindowGone, ConnectorError) as exc:
                if isinstance(exc, ConnectorError) and not any(
                        code in exc.message for code in ("INVALID_REPLICATION_DATE", "EXCEEDED_ID_LIMIT")):
                    raise
                why = exc.message if isinstance(exc, ConnectorError) else str(exc)
                sink.note(f"Salesforce: {sobject}: getDeleted cannot cover {m.format_datetime(start)} ({why}); "
                          "deletions found by comparing all ids with the previous audit instead")
                deleted.update(self._deleted_by_ids(table, sobject, plan, previous))
        if any(s.sobject == "Lead" for s in plan):
            # a lead converted since the previous audit lives on as its Contact
            since_text = _soql_datetime(since)
            for page in self.read("Lead", ["Id"], f"IsConverted = true AND SystemModstamp > {since_text}"):
                deleted.update(r["Id"] for r in page)
        return sorted(deleted)

    def _deleted_by_ids(self, table: str, sobject: str, plan: list["_Source"], previous) -> set[str]:
        """Deletions without getDeleted: previous ids of ``sobject`` that no longer exist."""
        import duckdb

        source = next(s for s in plan if s.sobject == sobject)
        full_where = source.full_where
        now = {r["Id"] for page in self.read(sobject, ["Id"], full_where) for r in page}
        prefix = m.KEY_PREFIXES.get(sobject, "")
        con = duckdb.connect(str(previous.path), read_only=True)
        try:
            rows = con.execute(f"SELECT id FROM canonical.{table} WHERE tenant = ? AND id LIKE ?",
                               [self._tenant(), prefix + "%"]).fetchall()
        finally:
            con.close()
        return {r[0] for r in rows} - now

    def _tenant(self) -> str:
        return getattr(self.context, "tenant", None) or "t"

    def _record_counts(self, sink, offered: list[str]) -> None:
        """One call for the approximate size of every object read (``limits/recordCount``).

        It also feeds the budget guard: its ``Sforce-Limit-Info`` header carries the daily
        usage, as every REST response does, so no separate ``/limits`` call is made. The
        resource exists from API 40.0: with an older ``api_version`` it is read under the
        newest version the org offers (a read of counts, not of records).
        """
        version = self.api_version
        if float(version) < RECORD_COUNT_SINCE:
            newer = [v for v in offered if float(v) >= RECORD_COUNT_SINCE]
            if not newer:
                sink.note("Salesforce: the org offers no API version with limits/recordCount (40.0+): "
                          "each object's first REST batch tells its size")
                return
            version = max(newer, key=float)
        url = f"https://{self.sf.sf_instance}/services/data/v{version}/limits/recordCount"
        params = {"sObjects": ",".join(COUNTED_OBJECTS)}
        try:
            body = self._call(lambda: self.sf._call_salesforce("GET", url, name="recordCount", params=params).json(),
                              "reading record counts", "recordCount")
        except _Unavailable as exc:
            sink.note(f"Salesforce: {OPTIONAL['recordCount']} not available: {exc}; each object's first REST "
                      "batch tells its size")
            return
        for item in (body or {}).get("sObjects") or []:
            if isinstance(item, dict) and item.get("name") and isinstance(item.get("count"), int):
                self.record_counts[item["name"]] = item["count"]

    def _platform(self, sink, versions: list[dict]) -> None:
        # read even when resuming: deals need the org's default currency
        self._begin(sink, "platform")
        org = self.read_all("Organization", m.ORGANIZATION_FIELDS)
        self.organization = org[0] if org else None
        if self._done(sink, "platform"):
            return
        sink.write("platform", [m.platform_row(self.organization, versions, self.api_version)])
        sink.complete("platform")

    def _optional(self, sink, sobject: str, fields: list[str], where: str | None = None) -> list[dict] | None:
        try:
            return self.read_all(sobject, fields, where)
        except _Unavailable as exc:
            sink.note(f"Salesforce: {OPTIONAL[sobject]} not available: {exc}")
            return None

    def _users(self, sink) -> None:
        if self._done(sink, "users"):
            return
        self._begin(sink, "users")
        admin_sets = self._optional(sink, "PermissionSet", m.PERMISSION_SET_FIELDS)
        admin_ids: set[str] = set()
        if admin_sets is not None:
            privileged = {p["Id"] for p in admin_sets
                          if m.as_bool(p.get("PermissionsModifyAllData")) or m.as_bool(p.get("PermissionsViewAllData"))}
            assignments = self._optional(sink, "PermissionSetAssignment", m.ASSIGNMENT_FIELDS) or []
            admin_ids = {a["AssigneeId"] for a in assignments if a.get("PermissionSetId") in privileged}
        mfa_rows = self._optional(sink, "TwoFactorMethodsInfo", m.MFA_FIELDS)
        mfa = None if mfa_rows is None else {r["UserId"]: m.has_mfa(r) for r in mfa_rows}
        self._read_table(sink, "users", lambda prev: [
            _Source("User", "User", m.USER_FIELDS, None, lambda r: m.user_row(r, admin_ids, mfa))])

    def _logins(self, sink) -> None:
        since = (self.as_of - timedelta(days=self.login_history_days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        try:
            self._read_table(sink, "login_events", lambda prev: [
                _Source("LoginHistory", "LoginHistory", m.LOGIN_FIELDS, f"LoginTime >= {since}", m.login_row)])
        except _Unavailable as exc:
            sink.note(f"Salesforce: login history not available: {exc} (grant 'Manage Users' or "
                      "'Monitor Login History' to the audit user)")

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
        if not self._done(sink, "fields"):
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

    def _changed(self, previous, where: str | None = None) -> str | None:
        """``where`` narrowed to records created or modified since the previous audit."""
        if previous is None:
            return where
        # SystemModstamp also moves on system changes (e.g. a parent's roll-up), so it
        # catches at least what LastModifiedDate does.
        return _and(where, f"SystemModstamp > {_soql_datetime(previous.since)}")

    def _companies(self, sink, custom) -> None:
        fields = self._present("Account", m.ACCOUNT_FIELDS + [self.cfg["source_detail_field"]]) + custom["Account"]
        self._read_table(sink, "companies", lambda prev: [
            _Source("Account", "Account", fields, self._changed(prev),
                    lambda r: m.company_row(r, self.cfg, custom["Account"], self.types["Account"]))], incremental=True)

    def _contacts(self, sink, custom) -> None:
        extra = [self.cfg[k] for k in ("lifecycle_field", "lead_status_field", "segments_field", "source_detail_field",
                                       "lead_account_field")]
        contact_fields = self._present("Contact", m.CONTACT_FIELDS + extra) + custom["Contact"]
        lead_fields = self._present("Lead", m.LEAD_FIELDS + extra) + custom["Lead"]
        def contact(r):
            return m.contact_row_from_contact(r, self.cfg, custom["Contact"], self.types["Contact"])

        def plan(prev):
            # Converted leads live on as their Contact; only open leads are contacts at stage "lead".
            sources = [_Source("Contact", "Contact", contact_fields, self._changed(prev), contact),
                       _Source("Lead", "Lead", lead_fields, self._changed(prev, "IsConverted = false"),
                               lambda r: m.contact_row_from_lead(r, self.cfg, custom["Lead"], self.types["Lead"]),
                               full_where="IsConverted = false")]
            if prev is not None and "Account.Name" in contact_fields:
                # contacts.company_name comes from the Account: contacts of accounts changed
                # since the previous audit are read again (those not changed themselves)
                since = _soql_datetime(prev.since)
                sources.append(_Source("Contact:account", "Contact", contact_fields,
                                       f"Account.SystemModstamp > {since} AND SystemModstamp <= {since}", contact))
            return sources

        self._read_table(sink, "contacts", plan, incremental=True)

    def _stages(self, sink) -> None:
        # read even when resuming: deals map stage names to stage ids
        self._begin(sink, "stages")
        rows = self._optional(sink, "OpportunityStage", m.STAGE_FIELDS)
        if rows is None:
            return
        for r in rows:
            for key in ("MasterLabel", "ApiName"):
                if r.get(key):
                    self.stage_ids.setdefault(r[key], r["Id"])
        if self._done(sink, "stages"):
            return
        sink.write("stages", [m.stage_row(r) for r in rows])
        self.progress.advance(records=len(rows))
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
        if self._done(sink, "deals"):
            return
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

        def row(r: dict) -> dict:
            out = m.deal_row(r, cfg, deal_custom, self.types["Opportunity"], currency, self.stage_ids)
            if loss is None:
                out.pop("lost_reason", None)
            return out

        self._read_table(sink, "deals", lambda prev: [
            _Source("Opportunity", "Opportunity", fields, self._changed(prev), row)], incremental=True)

    def _activities(self, sink, custom) -> None:
        task_fields = self._present("Task", m.TASK_FIELDS) + custom["Task"]
        event_fields = self._present("Event", m.EVENT_FIELDS) + custom["Event"]

        def task(r):
            return m.activity_row_from_task(r, custom["Task"], self.types["Task"])

        def event(r):
            return m.activity_row_from_event(r, self.as_of, custom["Event"], self.types["Event"])

        def plan(prev):
            sources = [_Source("Task", "Task", task_fields, self._changed(prev), task),
                       _Source("Event", "Event", event_fields, self._changed(prev), event)]
            if prev is not None:
                # An event is done once it has ended: events that ended since the previous
                # audit changed in the canonical table though not in Salesforce.
                since = _soql_datetime(prev.since)
                sources.append(_Source("Event:ended", "Event", event_fields,
                                       f"EndDateTime > {since} AND EndDateTime <= {_soql_datetime(self.as_of)} "
                                       f"AND SystemModstamp <= {since}", event))
            return sources

        self._read_table(sink, "activities", plan, incremental=True)

    def _campaigns(self, sink) -> None:
        try:
            self._read_table(sink, "campaigns", lambda prev: [
                _Source("Campaign", "Campaign", m.CAMPAIGN_FIELDS, None, m.campaign_row)])
        except _Unavailable as exc:
            sink.note(f"Salesforce: campaigns not available: {exc} (Campaigns need the Marketing User "
                      "setting or a Sales Cloud edition)")


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


# Rows mapped and handed to the sink at a time, within one page.
WRITE_SLICE = 2000


def _slices(records, size: int) -> Iterator[list]:
    if isinstance(records, list) and len(records) <= size:
        yield records
        return
    it = iter(records)
    while True:
        part = list(islice(it, size))
        if not part:
            return
        yield part


class _CsvRecords:
    """A Bulk result page: its CSV text, checked and counted when made; iterating
    decodes the rows one at a time (dicts, blanks as None)."""

    def __init__(self, text: str):
        self.text = "" if not text or text.isspace() else text
        self.count = 0
        if self.text:
            reader = csv.reader(_lines(self.text))
            header = next(reader, None)
            if not header or "Id" not in header and not all(re.match(r"^[\w.]+$", f or "") for f in header):
                raise ValueError("Bulk results are not CSV with a header row")
            self.count = sum(1 for _ in reader)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def release(self) -> None:
        """Drop the text once the page is written (the rows cannot be read again)."""
        self.text = ""

    def __iter__(self) -> Iterator[dict]:
        if not self.text:
            return
        for row in csv.DictReader(_lines(self.text)):
            yield {k: (v if v != "" else None) for k, v in row.items()}


def _lines(text: str) -> Iterator[str]:
    """The text's lines, ends kept, one at a time: io.StringIO would copy the whole page
    into a 4-bytes-a-character buffer. Only "\n" ends a line here; csv joins the lines of
    a quoted field that holds one."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end + 1]
        start = end + 1


def create_connector(options: dict, context: Any = None) -> SalesforceConnector:
    return SalesforceConnector(options, context)


def record_url(options: dict, obj: str, record_id: str) -> str | None:
    base = (options or {}).get("instance_url")
    if not base or not record_id:
        return None
    parsed = urlparse(base if "//" in base else "https://" + base)
    return f"https://{parsed.netloc}/{record_id}"
