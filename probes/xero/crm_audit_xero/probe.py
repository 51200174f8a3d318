"""The xero probe: how many records the CRM's accounting integration put into Xero.

It reads, with Xero's official client, from one organisation:

* the contacts that are not archived (``GET /api.xro/2.0/Contacts`` without
  ``includeArchived``: Xero leaves ARCHIVED contacts out unless asked) as ``records`` of
  object ``companies``: a CRM's accounting sync creates a Xero contact per company;
* the sales invoices (``Type=="ACCREC"``) whose status is AUTHORISED or PAID
  (``Statuses=AUTHORISED,PAID``) as ``records`` of object ``deals``: the sync invoices the
  deals the CRM won. Drafts, voided and deleted invoices and supplier bills (ACCPAY) are
  left out.

Both are counted page by page at the largest page size Xero allows (1,000) with
``summaryOnly=true``. Every call goes through the kit's :class:`CallPolicy`: at most 60
a minute (Xero's limit per organisation), at most ``budget_share`` of the day's 5,000
(from ``X-DayLimit-Remaining``), at most ``max_calls`` in all, retried on 429 (after
``Retry-After``), 5xx and dropped connections. Only GETs, plus the token request of a
custom connection. Sources: docs/probes/xero.md.
"""

from __future__ import annotations

from typing import Any, Callable

import urllib3

from crm_audit_core import ProbeContext, SyncCount
from crm_audit_core.errors import BudgetExhausted, ConnectorError
from crm_audit_core.kit import BudgetGuard, CallPolicy, Option, Options, RateLimiter, RetryableError

from .client import (DAILY_LIMIT, XERO_API_URL, XERO_IDENTITY_URL, TokenRefused, XeroClient, classify_error,
                     headers_of)
from .i18n import _

PAGE_SIZE = 1000
CONTACTS = "GET /api.xro/2.0/Contacts"
INVOICES = "GET /api.xro/2.0/Invoices"
CONNECTIONS = "GET /connections"
TOKEN = "POST /connect/token"
SALES_INVOICES = 'Type=="ACCREC"'
BOOKED_STATUSES = ["AUTHORISED", "PAID"]

OPTIONS = {
    "client_id": Option("Client id of a Xero custom connection (developer.xero.com, My Apps); with client_secret "
                        "the probe requests its own 30-minute tokens. One of client_id and client_secret, or "
                        "access_token, is needed.", secret=False),
    "client_secret": Option("Client secret of that custom connection (from the environment: "
                            "client_secret = \"${XERO_CLIENT_SECRET}\").", secret=True),
    "access_token": Option("An OAuth2 access token instead of a custom connection (Xero's expire after 30 "
                           "minutes; the probe does not refresh it).", secret=True),
    "tenant_id": "The Xero organisation to read (its tenantId); default: the only one GET /connections lists.",
    "integration": "The CRM integration these counts speak for, as the CRM's records name it in source_detail "
                   "(default 'Xero').",
    "page_size": "Records per page (default and maximum 1000).",
    "timeout": "Seconds to wait for one answer (default 30).",
    "rate_limit": "Calls per minute the probe allows itself (default 60, Xero's limit per organisation).",
    "max_calls": "Most calls the probe makes in one audit (default 200).",
    "budget_share": "Largest share of the organisation's 5,000 calls a day the probe may use (default 0.2).",
    "retry_attempts": "Attempts per call on 429, 5xx and connection errors (default 4).",
    "retry_base_delay": "Base of the exponential backoff in seconds (default 0.5).",
    "retry_max_delay": "Longest backoff between attempts in seconds (default 30).",
    "api_url": f"Xero's API host (default {XERO_API_URL}); a sandbox's URL in tests and the demo.",
    "identity_url": f"Xero's identity server, for the token request (default {XERO_IDENTITY_URL}).",
    "verify": "TLS verification: true, false or a CA bundle path (default true).",
    "ca_bundle": "A CA bundle file to trust (a TLS-intercepting proxy's or a sandbox's).",
}


class XeroProbe:
    """One configured xero probe (see the module docstring). ``read(context)`` returns the
    two counts; ``api_calls`` says how many calls it made."""

    def __init__(self, options: dict, context: ProbeContext | None = None):
        opts = Options(options, "xero", kind="probe")
        client_id = opts.text("client_id")
        client_secret = opts.secret("client_secret")
        access_token = opts.secret("access_token")
        if not access_token and not (client_id and client_secret):
            name = "client_secret" if client_id else "client_id"
            raise opts.missing(name, "with client_id and client_secret of a custom connection, or access_token",
                               hint='set client_secret = "${XERO_CLIENT_SECRET}" in [tenants.<name>.probes.xero]')
        self.integration = opts.text("integration", "Xero")
        self.tenant_id = opts.text("tenant_id")
        self.page_size = opts.integer("page_size", PAGE_SIZE, minimum=1, maximum=PAGE_SIZE)
        self.timeout = opts.duration("timeout", 30.0, minimum=0.05)
        self.max_calls = opts.integer("max_calls", 200, minimum=1)
        self.api_url = (opts.text("api_url") or XERO_API_URL).rstrip("/")
        self.client = XeroClient(api_url=self.api_url, identity_url=opts.text("identity_url") or XERO_IDENTITY_URL,
                                 client_id=client_id if client_secret else None, client_secret=client_secret,
                                 access_token=access_token, verify=opts.verify(), timeout=self.timeout)
        self.budget = BudgetGuard(opts.number("budget_share", 0.2, minimum=0.01, maximum=1.0), crm="Xero")
        self.policy = CallPolicy(
            "Xero", self.api_url,
            limiter=RateLimiter(opts.integer("rate_limit", 60, minimum=1), 60.0),
            budget=self.budget,
            attempts=opts.integer("retry_attempts", 4, minimum=1, maximum=20),
            base_delay=opts.duration("retry_base_delay", 0.5),
            max_delay=opts.duration("retry_max_delay", 30.0),
        )
        if context is not None:
            self.policy.progress = context.progress

    @property
    def api_calls(self) -> int:
        """Calls made so far (token requests included)."""
        return self.policy.stats.calls

    def close(self) -> None:
        self.client.close()

    # -- the counts --------------------------------------------------------------------

    def read(self, context: ProbeContext) -> list[SyncCount]:
        """The organisation's contacts and booked sales invoices, as two SyncCounts."""
        if context is not None and getattr(context, "progress", None) is not None:
            self.policy.progress = context.progress
        tenant_id, organisation = self._organisation()
        accounting = self.client.accounting
        timeout = self.client.timeout
        contacts = self._count(CONTACTS, "contacts", lambda page: accounting.get_contacts(
            tenant_id, page=page, page_size=self.page_size, summary_only=True,
            _return_http_data_only=False, _request_timeout=timeout))
        invoices = self._count(INVOICES, "invoices", lambda page: accounting.get_invoices(
            tenant_id, where=SALES_INVOICES, statuses=BOOKED_STATUSES, page=page, page_size=self.page_size,
            summary_only=True, _return_http_data_only=False, _request_timeout=timeout))
        return [
            SyncCount(self.integration, "companies", "records", contacts,
                      source=f"Xero contacts that are not archived in organisation '{organisation}' ({CONTACTS})"),
            # invoices are booked for won deals: compared with the CRM's won deals (measure "won")
            SyncCount(self.integration, "deals", "won", invoices,
                      source=f"Xero sales invoices (ACCREC) with status AUTHORISED or PAID in organisation "
                             f"'{organisation}' ({INVOICES}?Statuses=AUTHORISED,PAID)"),
        ]

    def _organisation(self) -> tuple[str, str]:
        """(tenantId, name) of the organisation to read: ``tenant_id`` if the connection may
        read it, else the only organisation the connection lists."""
        data, _status, _headers = self._call(CONNECTIONS, lambda: self.client.identity.get_connections(
            _return_http_data_only=False, _request_timeout=self.client.timeout))
        connections = [c for c in data or [] if (c.tenant_type or "ORGANISATION") == "ORGANISATION"]
        listed = "; ".join(f"'{c.tenant_name}' ({c.tenant_id})" for c in connections) or "none"
        if self.tenant_id:
            match = next((c for c in connections if str(c.tenant_id).lower() == self.tenant_id.lower()), None)
            if match is None:
                raise ConnectorError(
                    _("Xero organisation {tenant_id} (option tenant_id) is not one this connection may "
                      "read; it may read {n}: {listed}", tenant_id=repr(self.tenant_id), n=len(connections),
                      listed=listed), where=self.api_url,
                    hint=_("set tenant_id to one of those tenantIds, or leave it unset when there is only one"))
            return str(match.tenant_id), match.tenant_name or str(match.tenant_id)
        if len(connections) != 1:
            if connections:
                hint = _("set tenant_id in [tenants.<name>.probes.xero]")
            else:
                hint = _("connect the app to the organisation in Xero (Settings, Connected apps)")
            raise ConnectorError(
                _("the connection may read {n} Xero organisations ({listed}) and option "
                  "tenant_id does not say which to count", n=len(connections), listed=listed),
                where=self.api_url, hint=hint)
        only = connections[0]
        return str(only.tenant_id), only.tenant_name or str(only.tenant_id)

    def _count(self, what: str, key: str, page_of: Callable[[int], Any]) -> int:
        """Records of a paged list, counted page by page until a short or the last page."""
        total, page = 0, 1
        while True:
            data, _status, _headers = self._call(f"{what} page {page}", lambda: page_of(page))
            records = getattr(data, key, None) or []
            total += len(records)
            pagination = getattr(data, "pagination", None)
            pages = getattr(pagination, "page_count", None)
            if len(records) < self.page_size or (pages is not None and page >= pages):
                return total
            page += 1

    # -- one call, through the policy --------------------------------------------------

    def _call(self, what: str, send: Callable[[], Any]) -> Any:
        """One GET (an answer ``(data, status, headers)``), with a token first when needed
        and once more with a new token when a custom connection's token was refused."""
        self._ensure_token()
        try:
            return self._through_policy(what, send)
        except TokenRefused:
            if not self.client.uses_client_credentials:
                raise
            self.client.token = {}  # refused before it expired (revoked): one new token, one more try
            self._ensure_token()
            return self._through_policy(what, send)

    def _through_policy(self, what: str, send: Callable[[], Any]) -> Any:
        def once():
            if self.api_calls >= self.max_calls:
                raise BudgetExhausted(_("stopped after {spent} calls: option max_calls of the xero probe "
                                        "allows {allowed}", spent=self.api_calls, allowed=self.max_calls),
                                      where=self.api_url, hint=_("raise max_calls"))
            answer = self.policy.send(what, self._timed(what, send), status_of=lambda a: a[1])
            remaining = headers_of(answer[2]).get("x-daylimit-remaining")
            if remaining is not None and str(remaining).isdigit():
                self.budget.observe(limit=DAILY_LIMIT, remaining=int(remaining))
            return answer

        return self.policy.retry(what, once, lambda exc: classify_error(what, exc, where=self.api_url))

    def _ensure_token(self) -> None:
        if not self.client.uses_client_credentials or not self.client.token_expiring():
            return
        self.policy.retry(TOKEN, lambda: self.policy.send(TOKEN, self._timed(TOKEN, self.client.request_token),
                                                          guarded=False, status_of=lambda _: 200),
                          lambda exc: classify_error(TOKEN, exc, where=self.api_url,
                                                                     token_request=True))

    def _timed(self, what: str, send: Callable[[], Any]) -> Callable[[], Any]:
        def timed():
            try:
                return send()
            except urllib3.exceptions.TimeoutError:
                raise RetryableError(_("Xero did not answer within {seconds} seconds (option timeout)",
                                       seconds=format(self.timeout, "g")),
                                     where=self.api_url) from None

        return timed


def create_probe(options: dict, context: ProbeContext | None = None) -> XeroProbe:
    """The probe's factory: parses the options, touches no network."""
    return XeroProbe(options, context)
