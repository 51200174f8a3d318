"""The sandbox base: what every emulated CRM does the same way.

A vendor's sandbox (``crm_audit_<crm>/sandbox``) subclasses :class:`SandboxApp` and keeps
only what is the vendor's: its auth, URL routes, JSON shapes, error bodies and rate-limit
headers. The base owns, with one meaning for every sandbox:

* the **request log** (:attr:`SandboxApp.requests`): one dict per request with ``method``,
  ``path`` (no query string), ``query`` (a dict), ``status`` (0 for a dropped connection)
  and ``url_length``;
* the **fault queue** (:meth:`SandboxApp.inject`, :data:`~crm_audit_core.connector.FAULT_KINDS`):
  ``inject(kind, times=1, path_contains=None, after=0, method=None, match=None)`` makes the
  next ``times`` matching requests fail, once ``after`` matching requests went through.
  A request that matches no armed fault looks at the next one in the queue;
* what each fault does: ``drop`` shuts the socket with no answer; ``slow`` answers after
  ``slow_seconds``; ``truncated`` sends half the body under the full ``Content-Length`` and
  closes the connection; ``malformed`` answers 200 with a cut JSON body; ``expire-token``
  makes the request's token invalid from now on (the vendor's :meth:`expire_token`);
  ``429``, ``500`` and ``503`` answer with the vendor's own body (:meth:`fault_response`);
* the **rate window** (``rate_limit`` calls per ``rate_window`` seconds, counted on arrival,
  per :meth:`window_key`) and the **daily allowance** (``daily_limit``, ``daily_used``), both
  metered by :meth:`meter` at :meth:`call_cost` units per request;
* the **server**: :func:`start` serves the app on 127.0.0.1 (an ephemeral port), over TLS
  with a throwaway trustme CA when asked, with a quiet request handler, and returns a
  :class:`~crm_audit_core.connector.SandboxHandle`.

The request pipeline (:meth:`SandboxApp.dispatch`) is: take a fault -> drop / slow /
expire-token -> :meth:`authenticate` -> injected 429/5xx -> :meth:`meter` -> :meth:`route`
-> limit headers -> malformed / truncated.

Sandboxes are read-only emulators: the mutation API (:meth:`put_record`,
:meth:`delete_record`) is for tests that change the tenant between two audits, never
reachable over HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from ..connector import FAULT_KINDS, SandboxHandle

ENTRY_KEY = "crm_audit.sandbox.log_entry"  # the request's log entry, in its WSGI environ
WINDOW = "window"  # the rate window is full
DAILY = "daily"  # the daily allowance is spent


# ---------------------------------------------------------------------------------------
# tenant rows


def tenant_rows(tenant: Any, table: str) -> list[dict]:
    """The rows of ``table`` of a generated tenant (or a plain ``{table: rows}`` dict), as
    dicts the caller may change; [] when the tenant has no such table. A generated tenant's
    rows are made fresh from Arrow on each call, so they are not copied again (a 1M-contact
    tenant's rows held twice would double a builder's peak)."""
    if tenant is None:
        return []
    if isinstance(tenant, dict):
        return [dict(r) for r in tenant.get(table) or []]
    tables = getattr(tenant, "tables", None) or {}
    if table not in tables:
        return []
    return tenant.rows(table)


def iter_tenant_rows(tenant: Any, table: str, batch: int = 10_000) -> Iterator[dict]:
    """The rows of a big table one Arrow batch at a time (a 1M-contact tenant's rows as
    Python dicts all at once would hold gigabytes next to the vendor records built from them)."""
    tables = getattr(tenant, "tables", None)
    if tenant is None or isinstance(tenant, dict) or table not in (tables or {}):
        yield from tenant_rows(tenant, table)
        return
    for chunk in tables[table].to_batches(max_chunksize=batch):
        yield from chunk.to_pylist()


# ---------------------------------------------------------------------------------------
# faults and counters


@dataclass
class Fault:
    kind: str
    times: int = 1
    path_contains: str | None = None
    after: int = 0
    method: str | None = None
    match: Callable[[Request], bool] | None = None

    def matches(self, request: Request) -> bool:
        return (self.times > 0
                and (self.path_contains is None or self.path_contains in request.path)
                and (self.method is None or self.method.upper() == request.method)
                and (self.match is None or bool(self.match(request))))


class RateWindow:
    """At most ``limit`` requests per ``seconds`` (sliding, counted on arrival), per key."""

    def __init__(self, limit: int | None, seconds: float):
        self.limit = limit
        self.seconds = seconds
        self._arrivals: dict[Any, deque] = {}

    def admit(self, key: Any = None, now: float | None = None) -> tuple[bool, int | None, float]:
        """Count a request if the window has room: (admitted, remaining, seconds to reset)."""
        if not self.limit:
            return True, None, self.seconds
        now = time.monotonic() if now is None else now
        window = self._arrivals.setdefault(key, deque())
        while window and now - window[0] >= self.seconds:
            window.popleft()
        if len(window) >= self.limit:
            return False, 0, max(0.01, self.seconds - (now - window[0]))
        window.append(now)
        return True, self.limit - len(window), self.seconds - (now - window[0])


class _QuietHandler(WSGIRequestHandler):
    """The request log is the app's; keep stderr clean (also of dropped connections)."""

    def log_request(self, *args, **kwargs) -> None:
        pass

    def log_error(self, *args, **kwargs) -> None:
        pass

    def log(self, *args, **kwargs) -> None:
        pass


# ---------------------------------------------------------------------------------------
# the app


class SandboxApp:
    """Base WSGI app of an emulated CRM (see the module docstring).

    Keywords, the same in every sandbox: ``rate_limit`` / ``rate_window`` (None: no window),
    ``daily_limit`` / ``daily_used`` (None: no daily allowance), ``slow_seconds`` (the
    ``slow`` fault), ``retry_after`` (the Retry-After of an injected 429, when the vendor
    sends one), ``max_url_length`` (longer request URIs get :meth:`uri_too_long`).
    """

    vendor = "sandbox"

    def __init__(self, *, rate_limit: int | None = None, rate_window: float = 1.0,
                 daily_limit: int | None = None, daily_used: int = 0, slow_seconds: float = 2.0,
                 retry_after: float | None = None, max_url_length: int | None = None):
        self.requests: list[dict] = []
        self.faults: list[Fault] = []
        self.window = RateWindow(rate_limit, rate_window)
        self.daily_limit = daily_limit
        self.daily_used = daily_used
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.max_url_length = max_url_length
        self.lock = threading.RLock()
        self._spend_after: int | None = None

    # -- settings the vendors read -----------------------------------------------------

    @property
    def rate_limit(self) -> int | None:
        """Calls allowed per rate window (None: no window)."""
        return self.window.limit

    @property
    def rate_window(self) -> float:
        """The rate window's length in seconds."""
        return self.window.seconds

    @property
    def daily_remaining(self) -> int | None:
        """Units of the daily allowance left (None: no allowance)."""
        return None if self.daily_limit is None else max(0, self.daily_limit - self.daily_used)

    # -- faults ------------------------------------------------------------------------

    def inject(self, kind: str, times: int = 1, path_contains: str | None = None, after: int = 0,
               method: str | None = None, match: Callable[[Request], bool] | None = None) -> None:
        """Fail the next ``times`` matching requests with ``kind``, once ``after`` matching
        requests went through. ``path_contains``: a substring of the path; ``method``: only
        that HTTP method; ``match(request)``: a vendor-specific test (e.g. the queried object)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if times < 1 or after < 0:
            raise ValueError("times must be at least 1 and after at least 0")
        with self.lock:
            self.faults.append(Fault(kind, times, path_contains, after, method, match))

    def take_fault(self, request: Request) -> str | None:
        """The fault for this request, if one is armed for it (see :meth:`inject`)."""
        with self.lock:
            for fault in self.faults:
                if not fault.matches(request):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    continue  # this one lets the request through; a later fault may take it
                fault.times -= 1
                self.faults = [f for f in self.faults if f.times > 0]
                return fault.kind
        return None

    def spend_daily_allowance(self, after: int = 0) -> None:
        """Others spend the whole daily allowance, now or after ``after`` more counted calls."""
        with self.lock:
            if after <= 0:
                self.daily_used = max(self.daily_used, self.daily_limit or 0)
                self._spend_after = None
            else:
                self._spend_after = after

    # -- vendor hooks ------------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        """None when the request's credentials are good, else the vendor's 401 answer."""
        return None

    def expire_token(self, request: Request) -> None:
        """The ``expire-token`` fault: the request's token stops being valid from now on."""

    def fault_response(self, kind: str, request: Request) -> Response:
        """The vendor's answer for an injected ``429``, ``500`` or ``503``."""
        headers = {"Retry-After": str(self.retry_after)} if kind == "429" and self.retry_after is not None else {}
        return self.json({"error": f"injected {kind}"}, int(kind), headers)

    def call_cost(self, request: Request) -> int:
        """Units of the daily allowance this request costs (0: not metered, e.g. a login)."""
        return 1

    def window_key(self, request: Request) -> Any:
        """Whose rate window the request counts in (None: one window for all)."""
        return None

    def rate_limited(self, request: Request, policy: str, reset: float) -> Response:
        """The vendor's answer when the window is full (``WINDOW``) or the daily allowance
        is spent (``DAILY``); ``reset``: seconds until the window has room."""
        return self.json({"error": "rate limited", "policy": policy}, 429, {"Retry-After": f"{reset:.2f}"})

    def limit_headers(self, request: Request, remaining: int | None, reset: float) -> dict:
        """Rate-limit headers of an answered request (``remaining``: room left in the window)."""
        return {}

    def uri_too_long(self, request: Request) -> Response:
        """The answer to a request URI over ``max_url_length`` (414)."""
        return Response("<html><body><h1>414 Request-URI Too Large</h1></body></html>", status=414,
                        content_type="text/html", headers={"Connection": "close"})

    def route(self, request: Request) -> Response:
        """Answer a request that passed auth and metering (the vendor's URL routes)."""
        raise NotImplementedError

    def malformed_body(self, body: bytes) -> bytes:
        """The ``malformed`` fault's body: JSON cut short (what a proxy error page or a broken
        gateway gives with status 200)."""
        return (body[: max(1, min(len(body) // 3, 40))] or b"{") + b'{"'

    # -- mutation API (tests that change the tenant between two audits) -----------------

    def put_record(self, table: str, row: dict, when: Any = None) -> Any:
        """Create or update a canonical ``row`` of ``table``, modified at ``when`` (default now)."""
        raise NotImplementedError(f"the {self.vendor} sandbox cannot change {table}")

    def delete_record(self, table: str, record_id: str, when: Any = None) -> Any:
        """Delete a record of ``table`` (kept where the vendor keeps deleted records)."""
        raise NotImplementedError(f"the {self.vendor} sandbox cannot delete from {table}")

    # -- helpers for vendors -----------------------------------------------------------

    @staticmethod
    def json(body: Any, status: int = 200, headers: dict | None = None,
             content_type: str = "application/json;charset=utf-8") -> Response:
        """A JSON response (a vendor's helper for its routes and error bodies)."""
        return Response(json.dumps(body, default=str), status=status, headers=headers or {},
                        content_type=content_type)

    # -- the pipeline ------------------------------------------------------------------

    def log_entry(self, request: Request, environ: dict) -> dict:
        """The request log's entry for a request (a vendor may add keys; see :meth:`entry`)."""
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or (
            request.path + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""))
        return {"method": request.method, "path": request.path, "query": request.args.to_dict(),
                "status": None, "url_length": len(raw)}

    @staticmethod
    def entry(request: Request) -> dict:
        """The log entry of the request being answered, for a route to note what it served
        (e.g. the object and records of a query page)."""
        return request.environ.get(ENTRY_KEY, {})

    def __call__(self, environ, start_response):
        request = Request(environ)
        entry = self.log_entry(request, environ)
        environ[ENTRY_KEY] = entry
        with self.lock:
            self.requests.append(entry)
        response = self.dispatch(request, entry)
        if response is None:  # the drop fault: no answer at all
            entry["status"] = 0
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            # werkzeug takes a ConnectionError as the client going away: quietly, no traceback
            raise ConnectionResetError("the sandbox dropped the connection (drop fault)")
        entry["status"] = response.status_code
        return response(environ, start_response)

    def dispatch(self, request: Request, entry: dict) -> Response | None:
        """The request pipeline (see the module docstring); None for a dropped connection."""
        fault = self.take_fault(request)
        if fault == "drop":
            return None
        if fault == "slow":
            time.sleep(self.slow_seconds)
        if fault == "expire-token":
            with self.lock:
                self.expire_token(request)
        if self.max_url_length is not None and entry["url_length"] > self.max_url_length:
            return self.uri_too_long(request)
        denied = self.authenticate(request)
        if denied is not None:
            return denied
        if fault in ("429", "500", "503"):
            return self.fault_response(fault, request)
        refused, headers = self.meter(request)
        if refused is not None:
            return refused
        response = self.route(request)
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        if 200 <= response.status_code < 300:
            if fault == "malformed":
                response.set_data(self.malformed_body(response.get_data()))
            elif fault == "truncated":
                body = response.get_data()
                response.set_data(body[: max(1, len(body) // 2)])
                response.headers["Content-Length"] = str(len(body))  # promise the whole body
                response.headers["Connection"] = "close"
        return response

    def meter(self, request: Request) -> tuple[Response | None, dict]:
        """Count the request in its rate window and the daily allowance: (refusal or None,
        limit headers for the answer)."""
        cost = self.call_cost(request)
        if cost <= 0:
            return None, {}
        with self.lock:
            if self._spend_after is not None:
                if self._spend_after <= 0:
                    self.daily_used, self._spend_after = max(self.daily_used, self.daily_limit or 0), None
                else:
                    self._spend_after -= 1
            if self.daily_limit is not None and self.daily_used + cost > self.daily_limit:
                return self.rate_limited(request, DAILY, self.window.seconds), {}
            admitted, remaining, reset = self.window.admit(self.window_key(request))
            if not admitted:
                return self.rate_limited(request, WINDOW, reset), {}
            self.daily_used += cost
            return None, self.limit_headers(request, remaining, reset)


# ---------------------------------------------------------------------------------------
# the server


@dataclass
class Served:
    url: str
    stop: Callable[[], None]
    ca_bundle: str | None = None
    port: int = 0
    threads: list = field(default_factory=list)


def serve(app: Any, *, tls: bool = False, name: str = "sandbox", host: str = "127.0.0.1") -> Served:
    """Serve a WSGI ``app`` on ``host`` (an ephemeral port) in a daemon thread.

    ``tls=True``: HTTPS with a certificate for 127.0.0.1/localhost from a throwaway trustme
    CA, whose PEM is written to a temporary file (``Served.ca_bundle``) removed on stop."""
    context = None
    folder = None
    ca_path = None
    if tls:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        folder = tempfile.mkdtemp(prefix=f"crm-audit-{name}-")
        ca_path = os.path.join(folder, "ca.pem")
        ca.cert_pem.write_to_path(ca_path)
    server = make_server(host, 0, app, threaded=True, ssl_context=context, request_handler=_QuietHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"{name}-sandbox",
                              daemon=True)
    thread.start()
    scheme = "https" if tls else "http"
    url = f"{scheme}://{host}:{server.server_port}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        if folder:
            shutil.rmtree(folder, ignore_errors=True)

    return Served(url=url, stop=stop, ca_bundle=ca_path, port=server.server_port, threads=[thread])


def start(app: SandboxApp, options: Callable[[Served], dict], *, tls: bool = False,
          read_only_posts: tuple[str, ...] | Callable[[Served], tuple[str, ...]] = (),
          extra: dict | None = None) -> SandboxHandle:
    """Serve a vendor's :class:`SandboxApp` and hand back its :class:`SandboxHandle`.

    ``options(served)``: the connector options that point the connector at it (base URL,
    token, CA bundle, ...). ``read_only_posts``: method+path prefixes that are reads despite
    the POST (search, batch reads, query jobs)."""
    served = serve(app, tls=tls, name=app.vendor)
    posts = read_only_posts(served) if callable(read_only_posts) else read_only_posts
    return SandboxHandle(url=served.url, options=options(served), stop=served.stop, requests=app.requests,
                         inject=app.inject, read_only_posts=tuple(posts), extra=dict(extra or {}), app=app,
                         ca_bundle=served.ca_bundle)
