"""The Xero sandbox's HTTP side, on the kit's :class:`SandboxApp`.

Routes (one host serves what Xero splits over identity.xero.com and api.xero.com):

* ``POST /connect/token``: the client credentials grant of a custom connection (form
  fields ``grant_type``, ``client_id``, ``client_secret``); a wrong client answers 400
  ``{"error": "invalid_client"}``. Not metered: token requests do not count against the
  API limits;
* ``GET /connections``: the one organisation the connection may read;
* ``GET /api.xro/2.0/Contacts`` and ``/Invoices``: ``page`` / ``pageSize`` (at most 1,000),
  ``summaryOnly``, ``includeArchived``, ``Statuses`` (invoices) and a ``where`` filter of
  ``Field=="value"`` clauses joined by ``AND``; the response envelope with ``pagination``
  when ``page`` is given; ``GET /api.xro/2.0/Organisation``.

Auth: ``Authorization: Bearer`` with a token this sandbox issued (or the ``access_token``
it was started with); the accounting routes also need a ``xero-tenant-id`` header naming
its organisation: anything else answers 403 ``AuthenticationUnsuccessful`` as Xero does.
Limits: 60 calls a minute per organisation and 5,000 a day, reported in
``X-MinLimit-Remaining`` / ``X-DayLimit-Remaining``; a 429 carries ``Retry-After`` and
``X-Rate-Limit-Problem`` (``minute`` or ``day``). Anything but a GET (or the token POST)
answers 405: the sandbox is read-only, and the request log shows the attempt.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from crm_audit_core.connector import SandboxHandle
from crm_audit_core.sandbox.server import DAILY, SandboxApp, start

from .organisation import Organisation, ms_date

API = "/api.xro/2.0"
TOKEN_PATH = "/connect/token"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 100
APP_MINUTE_LIMIT = 10_000
TOKEN_SECONDS = 1800
WHERE_CLAUSE = re.compile(r'^\s*([A-Za-z]+)\s*==\s*(?:"([^"]*)"|(true|false))\s*$', re.I)
FILTERABLE = {"contacts": ("ContactStatus", "IsCustomer", "IsSupplier", "Name"), "invoices": ("Type", "Status")}


class XeroSandbox(SandboxApp):
    """One emulated Xero organisation for a generated tenant. Keywords: ``integration`` (the
    CRM integration whose records it holds, default "Accounting Sync"), ``client_id`` /
    ``client_secret`` (the custom connection), ``access_token`` (also accepted as a bearer
    token), and the base's ``rate_limit`` (default 60) per ``rate_window`` (default 60 s),
    ``daily_limit`` (default 5,000), ``retry_after`` and ``slow_seconds``."""

    vendor = "xero"

    def __init__(self, tenant: Any, *, integration: str = "Accounting Sync", client_id: str = "sandbox-client-id",
                 client_secret: str = "sandbox-client-secret", access_token: str | None = None,
                 rate_limit: int | None = 60, rate_window: float = 60.0, daily_limit: int | None = 5000,
                 daily_used: int = 0, retry_after: float = 1.0, slow_seconds: float = 2.0):
        super().__init__(rate_limit=rate_limit, rate_window=rate_window, daily_limit=daily_limit,
                         daily_used=daily_used, slow_seconds=slow_seconds, retry_after=retry_after)
        self.organisation = Organisation(tenant, integration)
        self.client_id = client_id
        self.client_secret = client_secret
        self.tokens: set[str] = {access_token} if access_token else set()

    # -- auth and metering -------------------------------------------------------------

    @staticmethod
    def _bearer(request: Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def authenticate(self, request: Request) -> Response | None:
        if request.path == TOKEN_PATH:
            return None
        if self._bearer(request) not in self.tokens:
            return problem(401, "Unauthorized", "AuthenticationUnsuccessful")
        if request.path.startswith(API) and request.headers.get("xero-tenant-id") != self.organisation.tenant_id:
            return problem(403, "Forbidden", "AuthenticationUnsuccessful")
        return None

    def expire_token(self, request: Request) -> None:
        self.tokens.discard(self._bearer(request))

    def call_cost(self, request: Request) -> int:
        return 0 if request.path == TOKEN_PATH else 1

    def window_key(self, request: Request) -> Any:
        return request.headers.get("xero-tenant-id")

    def _limit_headers(self, minute_remaining: int | None) -> dict:
        headers = {"X-AppMinLimit-Remaining": str(APP_MINUTE_LIMIT - 1)}
        if self.daily_limit is not None:
            headers["X-DayLimit-Remaining"] = str(self.daily_remaining)
        if minute_remaining is not None:
            headers["X-MinLimit-Remaining"] = str(minute_remaining)
        return headers

    def limit_headers(self, request: Request, remaining: int | None, reset: float) -> dict:
        return self._limit_headers(remaining)

    def rate_limited(self, request: Request, policy: str, reset: float) -> Response:
        if policy == DAILY:
            wait, kind = int(86400 - time.time() % 86400), "day"
        else:
            wait, kind = max(1, round(reset)), "minute"
        headers = {**self._limit_headers(0 if kind == "minute" else None), "Retry-After": str(wait),
                   "X-Rate-Limit-Problem": kind}
        return problem(429, "Too Many Requests", f"Rate limit exceeded: {kind}", headers)

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            headers = {"Retry-After": f"{self.retry_after:g}", "X-Rate-Limit-Problem": "minute",
                       **self._limit_headers(0)}
            return problem(429, "Too Many Requests", "Rate limit exceeded: minute", headers)
        if kind == "503":
            return problem(503, "Service Unavailable", "The Xero API is temporarily unavailable")
        return problem(500, "Internal Server Error", "An error occurred in Xero")

    # -- routes ------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        if path == TOKEN_PATH:
            return self._token(request) if request.method == "POST" else problem(405, "Method Not Allowed", "POST only")
        if request.method != "GET":
            return problem(405, "Method Not Allowed", "The crm-audit Xero sandbox is read-only")
        lowered = path.lower()
        if lowered == "/connections":
            return self.json([self.organisation.connection()])
        if lowered == f"{API}/contacts".lower():
            return self._list(request, "contacts", "Contacts", self.organisation.contacts)
        if lowered == f"{API}/invoices".lower():
            return self._list(request, "invoices", "Invoices", self.organisation.invoices)
        if lowered == f"{API}/organisation".lower():
            org = self.organisation
            return self.json(envelope({"Organisations": [{"OrganisationID": org.tenant_id, "Name": org.name,
                                                          "OrganisationType": "COMPANY", "BaseCurrency": "USD"}]}))
        return problem(404, "Not Found", "The resource you're looking for cannot be found")

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return self.json({"error": "unsupported_grant_type"}, 400)
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return self.json({"error": "invalid_client"}, 400)
        token = secrets.token_urlsafe(32)
        with self.lock:
            self.tokens.add(token)
        return self.json({"access_token": token, "expires_in": TOKEN_SECONDS, "token_type": "Bearer",
                          "scope": "accounting.contacts.read accounting.transactions.read"})

    def _list(self, request: Request, kind: str, key: str, records: list[dict]) -> Response:
        args = request.args
        try:
            chosen = [r for r in records if _matches(r, _where(args.get("where"), kind))]
        except ValueError as exc:
            return validation_error(str(exc))
        if kind == "contacts" and args.get("includeArchived", "").lower() != "true":
            chosen = [r for r in chosen if r["ContactStatus"] != "ARCHIVED"]
        if kind == "invoices" and args.get("Statuses"):
            wanted = {s.strip().upper() for s in args["Statuses"].split(",") if s.strip()}
            chosen = [r for r in chosen if r["Status"] in wanted]
        body: dict = {}
        if args.get("page"):
            try:
                page = int(args["page"])
                size = int(args.get("pageSize") or DEFAULT_PAGE_SIZE)
            except ValueError:
                return validation_error("page and pageSize must be whole numbers")
            if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
                return validation_error(f"page must be at least 1 and pageSize from 1 to {MAX_PAGE_SIZE}")
            count = len(chosen)
            body["pagination"] = {"page": page, "pageSize": size, "pageCount": -(-count // size), "itemCount": count}
            chosen = chosen[(page - 1) * size: page * size]
        if args.get("summaryOnly", "").lower() == "true":
            chosen = [{k: v for k, v in r.items() if k not in ("Addresses", "Phones", "LineItems")} for r in chosen]
        body[key] = chosen
        return self.json(envelope(body))


def _where(text: str | None, kind: str) -> list[tuple[str, Any]]:
    """The ``where`` filter as (field, value) pairs: ``Field=="value"`` clauses joined by AND."""
    if not text:
        return []
    clauses = []
    for clause in re.split(r"\s+(?:AND|&&)\s+", text.strip(), flags=re.I):
        match = WHERE_CLAUSE.match(clause)
        if not match:
            raise ValueError(f"the sandbox reads only Field==\"value\" clauses joined by AND, not {clause!r}")
        name = match[1]
        field = next((f for f in FILTERABLE[kind] if f.lower() == name.lower()), None)
        if field is None:
            raise ValueError(f"No property or field '{name}' exists in type '{kind[:-1].title()}'")
        clauses.append((field, match[2] if match[2] is not None else match[3].lower() == "true"))
    return clauses


def _matches(record: dict, clauses: list[tuple[str, Any]]) -> bool:
    return all(record.get(f) == v if isinstance(v, bool) else str(record.get(f, "")).lower() == v.lower()
               for f, v in clauses)


def envelope(body: dict) -> dict:
    """Xero's response envelope around ``body``."""
    return {"Id": str(uuid.uuid4()), "Status": "OK", "ProviderName": "crm-audit sandbox",
            "DateTimeUTC": ms_date(datetime.now(timezone.utc)), **body}


def problem(status: int, title: str, detail: str, headers: dict | None = None) -> Response:
    """Xero's problem body: ``{"Type": null, "Title", "Status", "Detail", "Instance", "Extensions"}``."""
    body = {"Type": None, "Title": title, "Status": status, "Detail": detail, "Instance": str(uuid.uuid4()),
            "Extensions": {}}
    return SandboxApp.json(body, status, headers)


def validation_error(message: str) -> Response:
    """Xero's 400 for a request it cannot read."""
    return SandboxApp.json({"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}, 400)


def start_sandbox(tenant: Any, *, integration: str = "Accounting Sync", tls: bool = False, **kwargs) -> SandboxHandle:
    """Serve ``tenant``'s Xero organisation on 127.0.0.1 (an ephemeral port); keywords as
    :class:`XeroSandbox`. The handle's ``options`` configure the xero probe for it."""
    app = XeroSandbox(tenant, integration=integration, **kwargs)

    def options(served) -> dict:
        out = {"client_id": app.client_id, "client_secret": app.client_secret, "api_url": served.url,
               "identity_url": served.url, "integration": integration}
        if served.ca_bundle:
            out["ca_bundle"] = served.ca_bundle
        return out

    org = app.organisation
    return start(app, options, tls=tls, read_only_posts=(TOKEN_PATH,),
                 extra={"tenant_id": org.tenant_id, "synced_companies": org.synced_companies,
                        "won_deals": org.won_deals})
