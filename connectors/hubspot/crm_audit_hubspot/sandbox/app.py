"""The sandbox's WSGI app: HubSpot's REST API over a HubSpotData portal (store.py).

It speaks what hubspot-api-client 12 and the connector use (shared/CRM-APIS.md section 2):
Bearer auth with HubSpot's 401 body, ``/crm/v3/objects`` list/batch-read/search,
``/crm/v3/properties``, owners, settings users and roles, deal pipelines, v4 association
batch reads, account details, daily API usage, login activity and marketing emails.
Paging is HubSpot's: ``paging.next.after`` while more pages exist and no ``paging`` at all
on the last page; page sizes above HubSpot's maximums are refused with 400; search stops
at 10,000 results; a request line longer than ``max_url_length`` gets 414. Rate limits
(``rate_limit`` calls per ``rate_window`` seconds, and ``daily_limit``) answer 429 with
HubSpot's body and ``X-HubSpot-RateLimit-*`` headers. Faults can be injected; every
request is logged.

``start_sandbox`` serves it on 127.0.0.1 and returns the SandboxHandle.
"""

from __future__ import annotations

import bisect
import json
import socket
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from crm_audit_core.connector import SandboxHandle

from .. import mapping
from .builders import ALL_OBJECT_TYPES, DEFAULT_PROPERTIES, id_key
from .search import filter_and_sort
from .store import HubSpotData

OBJECT_ALIASES = {"0-1": "contacts", "0-2": "companies", "0-3": "deals", "0-48": "calls", "0-49": "emails",
                  "0-47": "meetings", "0-46": "notes", "0-27": "tasks", "0-18": "communications"}
LIST_MAX = 100
BATCH_READ_MAX = 100
SEARCH_MAX = 200
SEARCH_CAP = 10_000
ASSOCIATION_BATCH_MAX = 1000
ASSOCIATION_PAGE = 500
READ_ONLY_POSTS = ("/crm/v3/objects/", "/crm/v4/associations/", "/crm/associations/v4/")

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
EXPIRED_MESSAGE = "The OAuth token used to make this call expired 0 second(s) ago."


def _now() -> str:
    return mapping.format_time(datetime.now(timezone.utc))


class HubSpotSandbox:
    """HubSpot's API as a WSGI app: auth, faults, rate limits, routes and JSON shapes."""

    def __init__(self, tenant: Any, *, token: str = "sandbox-token", rate_limit: int | None = None,
                 rate_window: float = 10.0, daily_limit: int | None = None, daily_used: int = 0,
                 max_url_length: int = 8192, extra_properties: int = 0, slow_seconds: float = 2.0,
                 login_history: bool = True, marketing: bool = True, edition: str | None = None,
                 retry_after: float | None = None):
        self.data = HubSpotData(tenant, extra_properties=extra_properties, edition=edition,
                                login_history=login_history, marketing=marketing)
        self.token = token
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.daily_limit = daily_limit or self.data.daily_limit
        self.daily_used = daily_used
        self.max_url_length = max_url_length
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.requests: list[dict] = []
        self.faults: list[dict] = []
        self._window: deque[float] = deque()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ mutations

    def put_record(self, table: str, row: dict, *, modified: datetime | None = None) -> dict:
        """Create or update a record (canonical row of contacts/companies/deals/activities),
        stamped modified now: what a user or an integration does between two audits."""
        with self._lock:
            return self.data.put_record(table, row, modified=modified)

    def delete_record(self, table: str, record_id: str, *, when: datetime | None = None) -> None:
        """Delete (archive) a record; it is then listed with ``archived=true``."""
        with self._lock:
            self.data.delete_record(table, record_id, when=when)

    # ------------------------------------------------------------------ faults

    def inject(self, kind: str, times: int = 1, path_contains: str | None = None, after: int = 0,
               method: str | None = None) -> None:
        """Fail the next ``times`` matching requests with ``kind``; ``after``: let that many
        matching requests through first (e.g. fail a table's 14th page); ``method``: only
        requests with this HTTP method match."""
        from crm_audit_core.connector import FAULT_KINDS

        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self._lock:
            self.faults.append({"kind": kind, "times": times, "path": path_contains, "after": after,
                                "method": method})

    def _take_fault(self, path: str, method: str = "GET") -> str | None:
        with self._lock:
            for fault in self.faults:
                if fault["times"] > 0 and (fault["path"] is None or fault["path"] in path) \
                        and fault.get("method") in (None, method):
                    if fault.get("after", 0) > 0:
                        fault["after"] -= 1
                        continue
                    fault["times"] -= 1
                    return fault["kind"]
        return None

    # ------------------------------------------------------------------ responses

    def _json(self, status: int, body: Any, headers: dict | None = None) -> Response:
        headers = dict(headers or {})
        headers.setdefault("X-HubSpot-Correlation-Id", str(uuid.uuid4()))
        return Response(json.dumps(body), status=status, headers=headers, content_type="application/json;charset=utf-8")

    def _error(self, status: int, category: str, message: str, headers: dict | None = None, **extra) -> Response:
        body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
        body.update(extra)
        return self._json(status, body, headers)

    def _rate_headers(self, remaining_window: int | None) -> dict:
        headers = {
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - self.daily_used)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.rate_window * 1000)),
        }
        if self.rate_limit:
            headers["X-HubSpot-RateLimit-Max"] = str(self.rate_limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(max(0, remaining_window or 0))
        return headers

    def _rate_limited(self, policy: str) -> Response:
        headers = self._rate_headers(0)
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if policy == "DAILY":
            message = "You have reached your daily limit."
        else:
            message = "You have reached your ten_secondly_rolling limit."
            headers["X-HubSpot-RateLimit-Remaining"] = "0"
            headers.setdefault("X-HubSpot-RateLimit-Max", str(self.rate_limit or 100))
        body = {"status": "error", "message": message, "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()), "policyName": policy, "requestId": str(uuid.uuid4())}
        return self._json(429, body, headers)

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ, start_response):
        request = Request(environ)
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
        entry = {"method": request.method, "path": request.path, "query": request.query_string.decode("latin-1"),
                 "status": None, "url_length": len(raw_uri)}
        with self._lock:
            self.requests.append(entry)
        response = self._dispatch(request, environ, raw_uri)
        entry["status"] = response.status_code if response is not None else 0
        if response is None:  # dropped connection
            try:
                sock = environ["werkzeug.socket"]
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass
            return []
        return response(environ, start_response)

    def _dispatch(self, request: Request, environ, raw_uri: str) -> Response | None:
        if len(raw_uri) > self.max_url_length:
            return Response("<html><body><h1>414 Request-URI Too Large</h1></body></html>", status=414,
                            content_type="text/html", headers={"Connection": "close"})
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            return self._error(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE,
                               {"X-HubSpot-Auth-Failure": "401 Unauthorized"})
        fault = self._take_fault(request.path, request.method)
        if fault == "expire-token":
            return self._error(401, "EXPIRED_AUTHENTICATION", EXPIRED_MESSAGE,
                               {"X-HubSpot-Auth-Failure": "401 Unauthorized"})
        if fault == "429":
            return self._rate_limited("TEN_SECONDLY_ROLLING")
        if fault in ("500", "503"):
            return self._error(int(fault), "INTERNAL_ERROR" if fault == "500" else "SERVICE_UNAVAILABLE",
                               "internal error" if fault == "500" else "Service Unavailable")
        if fault == "drop":
            return None
        if fault == "slow":
            time.sleep(self.slow_seconds)

        is_search = request.path.endswith("/search")
        remaining = None
        with self._lock:
            if self.daily_used >= self.daily_limit:
                return self._rate_limited("DAILY")
            if self.rate_limit:
                now = time.monotonic()
                while self._window and now - self._window[0] >= self.rate_window:
                    self._window.popleft()
                if len(self._window) >= self.rate_limit:
                    return self._rate_limited("TEN_SECONDLY_ROLLING")
                self._window.append(now)
                remaining = self.rate_limit - len(self._window)
            self.daily_used += 1
        response = self._route(request)
        if not is_search:
            for key, value in self._rate_headers(remaining).items():
                response.headers[key] = value
        if fault in ("malformed", "truncated") and response.status_code < 300:
            body = response.get_data()
            if fault == "malformed":
                response.set_data(b'{"results": [{"id": "1", "properties": ' + body[:20])
            else:
                full_length = len(body)
                response.set_data(body[: max(1, full_length // 2)])
                response.headers["Content-Length"] = str(full_length)
                response.headers["Connection"] = "close"
        return response

    def _route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        method = request.method
        try:
            if method == "GET":
                if parts[:3] == ["crm", "v3", "objects"] and len(parts) == 4:
                    return self._list_objects(self._type(parts[3]), request)
                if parts[:3] == ["crm", "v3", "objects"] and len(parts) == 5:
                    return self._get_object(self._type(parts[3]), parts[4], request)
                if parts[:3] == ["crm", "v3", "properties"] and len(parts) == 4:
                    return self._json(200, {"results": self.data.properties[self._type(parts[3])]})
                if parts[:3] == ["crm", "v3", "owners"] and len(parts) == 3:
                    archived = request.args.get("archived", "false").lower() == "true"
                    owners = [o for o in self.data.owners if o["archived"] == archived]
                    return self._page(owners, request, maximum=500, default=100)
                if parts in (["settings", "v3", "users"], ["settings", "users", "v3"]):
                    return self._page(self.data.users, request, maximum=100, default=100)
                if parts in (["settings", "v3", "users", "roles"], ["settings", "users", "v3", "roles"]):
                    return self._json(200, {"results": self.data.roles})
                if parts[:3] == ["crm", "v3", "pipelines"] and len(parts) == 4:
                    if self._type(parts[3]) != "deals":
                        return self._json(200, {"results": []})
                    return self._json(200, {"results": self.data.pipelines})
                if parts == ["account-info", "v3", "details"]:
                    return self._json(200, {
                        "portalId": 12345678, "accountType": "STANDARD", "timeZone": "US/Eastern",
                        "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "-05:00",
                        "utcOffsetMilliseconds": -18000000, "uiDomain": "app.hubspot.com",
                        "dataHostingLocation": "na1"})
                if parts == ["account-info", "v3", "api-usage", "daily", "private-apps"]:
                    return self._json(200, {"results": [{
                        "name": "private-apps-api-calls-daily", "usageLimit": self.daily_limit,
                        "currentUsage": self.daily_used, "collectedAt": _now(), "fetchStatus": "SUCCESS",
                        "resetsAt": _now()}]})
                if parts == ["account-info", "v3", "activity", "login"]:
                    if not self.data.login_history:
                        return self._error(403, "MISSING_SCOPES", "This app hasn't been granted all required "
                                           "scopes to make this call. Read more about required scopes here: "
                                           "https://developers.hubspot.com/scopes.",
                                           errors=[{"message": "One or more of the following scopes are required.",
                                                    "context": {"requiredScopes": ["account-info.security.read"]}}])
                    return self._page(self.data.logins, request, maximum=200, default=100)
                if parts == ["marketing", "v3", "emails"]:
                    if not self.data.marketing:
                        return self._error(403, "MISSING_SCOPES", "This app hasn't been granted all required "
                                           "scopes to make this call.")
                    return self._page(self.data.emails, request, maximum=100, default=100, total=True)
            elif method == "POST":
                if parts[:3] == ["crm", "v3", "objects"] and parts[4:] == ["batch", "read"]:
                    return self._batch_read(self._type(parts[3]), request)
                if parts[:3] == ["crm", "v3", "objects"] and parts[4:] == ["search"]:
                    return self._search(self._type(parts[3]), request)
                if (parts[:3] == ["crm", "v4", "associations"] or parts[:3] == ["crm", "associations", "v4"]) \
                        and parts[5:] == ["batch", "read"]:
                    return self._association_batch(self._type(parts[3]), self._type(parts[4]), request)
        except KeyError as exc:
            return self._error(404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {exc.args[0]}")
        except ValueError as exc:
            return self._error(400, "VALIDATION_ERROR", str(exc))
        if method not in ("GET", "POST"):
            return self._error(405, "VALIDATION_ERROR", "this sandbox is read-only")
        return self._error(404, "OBJECT_NOT_FOUND", f"No route for {method} {request.path}")

    # ------------------------------------------------------------------ endpoints

    @staticmethod
    def _type(name: str) -> str:
        name = OBJECT_ALIASES.get(name, name.lower())
        if name not in ALL_OBJECT_TYPES:
            raise KeyError(name)
        return name

    @staticmethod
    def _limit(request_limit: Any, default: int, maximum: int) -> int:
        if request_limit in (None, ""):
            return default
        limit = int(request_limit)
        if limit < 1 or limit > maximum:
            raise ValueError(f"limit must be between 1 and {maximum}, got {limit}")
        return limit

    def _page(self, items: list, request: Request, *, maximum: int, default: int, total: bool = False) -> Response:
        limit = self._limit(request.args.get("limit"), default, maximum)
        offset = int(request.args.get("after") or 0)
        body: dict[str, Any] = {"results": items[offset: offset + limit]}
        if total:
            body["total"] = len(items)
        if offset + limit < len(items):
            body["paging"] = {"next": {"after": str(offset + limit), "link": f"?after={offset + limit}"}}
        return self._json(200, body)

    def _requested(self, request_props: list[str] | None, object_type: str) -> list[str]:
        if not request_props:
            return DEFAULT_PROPERTIES.get(object_type, [])
        out = []
        for p in request_props:
            out.extend(x for x in p.split(",") if x)
        return out

    def _shape(self, obj: dict, object_type: str, props: list[str]) -> dict:
        always = ["hs_object_id", "createdate" if object_type in ("contacts", "companies", "deals") else "hs_createdate",
                  "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"]
        properties = {p: obj["properties"].get(p) for p in always + props}
        return {**obj, "properties": properties}

    def _list_objects(self, object_type: str, request: Request) -> Response:
        # HubSpot's list cursor is a keyset position (it encodes the next object's id), so
        # it stays valid while records are added or deleted; the sandbox's is that id.
        limit = self._limit(request.args.get("limit"), 10, LIST_MAX)
        after = request.args.get("after")
        archived = request.args.get("archived", "false").lower() == "true"
        with self._lock:
            if archived:
                items = sorted(self.data.archived[object_type], key=lambda o: id_key(o["id"]))
                keys = [id_key(o["id"]) for o in items]
            else:
                items, keys = self.data.objects[object_type], self.data.keys(object_type)
            start = bisect.bisect_left(keys, id_key(after)) if after else 0
            page = items[start: start + limit]
            nxt = items[start + limit]["id"] if start + limit < len(items) else None
        props = self._requested(request.args.getlist("properties"), object_type)
        body: dict[str, Any] = {"results": [self._shape(o, object_type, props) for o in page]}
        if nxt is not None:
            body["paging"] = {"next": {"after": nxt, "link": f"?after={nxt}"}}
        return self._json(200, body)

    def _get_object(self, object_type: str, object_id: str, request: Request) -> Response:
        obj = self.data.by_id[object_type].get(object_id)
        if obj is None:
            return self._error(404, "OBJECT_NOT_FOUND", f"Object not found.  objectId are usually numeric.")
        return self._json(200, self._shape(obj, object_type, self._requested(request.args.getlist("properties"), object_type)))

    def _body(self, request: Request) -> dict:
        try:
            return json.loads(request.get_data() or b"{}")
        except ValueError:
            raise ValueError("Invalid input JSON on line 1") from None

    def _batch_read(self, object_type: str, request: Request) -> Response:
        body = self._body(request)
        inputs = body.get("inputs") or []
        if len(inputs) > BATCH_READ_MAX:
            raise ValueError(f"Batch input size exceeds the limit of {BATCH_READ_MAX}")
        props = self._requested(body.get("properties"), object_type)
        started = _now()
        results, errors = [], []
        for item in inputs:
            obj = self.data.by_id[object_type].get(str(item.get("id")))
            if obj is None:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "message": "Could not get some records.", "context": {"ids": [str(item.get("id"))]},
                               "links": {}, "errors": []})
            else:
                results.append(self._shape(obj, object_type, props))
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
        if errors:
            out.update(numErrors=len(errors), errors=errors)
        return self._json(207 if errors else 200, out)

    def _search(self, object_type: str, request: Request) -> Response:
        body = self._body(request)
        limit = self._limit(body.get("limit"), 10, SEARCH_MAX)
        offset = int(body.get("after") or 0)
        if offset >= SEARCH_CAP:
            raise ValueError(f"Paging beyond {SEARCH_CAP} results is not supported by the search API.")
        with self._lock:
            items = list(self.data.objects[object_type])
        items = filter_and_sort(items, body)
        props = self._requested(body.get("properties"), object_type)
        page = items[offset: min(offset + limit, SEARCH_CAP)]
        out: dict[str, Any] = {"total": len(items), "results": [self._shape(o, object_type, props) for o in page]}
        if offset + limit < len(items):
            out["paging"] = {"next": {"after": str(offset + limit)}}
        return self._json(200, out)

    def _association_batch(self, from_type: str, to_type: str, request: Request) -> Response:
        body = self._body(request)
        inputs = body.get("inputs") or []
        if len(inputs) > ASSOCIATION_BATCH_MAX:
            raise ValueError(f"Batch input size exceeds the limit of {ASSOCIATION_BATCH_MAX} ids")
        type_id, label = mapping.ASSOCIATION_TYPE_IDS.get((from_type, to_type), (1, None))
        links = self.data.associations.get((from_type, to_type), {})
        started = _now()
        results, errors = [], []
        for item in inputs:
            from_id = str(item.get("id"))
            targets = links.get(from_id, [])
            if not targets:
                errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                               "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                               "message": f"No {to_type} is associated with {from_type[:-1]} {from_id}.",
                               "context": {"fromObjectId": [from_id]}, "links": {}, "errors": []})
                continue
            offset = int(item.get("after") or 0)
            chunk = targets[offset: offset + ASSOCIATION_PAGE]
            types = [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label}]
            if label == "Primary":
                types.append({"category": "HUBSPOT_DEFINED", "typeId": type_id + 278 if type_id == 1 else 341,
                              "label": None})
            result: dict[str, Any] = {"from": {"id": from_id},
                                      "to": [{"toObjectId": int(t) if t.isdigit() else t,
                                              "associationTypes": types if i == 0 else types[-1:]}
                                             for i, t in enumerate(chunk)]}
            if offset + ASSOCIATION_PAGE < len(targets):
                result["paging"] = {"next": {"after": str(offset + ASSOCIATION_PAGE), "link": None}}
            results.append(result)
        out: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started, "completedAt": _now()}
        if errors:
            out.update(numErrors=len(errors), errors=errors)
        return self._json(207 if errors else 200, out)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # the sandbox keeps its own request log
        pass

    def log_error(self, *args, **kwargs) -> None:
        pass


def start_sandbox(tenant: Any, *, token: str = "sandbox-token", rate_limit: int | None = None,
                  **kwargs) -> SandboxHandle:
    """Serve ``tenant`` as HubSpot on 127.0.0.1 (an ephemeral port); ``handle.stop()`` ends it.

    Keyword options: ``rate_window`` (seconds, default 10), ``daily_limit``, ``daily_used``,
    ``max_url_length`` (default 8192; longer request lines get 414), ``extra_properties``
    (N padding custom properties on contacts, companies and deals), ``slow_seconds``,
    ``login_history`` / ``marketing`` (False: 403 as on lower tiers), ``edition``,
    ``retry_after`` (send a Retry-After header on 429s).

    ``handle.extra``: ``app`` (the WSGI app: ``data``, ``faults``), and the mutation API for
    tests of incremental audits: ``put_record(table, canonical_row)`` (create or update,
    modified now) and ``delete_record(table, id)`` (archived, listed with ``archived=true``).
    """
    app = HubSpotSandbox(tenant, token=token, rate_limit=rate_limit, **kwargs)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="hubspot-sandbox", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"

    def stop() -> None:
        server.shutdown()
        server.server_close()

    options = {"access_token": token, "base_url": url}
    if rate_limit:
        options["rate_limit"] = rate_limit
        options["rate_window"] = app.rate_window
    return SandboxHandle(url=url, options=options, stop=stop, requests=app.requests, inject=app.inject,
                         read_only_posts=READ_ONLY_POSTS,
                         extra={"app": app, "put_record": app.put_record, "delete_record": app.delete_record})
