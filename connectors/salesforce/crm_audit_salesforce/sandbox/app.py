"""The sandbox's WSGI app: Salesforce's REST routes (versions, query and queryMore,
describe, limits, recordCount, getDeleted), with the login and Bulk routes handed to
:mod:`.login` and :mod:`.bulk`; the request log, fault injection, the per-window rate
limit and the daily API allowance (``Sforce-Limit-Info``); and the mutation API tests use
to change the org between audits."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from crm_audit_core.connector import FAULT_KINDS

from .. import mapping as m
from .bulk import BulkJobs
from .login import Logins
from .org import Org, label
from .responses import error as _error
from .responses import json_response
from .soql import Soql, SoqlError, parse_soql, rest_record, run_soql

UTC = timezone.utc
MAX_URL_LENGTH = 16_384
DEFAULT_BATCH = 2000
MIN_BATCH, MAX_BATCH = 200, 2000


class _Dropped(Exception):
    """The "drop" fault: the connection was shut without an answer."""


class SalesforceSandbox:
    """The WSGI app: state, request log, faults, limits."""

    def __init__(self, org: Org, token: str, *, rate_limit=None, daily_limit: int = 100_000, api_used: int = 0,
                 slow_seconds: float = 2.0, bulk_in_progress_polls: int = 0, login_history: bool = True,
                 mfa_info: bool = True, username: str = "auditor@sandbox.invalid", password: str = "sandbox-password",
                 security_token: str = "sandbox-security-token", consumer_key: str = "sandbox-consumer-key",
                 record_counts: dict[str, int] | None = None, record_count_access: bool = True,
                 limit_info_on_refusal: bool = True, public_key: str | None = None):
        self.org = org
        self.requests: list[dict] = []
        self.faults: list[dict] = []
        self.lock = threading.Lock()
        self.logins = Logins(token, self.lock, username=username, password=password, security_token=security_token,
                             consumer_key=consumer_key, public_key=public_key)
        self.bulk = BulkJobs(org, self.lock, bulk_in_progress_polls)
        if isinstance(rate_limit, (int, float)):
            rate_limit = (int(rate_limit), 1.0)
        self.rate_limit = rate_limit
        self.window: deque[float] = deque()
        self.daily_limit = daily_limit
        self.api_used = api_used
        self.slow_seconds = slow_seconds
        self.unavailable = set()
        if not login_history:
            self.unavailable.add("LoginHistory")
        if not mfa_info:
            self.unavailable.add("TwoFactorMethodsInfo")
        self.cursors: dict[str, tuple[list[dict], Soql, str]] = {}
        # limits/recordCount serves a cached snapshot, like Salesforce's (refreshed "at
        # variable time intervals"): taken now, overridable, moved only by refresh_record_counts()
        self.record_counts: dict[str, int] = {n: len(rows) for n, rows in org.records.items()}
        self.record_counts.update(record_counts or {})
        if not record_count_access:
            self.unavailable.add("recordCount")
        self._spend_after: int | None = None
        self.limit_info_on_refusal = limit_info_on_refusal  # Sforce-Limit-Info on the quota's 403

    # -- faults
    def inject(self, kind: str, times: int = 1, path_contains: str | None = None, *, after: int = 0,
               sobject: str | None = None) -> None:
        """The next ``times`` matching requests fail with ``kind``. Salesforce extras:
        ``after``: let that many matching requests through first; ``sobject``: match only
        query / queryMore / Bulk requests on that object (e.g. ``"Contact"``)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.faults.append({"kind": kind, "times": times, "path_contains": path_contains, "after": after,
                                "sobject": sobject})

    def _object_of(self, request: Request) -> str | None:
        """The object a query, queryMore or Bulk request reads (for ``inject(sobject=)``)."""
        soql = request.args.get("q")
        if soql:
            found = re.search(r"\bFROM\s+(\w+)", soql, re.IGNORECASE)
            return found[1] if found else None
        tail = request.path.rstrip("/").rsplit("/", 1)[-1]
        if "-" in tail and tail.rpartition("-")[0] in self.cursors:
            return self.cursors[tail.rpartition("-")[0]][1].object
        return self.bulk.object_of(request.path)

    def _take_fault(self, path: str, sobject: str | None = None) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault["times"] > 0 and (not fault["path_contains"] or fault["path_contains"] in path) and (
                        not fault.get("sobject") or fault["sobject"] == sobject):
                    if fault.get("after", 0) > 0:
                        fault["after"] -= 1
                        continue
                    fault["times"] -= 1
                    kind = fault["kind"]
                    self.faults = [f for f in self.faults if f["times"] > 0]
                    return kind
        return None

    # -- WSGI
    def __call__(self, environ, start_response):
        request = Request(environ)
        entry = {"method": request.method, "path": request.path,
                 "query": {k: v for k, v in request.args.items()}, "status": None}
        try:
            response = self.handle(request, environ, entry)
        except _Dropped:
            entry["status"] = 0
            self._log(entry)
            raise ConnectionResetError("sandbox dropped the connection")
        entry["status"] = response.status_code
        self._log(entry)
        return response(environ, start_response)

    def _log(self, entry: dict) -> None:
        with self.lock:
            self.requests.append(entry)

    def handle(self, request: Request, environ, entry) -> Response:
        path = request.path
        uri_length = len(environ.get("REQUEST_URI") or environ.get("RAW_URI") or "") or (
            len(path) + len(environ.get("QUERY_STRING", "")) + 1)
        fault = self._take_fault(path, self._object_of(request) if any(f.get("sobject") for f in self.faults) else None)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        elif fault == "drop":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            raise _Dropped()
        elif fault == "429":
            # the transient throttle (retry it); the spent daily allowance is _count_call's
            return _error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded.")
        elif fault == "500":
            return _error(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if "
                          "you contact support: 1234567890-12345 (-1234567890)")
        elif fault == "503":
            return _error(503, "SERVER_UNAVAILABLE", "Server unavailable: too many requests")
        elif fault == "expire-token":
            self.logins.expire_all()

        if uri_length > MAX_URL_LENGTH:
            return _error(414, "URI_TOO_LONG", f"The request URI is longer than {MAX_URL_LENGTH} characters")
        if path.rstrip("/") == "/services/data":
            response = self._versions()
        elif path == "/services/oauth2/token" and request.method == "POST":
            response = self.logins.oauth_token(request)
        elif path.startswith("/services/Soap/u/") and request.method == "POST":
            response = self.logins.soap_login(request, path)
        else:
            match = re.match(r"^/services/data/v(\d+\.\d)/(.*)$", path)
            if not match:
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            version, rest = match[1], match[2]
            if not self.logins.valid(request):
                return _error(401, "INVALID_SESSION_ID", "Session expired or invalid",
                              headers={"WWW-Authenticate": "Token"})
            if version not in self.org.versions:
                return _error(404, "NOT_FOUND", "The requested resource does not exist")
            limited = self._count_call()
            if limited is not None:
                return limited
            response = self._api(request, version, rest, entry)
            response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.daily_limit}"
        if fault == "malformed":
            response = Response('{"totalSize": 3, "done": tru', status=200,
                                content_type=response.content_type, headers=dict(response.headers))
            response.headers.pop("Content-Length", None)
        elif fault == "truncated":
            body = response.get_data()
            cut = body[: max(1, len(body) // 2)]
            headers = dict(response.headers)
            response = Response(cut, status=response.status_code, headers=headers)
            response.headers["Content-Length"] = str(len(body))
        return response

    def _count_call(self) -> Response | None:
        with self.lock:
            now = time.monotonic()
            if self.rate_limit:
                calls, per = self.rate_limit
                while self.window and now - self.window[0] >= per:
                    self.window.popleft()
                if len(self.window) >= calls:
                    return _error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")
                self.window.append(now)
            if self._spend_after is not None:
                if self._spend_after <= 0:
                    self.api_used, self._spend_after = max(self.api_used, self.daily_limit), None
                else:
                    self._spend_after -= 1
            if self.api_used >= self.daily_limit:
                headers = {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.daily_limit}"}
                return _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.",
                              headers=headers if self.limit_info_on_refusal else None)
            self.api_used += 1
        return None

    def _versions(self) -> Response:
        body = [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in self.org.versions]
        return json_response(body)

    def _json(self, body: Any, status: int = 200) -> Response:
        return json_response(body, status)

    def _api(self, request: Request, version: str, rest: str, entry: dict) -> Response:
        method = request.method
        parts = rest.rstrip("/").split("/")
        try:
            if method == "GET" and parts[0] in ("query", "queryAll") and len(parts) == 1:
                soql = request.args.get("q", "")
                entry["soql"] = soql
                q = parse_soql(soql, self.org)
                return self._query(q, version, request, entry)
            if method == "GET" and parts[0] in ("query", "queryAll") and len(parts) == 2:
                return self._query_more(parts[1], version, entry)
            if method == "GET" and len(parts) == 3 and parts[0] == "sobjects" and parts[2] == "deleted":
                return self._get_deleted(parts[1], request)
            if method == "GET" and parts == ["sobjects"]:
                return self._describe_global(version)
            if method == "GET" and len(parts) == 3 and parts[0] == "sobjects" and parts[2] == "describe":
                return self._describe(parts[1], version)
            if method == "GET" and parts == ["limits"]:
                return self._limits()
            if method == "GET" and parts == ["limits", "recordCount"]:
                return self._record_count(request, version)
            if parts[:2] == ["jobs", "query"]:
                return self.bulk.handle(request, version, parts[2:], entry, self._check_access)
        except SoqlError as exc:
            return _error(exc.status, exc.code, exc.message)
        return _error(404, "NOT_FOUND", "The requested resource does not exist")

    def _check_access(self, obj: str) -> None:
        if obj in self.unavailable:
            raise SoqlError("INSUFFICIENT_ACCESS", f"insufficient access rights on object {obj}", status=403)

    def _query(self, q: Soql, version: str, request: Request, entry: dict | None = None) -> Response:
        self._check_access(q.object)
        rows = run_soql(self.org, q)
        if q.count:
            return self._json({"totalSize": len(rows), "done": True, "records": []})
        batch = DEFAULT_BATCH
        opts = request.headers.get("Sforce-Query-Options", "")
        found = re.search(r"batchSize\s*=\s*(\d+)", opts)
        if found:
            batch = min(MAX_BATCH, max(MIN_BATCH, int(found[1])))
        locator = "01g" + uuid.uuid4().hex[:15]
        with self.lock:
            self.cursors[locator] = (rows, q, str(batch))
        return self._page(locator, 0, version, entry)

    def _page(self, locator: str, offset: int, version: str, entry: dict | None = None) -> Response:
        rows, q, batch = self.cursors[locator]
        size = int(batch)
        chunk = rows[offset : offset + size]
        if entry is not None:  # the request log says what each page served
            entry.update(object=q.object, records=len(chunk), offset=offset)
        body: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows),
                                "records": [rest_record(self.org, r, q, version) for r in chunk]}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{offset + size}"
        return self._json(body)

    def _query_more(self, token: str, version: str, entry: dict | None = None) -> Response:
        locator, _, offset = token.rpartition("-")
        if locator not in self.cursors or not offset.isdigit():
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(locator, int(offset), version, entry)

    def _get_deleted(self, name: str, request: Request) -> Response:
        """``sobjects/{Name}/deleted/?start=&end=``: the delete log of the last 15 days."""
        if name not in self.org.fields:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        start, end = m.parse_datetime(request.args.get("start")), m.parse_datetime(request.args.get("end"))
        if start is None or end is None or end < start:
            return _error(400, "INVALID_REPLICATION_DATE", "start and end must be date-times, start before end")
        start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
        now = datetime.now(UTC)
        earliest = now - timedelta(days=15)
        if self.org.purged_until is not None and self.org.purged_until > earliest:
            earliest = self.org.purged_until
        with self.lock:
            found = [{"id": rid, "deletedDate": m.format_datetime(when)}
                     for rid, when in self.org.deleted.get(name, []) if start <= when <= end + timedelta(minutes=1)]
        return self._json({"deletedRecords": found, "earliestDateAvailable": m.format_datetime(earliest),
                           "latestDateCovered": m.format_datetime(min(end, now))})

    # -- changing the org between audits (tests of incremental audits)
    def _resolve(self, record_id: str) -> dict:
        sf_id = self.org.ids.get(str(record_id), str(record_id))
        record = self.org.by_id.get(sf_id)
        if record is None:
            raise KeyError(f"no record {record_id!r} in the sandbox org")
        return record

    def update_record(self, record_id: str, when: datetime | None = None, **values) -> str:
        """Change fields of a record (a Salesforce or canonical id); its LastModifiedDate
        and SystemModstamp move to ``when`` (default now). Returns the Salesforce id."""
        stamp = m.format_datetime(when or datetime.now(UTC))
        with self.lock:
            record = self._resolve(record_id)
            record.update(values, LastModifiedDate=stamp, SystemModstamp=stamp)
        return record["Id"]

    def add_record(self, sobject: str, when: datetime | None = None, **values) -> str:
        """Create a record of ``sobject``; returns its new Salesforce id."""
        stamp = m.format_datetime(when or datetime.now(UTC))
        with self.lock:
            self._added = getattr(self, "_added", 0) + 1
            canonical = str(8_000_000_000 + self._added)
            sf_id = m.to_salesforce_id(canonical, sobject)
            base = {f: None for f in self.org.fields[sobject]}
            self.org.add(sobject, {**base, **values, "Id": sf_id, "CreatedDate": stamp, "LastModifiedDate": stamp,
                                   "SystemModstamp": stamp})
            self.org.ids[canonical] = sf_id
        return sf_id

    def delete_record(self, record_id: str, when: datetime | None = None) -> str:
        """Delete a record: gone from queries, listed by getDeleted. Returns its Salesforce id."""
        at = (when or datetime.now(UTC)).astimezone(UTC)
        with self.lock:
            record = self._resolve(record_id)
            sobject = next(n for n, rows in self.org.records.items() if any(r is record for r in rows))
            self.org.records[sobject] = [r for r in self.org.records[sobject] if r is not record]
            self.org.by_id.pop(record["Id"], None)
            self.org.deleted.setdefault(sobject, []).append((record["Id"], at))
        return record["Id"]

    def purge_delete_log(self, until: datetime | None = None) -> None:
        """Empty the delete log up to ``until`` (an admin emptying the Recycle Bin)."""
        self.org.purged_until = (until or datetime.now(UTC)).astimezone(UTC)

    def _describe_global(self, version: str) -> Response:
        sobjects = [{"name": n, "label": label(n), "keyPrefix": m.KEY_PREFIXES.get(n), "custom": False,
                     "queryable": True, "createable": False, "updateable": False, "deletable": False,
                     "urls": {"sobject": f"/services/data/v{version}/sobjects/{n}",
                              "describe": f"/services/data/v{version}/sobjects/{n}/describe"}}
                    for n in sorted(self.org.fields)]
        return self._json({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    def _describe(self, name: str, version: str) -> Response:
        if name not in self.org.fields:
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        fields = [{**f, "nillable": f["name"] != "Id", "createable": f["name"] != "Id", "updateable": True,
                   "calculated": False, "length": 255 if f["type"] == "string" else 0, "picklistValues": [],
                   "referenceTo": [], "relationshipName": f["name"][:-2] if f["type"] == "reference" else None}
                  for f in self.org.fields[name].values()]
        return self._json({"name": name, "label": label(name), "custom": False, "queryable": True,
                           "keyPrefix": m.KEY_PREFIXES.get(name), "fields": fields, "childRelationships": [],
                           "recordTypeInfos": [], "urls": {"describe": f"/services/data/v{version}/sobjects/{name}/describe"}})

    def _limits(self) -> Response:
        return self._json({
            "DailyApiRequests": {"Max": self.daily_limit, "Remaining": self.daily_limit - self.api_used},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - len(self.bulk.jobs)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
            "FileStorageMB": {"Max": 1024, "Remaining": 1000},
        })

    def _record_count(self, request: Request, version: str) -> Response:
        """``limits/recordCount``: approximate counts; objects not in the org are left out."""
        if float(version) < 40.0:  # "available in REST API version 40.0 and later"
            return _error(404, "NOT_FOUND", "The requested resource does not exist")
        if "recordCount" in self.unavailable:
            return _error(403, "INSUFFICIENT_ACCESS", "insufficient access rights: View Setup and Configuration "
                          "is required")
        wanted = request.args.get("sObjects")
        names = [n.strip() for n in wanted.split(",") if n.strip()] if wanted else sorted(self.org.fields)
        with self.lock:
            found = [{"count": self.record_counts.get(n, 0), "name": n} for n in names if n in self.org.fields]
        return self._json({"sObjects": found})

    def refresh_record_counts(self) -> None:
        """Salesforce recomputing its cached record counts (limits/recordCount)."""
        with self.lock:
            self.record_counts = {n: len(rows) for n, rows in self.org.records.items()}

    def spend_daily_allowance(self, after: int = 0) -> None:
        """Other integrations spend the rest of the daily allowance once ``after`` more
        counted calls have been answered: from then on every call gets 403
        ``REQUEST_LIMIT_EXCEEDED`` "TotalRequests Limit exceeded."."""
        with self.lock:
            self._spend_after = after

    # -- Bulk 2.0
