"""The sandbox's WSGI app: Salesforce's REST routes (versions, query and queryMore,
describe, limits, recordCount, getDeleted, the UI API's picklist values), with the login and Bulk routes handed to
:mod:`.login` and :mod:`.bulk` and the mutation API to :mod:`.changes`.

Built on :class:`crm_audit_core.sandbox.server.SandboxApp`, which owns the request log,
the fault queue, the rate window and the daily allowance; this app adds Salesforce's own
answers: a session check on ``/services/data/vXX.X/`` (401 with the JSON *list* body),
``REQUEST_LIMIT_EXCEEDED`` 403s for the rate window (a concurrent-request limit), the spent
daily allowance ("TotalRequests Limit exceeded.") and the injected ``429`` (Salesforce
sends no 429), ``Sforce-Limit-Info`` on every metered answer, and 414 ``URI_TOO_LONG``.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from werkzeug.wrappers import Request, Response

from crm_audit_core.sandbox.server import DAILY, SandboxApp

from .. import mapping as m
from .bulk import BulkJobs
from .changes import OrgChanges
from .login import Logins
from .org import Org, label
from .pipelines import picklist_values
from .responses import error as _error
from .responses import json_response, not_found
from .soql import Soql, SoqlError, parse_soql, rest_record, run_soql

UTC = timezone.utc
MAX_URL_LENGTH = 16_384
DEFAULT_BATCH = 2000
MIN_BATCH, MAX_BATCH = 200, 2000
_API_PATH = re.compile(r"^/services/data/v(\d+\.\d)/(.*)$")


class SalesforceSandbox(SandboxApp):
    """A Salesforce org over HTTP (see the module docstring and :func:`.server.start_sandbox`)."""

    vendor = "salesforce"

    def __init__(self, org: Org, token: str, *, rate_limit: int | None = None, rate_window: float = 1.0,
                 daily_limit: int = 100_000, daily_used: int = 0, slow_seconds: float = 2.0,
                 retry_after: float | None = None, bulk_in_progress_polls: int = 0, login_history: bool = True,
                 mfa_info: bool = True, username: str = "auditor@sandbox.invalid", password: str = "sandbox-password",
                 security_token: str = "sandbox-security-token", consumer_key: str = "sandbox-consumer-key",
                 public_key: str | None = None, record_counts: dict[str, int] | None = None,
                 record_count_access: bool = True, limit_info_on_refusal: bool = True,
                 refuse: tuple[str, ...] | list[str] = (), audit_user_lacks: tuple[str, ...] | list[str] = (),
                 ui_api: bool = True):
        super().__init__(rate_limit=rate_limit, rate_window=rate_window, daily_limit=daily_limit,
                         daily_used=daily_used, slow_seconds=slow_seconds, retry_after=retry_after,
                         max_url_length=MAX_URL_LENGTH)
        self.org = org
        self.logins = Logins(token, self.lock, username=username, password=password, security_token=security_token,
                             consumer_key=consumer_key, public_key=public_key)
        self.bulk = BulkJobs(org, self.lock, bulk_in_progress_polls)
        self.changes = OrgChanges(org, self.lock)
        self.unavailable = set()
        if not login_history:
            self.unavailable.add("LoginHistory")
        if not mfa_info:
            self.unavailable.add("TwoFactorMethodsInfo")
        # objects the audit user may not read (a missing permission): INSUFFICIENT_ACCESS
        self.unavailable.update(refuse)
        for access in org.records.get("UserPermissionAccess", []):  # permissions it lacks, e.g. "CustomizeApplication"
            access.update({f"Permissions{name}": False for name in audit_user_lacks})
        # without Customize Application or Manage Users a user sees only his own OAuth tokens (none)
        self.own_tokens_only = {"CustomizeApplication", "ManageUsers"} <= set(audit_user_lacks)
        self.cursors: dict[str, tuple[list[dict], Soql, str, str]] = {}  # locator -> rows, query, batch, api
        # limits/recordCount serves a cached snapshot, like Salesforce's (refreshed "at
        # variable time intervals"): taken now, overridable, moved only by refresh_record_counts()
        self.record_counts: dict[str, int] = {n: len(rows) for n, rows in org.records.items()}
        self.record_counts.update(record_counts or {})
        if not record_count_access:
            self.unavailable.add("recordCount")
        self.limit_info_on_refusal = limit_info_on_refusal  # Sforce-Limit-Info on the quota's 403
        self.ui_api = ui_api  # False: the audit user may not use the User Interface API (403)

    # -- faults that match one object ------------------------------------------------------

    def reads(self, sobject: str) -> Callable[[Request], bool]:
        """``inject(..., match=app.reads("Contact"))``: only query / queryMore / Bulk
        requests that read ``sobject``."""
        return lambda request: self._object_of(request) == sobject

    def _object_of(self, request: Request) -> str | None:
        """The object a query, queryMore or Bulk request reads."""
        soql = request.args.get("q")
        if soql:
            found = re.search(r"\bFROM\s+(\w+)", soql, re.IGNORECASE)
            return found[1] if found else None
        tail = request.path.rstrip("/").rsplit("/", 1)[-1]
        if "-" in tail and tail.rpartition("-")[0] in self.cursors:
            return self.cursors[tail.rpartition("-")[0]][1].object
        return self.bulk.object_of(request.path)

    # -- the base's vendor hooks ----------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if _API_PATH.match(request.path) and not self.logins.valid(request):
            return _error(401, "INVALID_SESSION_ID", "Session expired or invalid", headers={"WWW-Authenticate": "Token"})
        return None

    def expire_token(self, request: Request) -> None:
        self.logins.expire_all()  # a session expiry ends every session of the user

    def call_cost(self, request: Request) -> int:
        """Calls to an offered API version count against the allowance; logins and the
        version list do not."""
        match = _API_PATH.match(request.path)
        return 1 if match and match[1] in self.org.versions else 0

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            # the transient throttle (retry it); the spent daily allowance is rate_limited's
            return _error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded.")
        if kind == "500":
            return _error(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred. Please include this ErrorId if "
                          "you contact support: 1234567890-12345 (-1234567890)")
        return _error(503, "SERVER_UNAVAILABLE", "Server unavailable: too many requests")

    def rate_limited(self, request: Request, policy: str, reset: float) -> Response:
        if policy == DAILY:
            headers = {"Sforce-Limit-Info": self._usage()} if self.limit_info_on_refusal else None
            return _error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", headers=headers)
        return _error(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.")

    def limit_headers(self, request: Request, remaining: int | None, reset: float) -> dict:
        return {"Sforce-Limit-Info": self._usage()}

    def _usage(self) -> str:
        return f"api-usage={self.daily_used}/{self.daily_limit}"

    def uri_too_long(self, request: Request) -> Response:
        return _error(414, "URI_TOO_LONG", f"The request URI is longer than {MAX_URL_LENGTH} characters")

    def route(self, request: Request) -> Response:
        path = request.path
        if path.rstrip("/") == "/services/data":
            return self._versions()
        if path == "/services/oauth2/token" and request.method == "POST":
            return self.logins.oauth_token(request)
        if path.startswith("/services/Soap/u/") and request.method == "POST":
            return self.logins.soap_login(request, path)
        match = _API_PATH.match(path)
        if not match or match[1] not in self.org.versions:
            return not_found()
        return self._api(request, match[1], match[2], self.entry(request))

    # -- the mutation API (SandboxHandle.put_record / delete_record) ------------------------

    def put_record(self, table: str, row: dict, when: Any = None) -> str:
        return self.changes.put_record(table, row, when)

    def delete_record(self, table: str, record_id: str, when: Any = None) -> str:
        return self.changes.delete_record(table, record_id, when)

    # -- Salesforce's routes ----------------------------------------------------------------

    def _versions(self) -> Response:
        body = [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in self.org.versions]
        return json_response(body)

    def _json(self, body: Any, status: int = 200) -> Response:
        return json_response(body, status)

    def _api(self, request: Request, version: str, rest: str, entry: dict) -> Response:
        method = request.method
        parts = rest.rstrip("/").split("/")
        # the Tooling API (``tooling/query``) serves the org's setup objects (Health Check,
        # installed packages); the data API the others: each answers INVALID_TYPE for the other's
        api = "tooling/" if parts[0] == "tooling" and len(parts) > 1 else ""
        if api:
            parts = parts[1:]
        try:
            if method == "GET" and parts[0] in ("query", "queryAll") and len(parts) == 1:
                soql = request.args.get("q", "")
                entry["soql"] = soql
                q = parse_soql(soql, self.org)
                if (q.object in self.org.tooling) != bool(api):
                    raise SoqlError("INVALID_TYPE", f"sObject type '{q.object}' is not supported"
                                    + (" by the Tooling API" if api else ": query it through the Tooling API"))
                if api:
                    entry["tooling"] = True
                return self._query(q, version, request, entry, api)
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
            if method == "GET" and not api and parts[0] == "ui-api":
                answer = picklist_values(self.org, "/".join(parts), version, self.ui_api)
                if answer is not None:
                    return answer
        except SoqlError as exc:
            return _error(exc.status, exc.code, exc.message)
        return not_found()

    def _check_access(self, obj: str) -> None:
        if obj in self.unavailable:
            raise SoqlError("INSUFFICIENT_ACCESS", f"insufficient access rights on object {obj}", status=403)

    def _query(self, q: Soql, version: str, request: Request, entry: dict | None = None, api: str = "") -> Response:
        self._check_access(q.object)
        rows = [] if q.object == "OauthToken" and self.own_tokens_only else run_soql(self.org, q)
        if q.count:
            return self._json({"totalSize": len(rows), "done": True, "records": []})
        batch = DEFAULT_BATCH
        opts = request.headers.get("Sforce-Query-Options", "")
        found = re.search(r"batchSize\s*=\s*(\d+)", opts)
        if found:
            batch = min(MAX_BATCH, max(MIN_BATCH, int(found[1])))
        locator = "01g" + uuid.uuid4().hex[:15]
        with self.lock:
            self.cursors[locator] = (rows, q, str(batch), api)
        return self._page(locator, 0, version, entry)

    def _page(self, locator: str, offset: int, version: str, entry: dict | None = None) -> Response:
        rows, q, batch, api = self.cursors[locator]
        size = int(batch)
        chunk = rows[offset : offset + size]
        if entry is not None:  # the request log says what each page served
            entry.update(object=q.object, records=len(chunk), offset=offset)
        body: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows),
                                "records": [rest_record(self.org, r, q, version) for r in chunk]}
        if not body["done"]:
            body["nextRecordsUrl"] = f"/services/data/v{version}/{api}query/{locator}-{offset + size}"
        return self._json(body)

    def _query_more(self, token: str, version: str, entry: dict | None = None) -> Response:
        locator, _, offset = token.rpartition("-")
        if locator not in self.cursors or not offset.isdigit():
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(locator, int(offset), version, entry)

    def _get_deleted(self, name: str, request: Request) -> Response:
        """``sobjects/{Name}/deleted/?start=&end=``: the delete log of the last 15 days."""
        if name not in self.org.fields:
            return not_found()
        start, end = m.utc_datetime(request.args.get("start")), m.utc_datetime(request.args.get("end"))
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

    def _describe_global(self, version: str) -> Response:
        sobjects = [{"name": n, "label": label(n), "keyPrefix": m.KEY_PREFIXES.get(n), "custom": False,
                     "queryable": True, "createable": False, "updateable": False, "deletable": False,
                     "urls": {"sobject": f"/services/data/v{version}/sobjects/{n}",
                              "describe": f"/services/data/v{version}/sobjects/{n}/describe"}}
                    for n in sorted(self.org.fields)]
        return self._json({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    def _describe(self, name: str, version: str) -> Response:
        if name not in self.org.fields:
            return not_found()
        fields = [{**f, "nillable": f["name"] != "Id", "createable": f["name"] != "Id", "updateable": True,
                   "calculated": False, "length": 255 if f["type"] == "string" else 0, "picklistValues": [],
                   "referenceTo": [], "relationshipName": f["name"][:-2] if f["type"] == "reference" else None}
                  for f in self.org.fields[name].values()]
        return self._json({"name": name, "label": label(name), "custom": False, "queryable": True,
                           "keyPrefix": m.KEY_PREFIXES.get(name), "fields": fields, "childRelationships": [],
                           "recordTypeInfos": [], "urls": {"describe": f"/services/data/v{version}/sobjects/{name}/describe"}})

    def _limits(self) -> Response:
        return self._json({
            "DailyApiRequests": {"Max": self.daily_limit, "Remaining": self.daily_limit - self.daily_used},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - len(self.bulk.jobs)},
            "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
            "DataStorageMB": {"Max": 1024, "Remaining": 1000},
            "FileStorageMB": {"Max": 1024, "Remaining": 1000},
        })

    def _record_count(self, request: Request, version: str) -> Response:
        """``limits/recordCount``: approximate counts; objects not in the org are left out."""
        if float(version) < 40.0:  # "available in REST API version 40.0 and later"
            return not_found()
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

