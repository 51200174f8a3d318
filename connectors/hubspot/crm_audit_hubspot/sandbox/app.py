"""The sandbox's WSGI app: HubSpot's REST API over a HubSpotData portal (store.py).

It speaks what hubspot-api-client 12 and the connector use (shared/CRM-APIS.md section 2):
Bearer auth with HubSpot's 401 body, ``/crm/v3/objects`` list/batch-read/search,
``/crm/v3/properties``, owners, settings users and roles, deal pipelines, v4 association
batch reads, account details, daily API usage, login activity, the audit log
(``/account-info/v3/activity/audit-logs``, from the tenant's ``audit_trail``), marketing emails, and
lists (``POST /crm/v3/lists/search``, ``GET /crm/v3/lists/{listId}/memberships``).
Paging is HubSpot's: ``paging.next.after`` while more pages exist and no ``paging`` at all
on the last page; page sizes above HubSpot's maximums are refused with 400; search stops
at 10,000 results; a request line longer than ``max_url_length`` gets 414. Rate limits
(``rate_limit`` calls per ``rate_window`` seconds, and ``daily_limit``) answer 429 with
HubSpot's body and ``X-HubSpot-RateLimit-*`` headers. The request log, the faults and the
counters are the sandbox base's (crm_audit_core.sandbox.server.SandboxApp).

``start_sandbox`` serves it on 127.0.0.1 and returns the SandboxHandle.
"""

from __future__ import annotations

import bisect
import json
import uuid
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Request, Response

from crm_audit_core.connector import SandboxHandle
from crm_audit_core.sandbox.server import DAILY, SandboxApp, start

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
READ_ONLY_POSTS = ("/crm/v3/objects/", "/crm/v4/associations/", "/crm/associations/v4/", "/crm/v3/lists/search")
LIST_SEARCH_MAX = 500  # POST /crm/v3/lists/search `count`
LIST_SEARCH_DEFAULT = 20
MEMBERSHIP_MAX = 250  # GET /crm/v3/lists/{listId}/memberships `limit`

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
EXPIRED_MESSAGE = "The OAuth token used to make this call expired 0 second(s) ago."


def _now() -> str:
    return mapping.format_time(datetime.now(timezone.utc))


class HubSpotSandbox(SandboxApp):
    """HubSpot's API on the sandbox base: auth, routes, JSON shapes, error bodies and the
    ``X-HubSpot-RateLimit-*`` headers (the request log, faults, rate window and daily
    counters are the base's)."""

    vendor = "hubspot"

    def __init__(self, tenant: Any, *, token: str = "sandbox-token", rate_limit: int | None = None,
                 rate_window: float = 10.0, daily_limit: int | None = None, daily_used: int = 0,
                 max_url_length: int = 8192, extra_properties: int = 0, slow_seconds: float = 2.0,
                 login_history: bool = True, marketing: bool = True, lists: bool = True,
                 audit_logs: bool = True, settings_users: bool = True,
                 edition: str | None = None, retry_after: float | None = None):
        self.data = HubSpotData(tenant, extra_properties=extra_properties, edition=edition,
                                login_history=login_history, marketing=marketing, lists=lists,
                                audit_logs=audit_logs)
        self.settings_users = settings_users
        super().__init__(rate_limit=rate_limit, rate_window=rate_window,
                         daily_limit=daily_limit or self.data.daily_limit, daily_used=daily_used,
                         slow_seconds=slow_seconds, retry_after=retry_after, max_url_length=max_url_length)
        self.token = token
        self.token_expired = False

    # ------------------------------------------------------------------ mutations

    def put_record(self, table: str, row: dict, when: datetime | None = None) -> dict:
        """Create or update a record (canonical row of contacts/companies/deals/activities),
        stamped modified ``when`` (default now): what a user or an integration does between
        two audits."""
        with self.lock:
            return self.data.put_record(table, row, modified=when)

    def delete_record(self, table: str, record_id: str, when: datetime | None = None) -> None:
        """Delete (archive) a record; it is then listed with ``archived=true``."""
        with self.lock:
            self.data.delete_record(table, record_id, when=when)

    # ------------------------------------------------------------------ vendor hooks

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("Authorization", "") != f"Bearer {self.token}":
            return self._error(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE,
                               {"X-HubSpot-Auth-Failure": "401 Unauthorized"})
        if self.token_expired:
            return self._error(401, "EXPIRED_AUTHENTICATION", EXPIRED_MESSAGE,
                               {"X-HubSpot-Auth-Failure": "401 Unauthorized"})
        return None

    def expire_token(self, request: Request) -> None:
        self.token_expired = True

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            return self._rate_limited("TEN_SECONDLY_ROLLING")
        return self._error(int(kind), "INTERNAL_ERROR" if kind == "500" else "SERVICE_UNAVAILABLE",
                           "internal error" if kind == "500" else "Service Unavailable")

    def rate_limited(self, request: Request, policy: str, reset: float) -> Response:
        return self._rate_limited("DAILY" if policy == DAILY else "TEN_SECONDLY_ROLLING")

    def limit_headers(self, request: Request, remaining: int | None, reset: float) -> dict:
        if request.path.endswith("/search"):  # HubSpot's search answers carry no limit headers
            return {}
        return self._rate_headers(remaining)

    # ------------------------------------------------------------------ responses

    def _json(self, status: int, body: Any, headers: dict | None = None) -> Response:
        headers = dict(headers or {})
        headers.setdefault("X-HubSpot-Correlation-Id", str(uuid.uuid4()))
        return self.json(body, status, headers)

    def _error(self, status: int, category: str, message: str, headers: dict | None = None, **extra) -> Response:
        body = {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category}
        body.update(extra)
        return self._json(status, body, headers)

    def _rate_headers(self, remaining_window: int | None) -> dict:
        headers = {
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(self.daily_remaining),
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

    # ------------------------------------------------------------------ routes

    def route(self, request: Request) -> Response:
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
                    if not self.settings_users:
                        return self._missing_scopes("settings.users.read")
                    return self._page(self.data.users, request, maximum=100, default=100)
                if parts in (["settings", "v3", "users", "roles"], ["settings", "users", "v3", "roles"]):
                    if not self.settings_users:
                        return self._missing_scopes("settings.users.read")
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
                if parts == ["account-info", "v3", "activity", "audit-logs"]:
                    if not self.data.audit_logs:  # below Enterprise, or without the scope
                        return self._missing_scopes("account-info.security.read")
                    return self._page(self._audit_entries(request), request, maximum=200, default=100)
                if parts[:3] == ["crm", "v3", "lists"] and len(parts) == 5 and parts[4] == "memberships":
                    return self._list_members(parts[3], request)
                if parts == ["marketing", "v3", "emails"]:
                    if not self.data.marketing:
                        return self._error(403, "MISSING_SCOPES", "This app hasn't been granted all required "
                                           "scopes to make this call.")
                    return self._page(self.data.emails, request, maximum=100, default=100, total=True)
            elif method == "POST":
                if parts == ["crm", "v3", "lists", "search"]:
                    return self._search_lists(request)
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

    def _missing_scopes(self, scope: str) -> Response:
        return self._error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make "
                           "this call. Read more about required scopes here: https://developers.hubspot.com/scopes.",
                           errors=[{"message": "One or more of the following scopes are required.",
                                    "context": {"requiredScopes": [scope]}}])

    def _audit_entries(self, request: Request) -> list[dict]:
        """The audit log filtered on occurredAfter / occurredBefore (ISO 8601 or epoch ms)
        and actingUserId."""
        def bound(name: str) -> str | None:
            value = request.args.get(name)
            if not value:
                return None
            if value.isdigit():
                return mapping.format_time(datetime.fromtimestamp(int(value) / 1000, timezone.utc))
            return mapping.format_time(mapping.utc_datetime(value))

        after, before, user = bound("occurredAfter"), bound("occurredBefore"), request.args.get("actingUserId")
        return [e for e in self.data.audit_log
                if (after is None or (e["occurredAt"] or "") >= after)
                and (before is None or (e["occurredAt"] or "") <= before)
                and (user is None or str(e["actingUser"]["userId"]) == user)]

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
        with self.lock:
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
            return self._error(404, "OBJECT_NOT_FOUND", "Object not found.  objectId are usually numeric.")
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
        with self.lock:
            items = list(self.data.objects[object_type])
        items = filter_and_sort(items, body)
        props = self._requested(body.get("properties"), object_type)
        page = items[offset: min(offset + limit, SEARCH_CAP)]
        out: dict[str, Any] = {"total": len(items), "results": [self._shape(o, object_type, props) for o in page]}
        if offset + limit < len(items):
            out["paging"] = {"next": {"after": str(offset + limit)}}
        return self._json(200, out)

    def _search_lists(self, request: Request) -> Response:
        """``POST /crm/v3/lists/search``: lists whose name contains ``query``, ``count`` a
        page (at most 500), offset paging with ``hasMore``/``offset``."""
        if not self.data.lists_scope:
            return self._error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make "
                               "this call.", errors=[{"message": "One or more of the following scopes are required.",
                                                      "context": {"requiredScopes": ["crm.lists.read"]}}])
        body = self._body(request)
        count = self._limit(body.get("count"), LIST_SEARCH_DEFAULT, LIST_SEARCH_MAX)
        offset = int(body.get("offset") or 0)
        query = str(body.get("query") or "").lower()
        with self.lock:
            items = [dict(i, additionalProperties=dict(i["additionalProperties"])) for i in self.data.lists
                     if query in i["name"].lower()
                     and (not body.get("processingTypes") or i["processingType"] in body["processingTypes"])]
        page = items[offset: offset + count]
        return self._json(200, {"offset": offset + len(page), "hasMore": offset + count < len(items),
                                "lists": page, "total": len(items)})

    def _list_members(self, list_id: str, request: Request) -> Response:
        """``GET /crm/v3/lists/{listId}/memberships``: members in record id order, ``limit``
        at most 250, ``after`` = the last record id of the previous page."""
        if not self.data.lists_scope:
            return self._error(403, "MISSING_SCOPES", "This app hasn't been granted all required scopes to make "
                               "this call.")
        members = self.data.list_members.get(list_id)
        if members is None:
            return self._error(404, "OBJECT_NOT_FOUND", f"List {list_id} does not exist.")
        limit = self._limit(request.args.get("limit"), 100, MEMBERSHIP_MAX)
        after = request.args.get("after")
        with self.lock:
            keys = [id_key(m) for m in members]
            start = bisect.bisect_right(keys, id_key(after)) if after else 0
            page = members[start: start + limit]
            more = start + limit < len(members)
        body: dict[str, Any] = {"results": [{"recordId": m, "membershipTimestamp": "2021-01-01T00:00:00.000Z"}
                                            for m in page], "total": len(members)}
        if more:
            body["paging"] = {"next": {"after": page[-1], "link": f"?after={page[-1]}"}}
        return self._json(200, body)

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


def start_sandbox(tenant: Any, *, token: str = "sandbox-token", rate_limit: int | None = None,
                  **kwargs) -> SandboxHandle:
    """Serve ``tenant`` as HubSpot on 127.0.0.1 (an ephemeral port); ``handle.stop()`` ends it.

    Keywords: ``rate_limit`` / ``rate_window`` (calls per seconds, default none / 10),
    ``daily_limit`` (default: the edition's), ``daily_used``, ``slow_seconds``,
    ``retry_after`` (a Retry-After header on 429s), ``max_url_length`` (default 8192; longer
    request lines get 414), ``extra_properties`` (N padding custom properties on contacts,
    companies and deals), ``login_history`` / ``marketing`` (False: 403 as on lower tiers),
    ``lists`` (False: 403 as for a token without crm.lists.read),
    ``edition``.

    The handle's ``put_record(table, canonical_row, when=None)`` creates or updates a
    contacts/companies/deals/activities record (modified ``when``, default now) and
    ``delete_record(table, id, when=None)`` archives one (listed with ``archived=true``).
    """
    app = HubSpotSandbox(tenant, token=token, rate_limit=rate_limit, **kwargs)

    def options(served) -> dict:
        # portal_id: the sandbox's account-info portalId, so reports link its records like a real portal's.
        out: dict[str, Any] = {"access_token": token, "base_url": served.url, "portal_id": "12345678"}
        if rate_limit:
            out.update(rate_limit=rate_limit, rate_window=app.rate_window)
        return out

    return start(app, options, read_only_posts=READ_ONLY_POSTS)
