"""The Mailchimp sandbox's HTTP side, on the kit's :class:`SandboxApp`: the Marketing API
3.0 routes an audit reads, Mailchimp's auth (HTTP Basic with any user name and the API key
as the password, or an OAuth ``Authorization: Bearer`` token), its ``fields`` /
``exclude_fields`` response filter, ``count`` / ``offset`` paging (``count`` at most 1,000)
and its error documents (``application/problem+json``: ``type``, ``title``, ``status``,
``detail``, ``instance``). Sources: docs/probes/mailchimp.md.

Routes (GET only; anything else is a logged 405, so tests can assert an audit wrote nothing):

* ``/3.0/ping``;
* ``/3.0/lists`` and ``/3.0/lists/{list_id}`` (the audience with its ``stats``);
* ``/3.0/lists/{list_id}/members`` (``status`` filter, ``total_items``);
* ``/3.0/reports`` (campaign reports, ``type`` filter);
* ``/3.0/reporting/surveys`` and ``/3.0/reporting/surveys/{survey_id}``.

The request log, faults, rate window and server are the base's; ``start_sandbox`` serves it
on 127.0.0.1 and returns a handle whose ``options`` configure the probe.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from crm_audit_core.connector import SandboxHandle
from crm_audit_core.sandbox.server import SandboxApp, start

from .account import STATUSES, Audience, MailchimpAccount

PREFIX = "/3.0"
MAX_COUNT = 1000
DEFAULT_COUNT = 10
ERRORS_URL = "https://mailchimp.com/developer/marketing/docs/errors/"
SANDBOX_KEY = "0123456789abcdef0123456789abcdef-us21"  # Mailchimp's shape: 32 hex, a dash, the data center


def problem(status: int, title: str, detail: str, headers: dict | None = None) -> Response:
    """Mailchimp's error document (RFC 7807 problem details)."""
    body = {"type": ERRORS_URL, "title": title, "status": status, "detail": detail, "instance": str(uuid.uuid4())}
    return Response(json.dumps(body), status=status, headers=headers or {},
                    content_type="application/problem+json; charset=utf-8")


def select_fields(body: Any, fields: str | None, exclude: str | None) -> Any:
    """Mailchimp's ``fields`` / ``exclude_fields``: comma-separated dotted paths kept or dropped."""
    if fields:
        body = _keep(body, [f.strip().split(".") for f in fields.split(",") if f.strip()])
    if exclude:
        for path in (f.strip().split(".") for f in exclude.split(",") if f.strip()):
            _drop(body, path)
    return body


def _keep(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_keep(v, paths) for v in value]
    if not isinstance(value, dict) or any(not p for p in paths):
        return value
    out = {}
    for key in dict.fromkeys(p[0] for p in paths):
        if key in value:
            out[key] = _keep(value[key], [p[1:] for p in paths if p[0] == key])
    return out


def _drop(value: Any, path: list[str]) -> None:
    if isinstance(value, list):
        for v in value:
            _drop(v, path)
    elif isinstance(value, dict) and path:
        if len(path) == 1:
            value.pop(path[0], None)
        elif path[0] in value:
            _drop(value[path[0]], path[1:])


class MailchimpSandbox(SandboxApp):
    """One emulated Mailchimp account. Keywords: ``api_key`` (the key Basic auth must
    carry), ``access_token`` (an OAuth token also accepted), ``extra_audiences`` (names of
    further, empty audiences) and the base's ``rate_limit`` / ``rate_window`` /
    ``slow_seconds``."""

    vendor = "mailchimp"

    def __init__(self, tenant: Any, *, api_key: str = SANDBOX_KEY, access_token: str | None = None,
                 extra_audiences: tuple[str, ...] = (), rate_limit: int | None = None, rate_window: float = 1.0,
                 slow_seconds: float = 2.0):
        super().__init__(rate_limit=rate_limit, rate_window=rate_window, slow_seconds=slow_seconds)
        self.account = MailchimpAccount(tenant, extra_audiences=tuple(extra_audiences))
        self.api_key = api_key
        self.tokens = {t for t in (api_key, access_token) if t}

    # -- auth --------------------------------------------------------------------------

    @staticmethod
    def _credential(request: Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value.strip()).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                return None
        if scheme.lower() in ("bearer", "apikey", "oauth"):
            return value.strip()
        return None

    def authenticate(self, request: Request) -> Response | None:
        credential = self._credential(request)
        if credential is None:
            return problem(401, "API Key Missing", "Your request did not include an API key.")
        if credential not in self.tokens:
            return problem(401, "API Key Invalid",
                           "Your API key may be invalid, or you've attempted to access the wrong datacenter.")
        return None

    def expire_token(self, request: Request) -> None:
        self.tokens.discard(self._credential(request))

    def window_key(self, request: Request) -> Any:
        return self._credential(request)

    def rate_limited(self, request: Request, policy: str, reset: float) -> Response:
        return problem(429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")

    def fault_response(self, kind: str, request: Request) -> Response:
        if kind == "429":
            return self.rate_limited(request, "window", self.rate_window)
        if kind == "500":
            return problem(500, "Internal Server Error", "An unexpected internal error has occurred.")
        return problem(503, "Service Unavailable", "This service is temporarily unavailable.")

    # -- routes ------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        if request.method != "GET":
            return problem(405, "Method Not Allowed", "The requested method and resource are not compatible. "
                           "See the Allow header for this resource's available methods.", {"Allow": "GET"})
        path = request.path.rstrip("/")
        if not path.startswith(PREFIX + "/"):
            return self._not_found()
        parts = path[len(PREFIX) + 1:].split("/")
        args = request.args
        try:
            count = int(args.get("count", DEFAULT_COUNT))
            offset = int(args.get("offset", 0))
        except ValueError:
            return problem(400, "Invalid Resource", "The resource submitted could not be validated: "
                           "count and offset must be whole numbers.")
        if count > MAX_COUNT or count < 0 or offset < 0:
            return problem(400, "Invalid Resource", f"The resource submitted could not be validated: count must be "
                           f"from 0 to {MAX_COUNT}, got {count}.")
        body = self._body(parts, args, count, offset)
        if body is None:
            return self._not_found()
        if isinstance(body, Response):
            return body
        return self.json(select_fields(body, args.get("fields"), args.get("exclude_fields")),
                         content_type="application/json; charset=utf-8")

    def _body(self, parts: list[str], args, count: int, offset: int) -> Any:
        account = self.account
        if parts == ["ping"]:
            return {"health_status": "Everything's Chimpy!"}
        if parts == ["lists"]:
            items = account.audiences[offset:offset + count]
            total_contacts = args.get("include_total_contacts", "").lower() == "true"
            return {"lists": [audience_body(a, total_contacts) for a in items],
                    "total_items": len(account.audiences), "constraints": {"may_create": True,
                                                                           "max_instances": 1,
                                                                           "current_total_instances": len(account.audiences)}}
        if parts[0] == "lists" and len(parts) >= 2:
            audience = account.audience(parts[1])
            if audience is None:
                return None
            if len(parts) == 2:
                return audience_body(audience, args.get("include_total_contacts", "").lower() == "true")
            if parts[2:] == ["members"]:
                status = args.get("status") or None
                if status is not None and status not in STATUSES:
                    return problem(400, "Invalid Resource", f"The resource submitted could not be validated: "
                                   f"status must be one of {', '.join(STATUSES)}, got '{status}'.")
                members, total = audience.members(status, offset, count)
                return {"members": members, "list_id": audience.id, "total_items": total}
            return None
        if parts == ["reports"]:
            kind = args.get("type")
            reports = [r for r in account.reports if not kind or r["type"] == kind]
            return {"reports": reports[offset:offset + count], "total_items": len(reports)}
        if parts[:2] == ["reporting", "surveys"]:
            if len(parts) == 2:
                return {"surveys": account.surveys[offset:offset + count], "total_items": len(account.surveys)}
            if len(parts) == 3:
                return next((s for s in account.surveys if s["id"] == parts[2]), None)
        return None

    @staticmethod
    def _not_found() -> Response:
        return problem(404, "Resource Not Found", "The requested resource could not be found.")


def audience_body(audience: Audience, total_contacts: bool = False) -> dict:
    """An audience as GET /lists/{list_id} gives it (the fields an audit reads)."""
    counts = audience.counts
    stats = {"member_count": counts["subscribed"], "unsubscribe_count": counts["unsubscribed"],
             "cleaned_count": counts["cleaned"], "member_count_since_send": 0, "unsubscribe_count_since_send": 0,
             "cleaned_count_since_send": 0, "campaign_count": 0, "merge_field_count": 2}
    if total_contacts:  # approximate in Mailchimp: subscribed, unsubscribed and transactional
        stats["total_contacts"] = counts["subscribed"] + counts["unsubscribed"] + counts["transactional"]
    return {"id": audience.id, "web_id": audience.web_id, "name": audience.name,
            "date_created": audience.created_at, "list_rating": 3, "visibility": "prv",
            "double_optin": False, "stats": stats}


def start_sandbox(tenant: Any = None, **kwargs) -> SandboxHandle:
    """Serve a Mailchimp account built from ``tenant`` on 127.0.0.1. The handle's ``options``
    configure the probe (``api_key`` and ``base_url``); ``extra["audiences"]`` holds the
    audiences' ids and names, ``extra["list_id"]`` the main audience's id. Keywords go to
    :class:`MailchimpSandbox`."""
    app = MailchimpSandbox(tenant, **kwargs)
    audiences = {a.id: a.name for a in app.account.audiences}

    def options(served) -> dict:
        return {"api_key": app.api_key, "base_url": f"{served.url}{PREFIX}"}

    return start(app, options, extra={"audiences": audiences, "list_id": app.account.audiences[0].id})
