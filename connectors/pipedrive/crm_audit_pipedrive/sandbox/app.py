"""The Pipedrive sandbox's HTTP side: a WSGI app that authenticates like Pipedrive, routes
its v1 and v2 list paths, answers with its envelopes, limit headers and error bodies,
counts the burst window and the daily token budget, logs every request and injects faults;
``start_sandbox`` serves it on 127.0.0.1."""

from __future__ import annotations

import bisect
import json
import math
import threading
import time
from collections import deque
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from crm_audit_core.connector import FAULT_KINDS, SandboxHandle

from .company import PipedriveData
from .records import SORT_KEYS, CompanyRecords, decode_cursor, encode_cursor, time_key

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
V2_LISTS = (
    "persons", "organizations", "deals", "activities", "pipelines", "stages",
    "personFields", "organizationFields", "dealFields", "activityFields",
)
V1_PAGED = ("roles", "notes", "recents")
V1_UNPAGED = ("users", "webhooks")
TOKEN_COST = {"v1": 20, "v2": 10}
ERROR_INFO = "Please check developers.pipedrive.com"


class PipedriveSandbox:
    def __init__(
        self,
        tenant: Any,
        *,
        token: str = "sandbox-token",
        rate_limit: int | None = None,
        burst_window: float = 2.0,
        daily_budget: int = 1_000_000,
        daily_used: int = 0,
        fault_retry_after: float = 0.05,
        slow_seconds: float = 2.0,
    ):
        self.data = PipedriveData(tenant)
        self.tokens = {token}
        self.token = token
        self.rate_limit = rate_limit
        self.burst_window = burst_window
        self.daily_budget = daily_budget
        self.daily_used = daily_used
        self.fault_retry_after = fault_retry_after
        self.slow_seconds = slow_seconds
        self.requests: list[dict] = []
        self.faults: list[list] = []
        self._times: dict[str, deque] = {}
        self._lock = threading.Lock()
        self.records = CompanyRecords(self.data)
        # Changes between audits (tests): Pipedrive field names, update_time bumped.
        self.update = self.records.update
        self.add = self.records.add
        self.delete = self.records.delete
        self.expire_cursors = self.records.expire_cursors

    # -- control -------------------------------------------------------------------

    def inject(self, kind: str, times: int = 1, path_contains: str | None = None, after: int = 0) -> None:
        """Fail the next ``times`` matching requests, once ``after`` matching ones succeeded."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self._lock:
            self.faults.append([kind, times, path_contains, after])

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            for fault in self.faults:
                kind, times, contains, after = fault
                if times > 0 and (contains is None or contains in path):
                    if after > 0:
                        fault[3] -= 1
                        return None
                    fault[1] -= 1
                    return kind
        return None

    # -- WSGI ----------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        entry = {"method": request.method, "path": request.path, "query": request.args.to_dict(), "status": None}
        with self._lock:
            self.requests.append(entry)
        response = self._handle(request, environ, entry)
        if response is None:  # dropped connection
            entry["status"] = 0
            return []
        entry["status"] = response.status_code
        return response(environ, start_response)

    def _token_of(self, request: Request) -> str | None:
        token = request.headers.get("x-api-token") or request.args.get("api_token")
        auth = request.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        return token

    def _handle(self, request: Request, environ, entry) -> Response | None:
        path = request.path
        fault = self._take_fault(path)
        token = self._token_of(request)
        if fault == "expire-token" and token:
            with self._lock:
                self.tokens.discard(token)
        if token not in self.tokens:
            return _envelope_error(401, "unauthorized access", errorCode=401)

        version, resource = self._route(path)
        cost = TOKEN_COST.get(version or "v1", 20)
        limit_headers, limited = self._rate(token, cost)
        if limited is not None:
            return limited

        if fault == "429":
            after = self.fault_retry_after
            return _envelope_error(429, "Too many requests", headers={
                **limit_headers, "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(after), "Retry-After": str(after)})
        if fault in ("500", "503"):
            msg = "Internal server error" if fault == "500" else "Requested service is not available"
            return _envelope_error(int(fault), msg, headers=limit_headers)
        if fault == "drop":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    import socket as _socket

                    sock.shutdown(_socket.SHUT_RDWR)
                except OSError:
                    pass
            return None
        if fault == "slow":
            time.sleep(self.slow_seconds)

        if request.method != "GET":
            return _envelope_error(405, "Method not allowed in the read-only sandbox", headers=limit_headers)
        if resource is None:
            return _envelope_error(404, f"Unknown method {path}", headers=limit_headers)
        response = self._serve(version, resource, request, limit_headers)
        if fault == "malformed" and response.status_code == 200:
            response = Response("<html><body>502 Bad Gateway</body></html>", status=200,
                                mimetype="application/json", headers=limit_headers)
        if fault == "truncated" and response.status_code == 200:
            body = response.get_data()
            response = Response(body[: max(1, len(body) // 2)], status=200, mimetype="application/json", headers=limit_headers)
        return response

    def _route(self, path: str) -> tuple[str | None, str | None]:
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[0] == "api" and parts[1] == "v2" and parts[2] in V2_LISTS:
            return "v2", parts[2]
        if len(parts) == 3 and parts[0] == "api" and parts[1] == "v1" and parts[2] in V1_PAGED + V1_UNPAGED:
            return "v1", parts[2]
        if len(parts) == 2 and parts[0] == "v1" and parts[1] in V1_PAGED + V1_UNPAGED:
            return "v1", parts[1]
        if parts[:2] == ["api", "v2"]:
            return "v2", None
        return "v1", None

    def _rate(self, token: str, cost: int) -> tuple[dict, Response | None]:
        now = time.monotonic()
        with self._lock:
            window = self._times.setdefault(token, deque())
            while window and now - window[0] >= self.burst_window:
                window.popleft()
            limit = self.rate_limit
            daily_left = self.daily_budget - self.daily_used
            headers = {
                "x-daily-ratelimit-token-limit": str(self.daily_budget),
            }
            if daily_left < cost:
                headers["x-daily-ratelimit-token-remaining"] = "0"
                seconds = 86400 - (time.time() % 86400)
                headers["Retry-After"] = str(int(seconds))
                return headers, _envelope_error(429, "Daily API token budget exceeded", headers=headers)
            if limit is not None and len(window) >= limit:
                reset = max(0.01, self.burst_window - (now - window[0]))
                headers.update({
                    "x-daily-ratelimit-token-remaining": str(daily_left),
                    "x-ratelimit-limit": str(limit), "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": f"{reset:.2f}", "Retry-After": f"{reset:.2f}",
                })
                return headers, _envelope_error(429, "Request over limit", headers=headers)
            window.append(now)
            self.daily_used += cost
            headers["x-daily-ratelimit-token-remaining"] = str(self.daily_budget - self.daily_used)
            shown = limit if limit is not None else 80
            headers.update({
                "x-ratelimit-limit": str(shown),
                "x-ratelimit-remaining": str(max(0, shown - len(window))),
                "x-ratelimit-reset": str(math.ceil(self.burst_window)),
            })
            return headers, None

    def _serve(self, version: str, resource: str, request: Request, headers: dict) -> Response:
        records = self.data.entities.get(resource, [])
        if resource in V1_UNPAGED:
            return self._json({"success": True, "data": [self._public(r) for r in records]}, headers)
        try:
            limit = int(request.args.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return _envelope_error(400, "limit must be an integer", headers=headers)
        if limit < 1 or limit > MAX_LIMIT:
            return _envelope_error(400, f"limit must be between 1 and {MAX_LIMIT}", headers=headers)
        if resource in V1_PAGED:
            if resource == "recents":
                if not request.args.get("since_timestamp"):
                    return _envelope_error(400, "since_timestamp is required", headers=headers)
                records = self.records.recents(request.args.get("since_timestamp"), request.args.get("items"), self._public)
            start = int(request.args.get("start", 0) or 0)
            page = records[start : start + limit]
            more = start + limit < len(records)
            pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
            if more:
                pagination["next_start"] = start + limit
            data = page if resource == "recents" else [self._public(r) for r in page]
            return self._json({"success": True, "data": data, "additional_data": {"pagination": pagination}}, headers)
        cursor = request.args.get("cursor")
        sort_by = request.args.get("sort_by", "id")
        if sort_by not in SORT_KEYS:
            return _envelope_error(400, f"sort_by must be one of {', '.join(SORT_KEYS)}", headers=headers)
        since = request.args.get("updated_since")
        if since:
            try:
                since = time_key(since)
            except ValueError:
                return _envelope_error(400, "updated_since must be RFC3339", headers=headers)
        status = request.args.get("status") if resource == "deals" else None
        keys, view = self.records.view(resource, sort_by, since, status)
        start = 0
        if cursor:
            position = decode_cursor(resource, cursor, self.records.cursor_generation)
            if position is None:
                return _envelope_error(400, "Invalid cursor", headers=headers)
            start = bisect.bisect_right(keys, position)
        page = view[start : start + limit]
        more = start + limit < len(view)
        include = set(filter(None, request.args.get("include_fields", "").split(",")))
        data = [self._public(r, include) for r in page]
        next_cursor = encode_cursor(resource, list(keys[start + limit - 1]), self.records.cursor_generation) if more else None
        return self._json({"success": True, "data": data, "additional_data": {"next_cursor": next_cursor}}, headers)

    @staticmethod
    def _public(record: dict, include: set | None = None) -> dict:
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        if include and "last_activity_id" in include and "_last_activity_id" in record:
            out["last_activity_id"] = record["_last_activity_id"][0]
        return out

    @staticmethod
    def _json(body: dict, headers: dict) -> Response:
        return Response(json.dumps(body, default=str), status=200, mimetype="application/json", headers=headers)


def start_sandbox(tenant: Any, *, token: str = "sandbox-token", rate_limit: int | None = None, **kwargs) -> SandboxHandle:
    """Serve ``tenant`` as Pipedrive on 127.0.0.1 (an ephemeral port) in a daemon thread.

    kwargs: ``burst_window`` (s, default 2), ``daily_budget`` (tokens, default 1,000,000),
    ``daily_used`` (tokens already spent today by others), ``fault_retry_after`` (s, the
    Retry-After of an injected 429), ``slow_seconds`` (delay of an injected slow response).
    """
    app = PipedriveSandbox(tenant, token=token, rate_limit=rate_limit, **kwargs)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="pipedrive-sandbox", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return SandboxHandle(
        url=url,
        options={"api_token": token, "base_url": url},
        stop=stop,
        requests=app.requests,
        inject=app.inject,
        read_only_posts=(),
        extra={"app": app, "data": app.data},
    )


def _envelope_error(status: int, message: str, headers: dict | None = None, **extra) -> Response:
    body = {"success": False, "error": message, "error_info": ERROR_INFO, "data": None, "additional_data": None}
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers or {})


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # the request log is ours, not stderr's
        pass

    def log(self, *args, **kwargs):
        pass
