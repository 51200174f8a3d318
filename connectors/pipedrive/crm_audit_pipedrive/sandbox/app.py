"""The Pipedrive sandbox's HTTP side, on the kit's :class:`SandboxApp`: Pipedrive's auth
(``x-api-token``, ``?api_token=`` or ``Authorization: Bearer``), its v1 and v2 list routes,
success and error envelopes, the ``x-ratelimit-*`` burst headers and the
``x-daily-ratelimit-token-*`` daily token budget (v1 calls cost 20 tokens, v2 calls 10).
The request log, faults, rate window, daily counter and server are the base's.
``start_sandbox`` serves it on 127.0.0.1."""

from __future__ import annotations

import bisect
import math
import time
from datetime import datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from crm_audit_core.connector import SandboxHandle
from crm_audit_core.sandbox.server import DAILY, SandboxApp, start

from .. import mapping
from ..values import v2_time
from .company import PipedriveData
from .records import SORT_KEYS, CompanyRecords, decode_cursor, encode_cursor, time_key

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
V2_LISTS = (
    "persons", "organizations", "deals", "activities", "pipelines", "stages",
    "personFields", "organizationFields", "dealFields", "activityFields",
)
V1_PAGED = ("roles", "notes", "recents", "leads", "leads/archived")
V1_UNPAGED = ("users", "webhooks", "permissionSets")
V1_ONE = ("permissionSets",)  # GET /v1/<resource>/{id}
ADMIN_ONLY = ("permissionSets", "webhooks")  # what only a company admin's token may list
TOKEN_COST = {"v1": 20, "v2": 10}
ERROR_INFO = "Please check developers.pipedrive.com"
# The x-ratelimit-limit Pipedrive reports when the sandbox runs without a burst window.
SHOWN_BURST_LIMIT = 80
# Canonical table -> the Pipedrive entity put_record / delete_record change.
ENTITY_OF_TABLE = {"contacts": "persons", "companies": "organizations", "deals": "deals", "activities": "activities"}


class PipedriveSandbox(SandboxApp):
    """One emulated Pipedrive company. Keywords: ``token``; the base's ``rate_limit`` (burst
    requests per token), ``rate_window`` (s, default 2), ``daily_limit`` (API tokens a day,
    default 1,000,000), ``daily_used``, ``retry_after`` (s, of an injected 429) and
    ``slow_seconds``; ``admin`` (default True): False serves the token of a user who is no
    company admin, refused (403) the permission sets and the webhooks as Pipedrive does."""

    vendor = "pipedrive"

    def __init__(self, tenant: Any, *, token: str = "sandbox-token", rate_limit: int | None = None,
                 rate_window: float = 2.0, daily_limit: int | None = 1_000_000, daily_used: int = 0,
                 retry_after: float = 0.05, slow_seconds: float = 2.0, admin: bool = True):
        super().__init__(rate_limit=rate_limit, rate_window=rate_window, daily_limit=daily_limit,
                         daily_used=daily_used, slow_seconds=slow_seconds, retry_after=retry_after)
        self.data = PipedriveData(tenant)
        self.records = CompanyRecords(self.data)
        self.tokens = {token}
        self.token = token
        self.admin = admin

    # -- auth and metering -------------------------------------------------------------

    @staticmethod
    def _token_of(request: Request) -> str | None:
        token = request.headers.get("x-api-token") or request.args.get("api_token")
        auth = request.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        return token

    def authenticate(self, request: Request) -> Response | None:
        if self._token_of(request) in self.tokens:
            return None
        return envelope_error(401, "unauthorized access", errorCode=401)

    def expire_token(self, request: Request) -> None:
        self.tokens.discard(self._token_of(request))

    def call_cost(self, request: Request) -> int:
        return TOKEN_COST[route(request.path)[0]]

    def window_key(self, request: Request) -> Any:
        return self._token_of(request)

    def _daily_headers(self) -> dict:
        if self.daily_limit is None:
            return {}
        return {"x-daily-ratelimit-token-limit": str(self.daily_limit),
                "x-daily-ratelimit-token-remaining": str(self.daily_remaining)}

    def limit_headers(self, request: Request, remaining: int | None, reset: float) -> dict:
        headers = self._daily_headers()
        headers["x-ratelimit-limit"] = str(self.rate_limit or SHOWN_BURST_LIMIT)
        if remaining is not None:
            headers["x-ratelimit-remaining"] = str(remaining)
        headers["x-ratelimit-reset"] = str(math.ceil(self.rate_window))
        return headers

    def rate_limited(self, request: Request, policy: str, reset: float) -> Response:
        headers = self._daily_headers()
        if policy == DAILY:
            headers["x-daily-ratelimit-token-remaining"] = "0"
            headers["Retry-After"] = str(int(86400 - (time.time() % 86400)))  # midnight UTC
            return envelope_error(429, "Daily API token budget exceeded", headers=headers)
        headers.update({"x-ratelimit-limit": str(self.rate_limit), "x-ratelimit-remaining": "0",
                        "x-ratelimit-reset": f"{reset:.2f}", "Retry-After": f"{reset:.2f}"})
        return envelope_error(429, "Request over limit", headers=headers)

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            after = self.retry_after
            return envelope_error(429, "Too many requests", headers={
                **self._daily_headers(), "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(after),
                "Retry-After": str(after)})
        message = "Internal server error" if kind == "500" else "Requested service is not available"
        return envelope_error(int(kind), message)

    # -- routes ------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        if request.method != "GET":
            return envelope_error(405, "Method not allowed in the read-only sandbox")
        resource = route(request.path)[1]
        if resource is None:
            return envelope_error(404, f"Unknown method {request.path}")
        return self._serve(resource, request)

    def _serve(self, resource: str, request: Request) -> Response:
        records = self.data.entities.get(resource, [])
        if not self.admin and resource.split("/")[0] in ADMIN_ONLY:
            return envelope_error(403, "You do not have permission to access this resource", errorCode=403)
        if "/" in resource and resource.split("/")[0] in V1_ONE:
            kind, wanted = resource.split("/", 1)
            found = next((r for r in self.data.entities.get(kind, []) if str(r.get("id")) == wanted), None)
            if found is None:
                return envelope_error(404, f"{kind} {wanted} not found")
            return self.json({"success": True, "data": self._public(found)})
        if resource == "permissionSets":  # the list leaves out each set's contents
            return self.json({"success": True, "data": [
                {k: v for k, v in self._public(r).items() if k != "contents"} for r in records]})
        if resource in V1_UNPAGED:
            return self.json({"success": True, "data": [self._public(r) for r in records]})
        try:
            limit = int(request.args.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return envelope_error(400, "limit must be an integer")
        if limit < 1 or limit > MAX_LIMIT:
            return envelope_error(400, f"limit must be between 1 and {MAX_LIMIT}")
        if resource in V1_PAGED:
            if resource == "recents":
                if not request.args.get("since_timestamp"):
                    return envelope_error(400, "since_timestamp is required")
                records = self.records.recents(request.args.get("since_timestamp"), request.args.get("items"), self._public)
            start = int(request.args.get("start", 0) or 0)
            page = records[start : start + limit]
            more = start + limit < len(records)
            pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
            if more:
                pagination["next_start"] = start + limit
            data = page if resource == "recents" else [self._public(r) for r in page]
            return self.json({"success": True, "data": data, "additional_data": {"pagination": pagination}})
        cursor = request.args.get("cursor")
        sort_by = request.args.get("sort_by", "id")
        if sort_by not in SORT_KEYS:
            return envelope_error(400, f"sort_by must be one of {', '.join(SORT_KEYS)}")
        since = request.args.get("updated_since")
        if since:
            try:
                since = time_key(since)
            except ValueError:
                return envelope_error(400, "updated_since must be RFC3339")
        status = request.args.get("status") if resource == "deals" else None
        keys, view = self.records.view(resource, sort_by, since, status)
        start = 0
        if cursor:
            position = decode_cursor(resource, cursor, self.records.cursor_generation)
            if position is None:
                return envelope_error(400, "Invalid cursor")
            start = bisect.bisect_right(keys, position)
        page = view[start : start + limit]
        more = start + limit < len(view)
        include = set(filter(None, request.args.get("include_fields", "").split(",")))
        data = [self._public(r, include) for r in page]
        next_cursor = encode_cursor(resource, list(keys[start + limit - 1]), self.records.cursor_generation) if more else None
        return self.json({"success": True, "data": data, "additional_data": {"next_cursor": next_cursor}})

    @staticmethod
    def _public(record: dict, include: set | None = None) -> dict:
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        if include and "last_activity_id" in include and "_last_activity_id" in record:
            out["last_activity_id"] = record["_last_activity_id"][0]
        return out

    # -- the company changes between two audits (tests) --------------------------------

    def put_record(self, table: str, row: dict, when: Any = None) -> dict:
        """Create or update a canonical contact, company, deal or activity (a note when its
        type is ``note``), modified at ``when`` (default now)."""
        entity, record = self._record_of(table, row)
        if entity in ("persons", "organizations"):
            with self.records.lock:
                self.data.add_lead("person" if entity == "persons" else "organization", row)
        return self.records.put(entity, record, _when(when))

    def delete_record(self, table: str, record_id: str, when: Any = None) -> dict:
        """Delete a contact, company, deal or activity (``note-<id>``: a note)."""
        entity = self._entity(table)
        rid = str(record_id)
        if entity == "activities" and rid.startswith(mapping.NOTE_ID_PREFIX):
            entity, rid = "notes", rid.removeprefix(mapping.NOTE_ID_PREFIX)
        return self.records.delete(entity, rid, _when(when))

    def _entity(self, table: str) -> str:
        if table not in ENTITY_OF_TABLE:
            raise NotImplementedError(f"the pipedrive sandbox cannot change {table}; it changes "
                                      f"{', '.join(ENTITY_OF_TABLE)}")
        return ENTITY_OF_TABLE[table]

    def _record_of(self, table: str, row: dict) -> tuple[str, dict]:
        entity = self._entity(table)
        data = self.data
        if entity == "persons":
            label_ids = data.options.get("contacts", {}).get("label_ids", {})
            record = mapping.row_to_person(row, data.custom_fields("contacts", row), label_ids)
        elif entity == "organizations":
            record = mapping.row_to_organization(row, data.custom_fields("companies", row))
        elif entity == "deals":
            stage = data.stage_id(row)
            record = mapping.row_to_deal(row, data.custom_fields("deals", row), data.pipeline_id(row), stage)
        elif row.get("type") == "note":
            return "notes", mapping.row_to_note(row)
        else:
            fields = data.custom["activities"]
            record = mapping.row_to_activity(row, data.custom_fields("activities", row) if fields else None)
        if entity in ("persons", "deals"):
            kept = self.records.get(entity, record["id"])
            record["_last_activity_id"] = kept.get("_last_activity_id") if kept else (None, row.get("last_activity_at"))
        return entity, record


def route(path: str) -> tuple[str, str | None]:
    """(API version, list resource or None for an unknown path) of a request path."""
    parts = [p for p in path.split("/") if p]
    if len(parts) == 3 and parts[0] == "api" and parts[1] == "v2" and parts[2] in V2_LISTS:
        return "v2", parts[2]
    if len(parts) in (3, 4) and parts[0] == "api" and parts[1] == "v1" and "/".join(parts[2:]) in V1_PAGED + V1_UNPAGED:
        return "v1", "/".join(parts[2:])
    if len(parts) in (2, 3) and parts[0] == "v1" and "/".join(parts[1:]) in V1_PAGED + V1_UNPAGED:
        return "v1", "/".join(parts[1:])
    tail = parts[2:] if parts[:2] == ["api", "v1"] else parts[1:] if parts[:1] == ["v1"] else []
    if len(tail) == 2 and tail[0] in V1_ONE:
        return "v1", "/".join(tail)
    if parts[:2] == ["api", "v2"]:
        return "v2", None
    return "v1", None


def envelope_error(status: int, message: str, headers: dict | None = None, **extra) -> Response:
    """Pipedrive's error envelope."""
    body = {"success": False, "error": message, "error_info": ERROR_INFO, "data": None, "additional_data": None}
    body.update(extra)
    return SandboxApp.json(body, status, headers, content_type="application/json")


def _when(when: Any) -> str | None:
    if when is None:
        return None
    return v2_time(when) if isinstance(when, datetime) else str(when)


def start_sandbox(tenant: Any, *, token: str = "sandbox-token", tls: bool = False, **kwargs) -> SandboxHandle:
    """Serve ``tenant`` as Pipedrive on 127.0.0.1 (an ephemeral port); keywords as
    :class:`PipedriveSandbox`. ``tls=True``: HTTPS with a throwaway CA (``handle.ca_bundle``)."""
    app = PipedriveSandbox(tenant, token=token, **kwargs)

    def options(served) -> dict:
        out = {"api_token": token, "base_url": served.url}
        if served.ca_bundle:
            out["ca_bundle"] = served.ca_bundle
        return out

    return start(app, options, tls=tls)
