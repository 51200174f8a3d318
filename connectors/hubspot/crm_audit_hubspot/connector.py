"""Reads a HubSpot portal into the canonical schema through hubspot-api-client.

This module is the orchestration: the options (kit.Options), the call policy (kit.CallPolicy:
budget guard, the limiter of the ten-second window, retries) and the transport that sends
through it (transport.py), the order of the tables (tables.py: account, users, stages, fields,
campaigns; records.py: companies, contacts, deals and activities, resumable and
incremental; security.py: permissions, oauth_grants, audit_trail), the platform row, and
the factory the plugin registers.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from crm_audit_core.connector import ExtractContext
from crm_audit_core.kit import BudgetGuard, CallPolicy, CallStats, Option, Options, RateLimiter

from . import mapping
from .apps import AppTracker, read_list_memberships, write_integrations
from .i18n import _
from .records import RECORD_TABLES, RecordReader, aware
from .security import has_table, read_audit_trail, write_grants, write_permissions
from .tables import read_account, read_campaigns, read_fields, read_people, read_stages, read_users
from .transport import HubSpotTransport

DEFAULT_BASE_URL = "https://api.hubapi.com"
# HubSpot keeps deleted (archived) records, listed with archived=true, for 90 days: an
# incremental audit whose previous audit is older cannot see every deletion and reads in full.
ARCHIVE_DAYS = 89
TOKEN_ENV = ("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_TOKEN")

OPTIONS = {
    "access_token": Option("Private-app (or OAuth) access token; default: $HUBSPOT_ACCESS_TOKEN or $HUBSPOT_TOKEN",
                           secret=True),
    "base_url": f"API root (default {DEFAULT_BASE_URL})",
    "budget_share": "Share of the daily API allowance the audit may use, 0 to 1 (default 0.2)",
    "rate_limit": "Calls allowed per rate_window seconds, client side (default 100, HubSpot's lowest tier)",
    "rate_window": "Seconds of the rate-limit window (default 10)",
    "timeout": "Seconds to wait for one response (default 60)",
    "retry_attempts": "Attempts per call on 429/5xx/connection errors (default 6)",
    "retry_base_delay": "First backoff delay in seconds (default 0.5)",
    "retry_max_delay": "Longest backoff delay in seconds (default 60)",
    "max_url_length": "Longest request line sent; longer property lists go into batch-read bodies (default 7000)",
    "portal_id": "Portal (hub) id, for links into HubSpot in fix-lists",
    "ui_domain": "HubSpot UI domain for links (default app.hubspot.com)",
}

# What HubSpot's API does not give (key "table" or "table.column": one sentence naming the
# vendor limitation and where the page explains it). The runner puts the sentence into the
# reason of each check it skips; declared on ConnectorInfo(limitations=...) in plugin.py.
DOC = "docs/connectors/hubspot.md#what-the-api-does-not-give"
LIMITATIONS = {
    "users.mfa_enabled": _("HubSpot's users API does not say whether a user has two-factor authentication "
                           "turned on ({page})", page=DOC),
    "platform.api_version_latest": _("HubSpot's API does not name its latest API version: since March 2026 its "
                                     "versions are release dates in the path (such as 2026-03), published each "
                                     "March and September on its versioning page, and no endpoint lists them or "
                                     "says which one an account or app uses ({page})", page=DOC),
    "platform.api_versions_deprecated": _("HubSpot's API does not list its unsupported API versions: a date "
                                          "version is unsupported 18 months after its release and the numbered "
                                          "v1 to v4 paths from September 2027, as its versioning page and "
                                          "migration guide say, and no endpoint reports them ({page})", page=DOC),
    "integrations.kind": _("HubSpot's records name the app that created them but not what kind of app it is, and "
                           "no API lists the apps connected to an account ({page})", page=DOC),
    "integrations.created_at": _("HubSpot has no API that says when an app was connected to the account ({page})",
                                 page=DOC),
    "integrations.records_reported": _("HubSpot does not know how many records the other system holds: that count "
                                       "comes from a probe of the other system ({page})", page=DOC),
    "security_settings": _("HubSpot publishes no API for its security settings (password policy, required "
                           "two-factor authentication, single sign-on) nor a security score: they are shown only in "
                           "the account's security settings ({page})", page=DOC),
    "packages": _("HubSpot has no API that lists the apps installed from its marketplace or their versions ({page})",
                  page=DOC),
}


class HubSpotConnector:
    """One extraction of a HubSpot portal (``info.factory`` builds it from the tenant's options)."""

    def __init__(self, options: dict, context: ExtractContext | None = None):
        self.context = context
        opts = Options(options, "hubspot")
        token = opts.secret("access_token", env=TOKEN_ENV, required=True,
                            hint=_("a private-app token 'pat-…' of the portal"))
        self.base_url = (opts.text("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.max_url_length = opts.integer("max_url_length", 7000, minimum=200)
        self.stats = CallStats()
        rate_window = opts.duration("rate_window", 10.0)
        policy = CallPolicy(
            "HubSpot", "hubspot", stats=self.stats,
            limiter=RateLimiter(opts.integer("rate_limit", 100, minimum=1), rate_window, stats=self.stats),
            budget=BudgetGuard(opts.number("budget_share", 0.2, minimum=0, maximum=1), crm="HubSpot"),
            attempts=opts.integer("retry_attempts", 6, minimum=1),
            base_delay=opts.duration("retry_base_delay", 0.5), max_delay=opts.duration("retry_max_delay", 60.0))
        self.transport = HubSpotTransport(token, self.base_url, timeout=opts.duration("timeout", 60.0),
                                          policy=policy)
        self.notes: list[str] = []

    # ------------------------------------------------------------------ protocol

    def api_calls(self) -> int:
        return self.stats.calls

    def extract(self, sink) -> None:
        """Read the portal into ``sink``.

        Resumable: tables an interrupted run completed are skipped; record tables
        (companies, contacts, deals, activities) continue from their last checkpoint, one
        per association chunk (1,000 records). Incremental (``context.previous``): record
        tables are read through the search endpoint filtered on the last-modified date,
        deletions come from the archived lists, the rest is carried forward.
        """
        transport = self.transport

        def note(message: str) -> None:
            self.notes.append(message)
            sink.note(message)

        previous = self._previous(note)
        details, daily_limit = read_account(transport, note)
        people = None
        if not (sink.is_complete("users") and sink.is_complete("login_events")):
            people = read_users(transport, sink, note)
        security = [t for t in ("permissions", "audit_trail") if has_table(t) and not sink.is_complete(t)]
        if security and people is None:  # resumed after users were stored
            people = read_people(transport, note)
        if "permissions" in security:
            write_permissions(sink, None if people.settings_users is None else list(people.settings_users.values()),
                              people.owner_of_user, people.refused, note)
        if "audit_trail" in security:
            read_audit_trail(transport, sink, note, people.owner_of_user, self._as_of())
        if not sink.is_complete("stages"):
            read_stages(transport, sink)
        custom_types = read_fields(transport, sink)
        segments = None if sink.is_complete("contacts") else read_list_memberships(transport, note)
        apps = AppTracker()
        records = RecordReader(transport, sink, note, max_url_length=self.max_url_length,
                               tenant=self.context.tenant if self.context else sink.tenant,
                               segments=segments, apps=apps)
        for table in (*RECORD_TABLES, "activities"):
            records.read_table(table, custom_types, previous)
        if not sink.is_complete("integrations"):
            write_integrations(transport, sink, apps, self._as_of(), previous)
        if has_table("oauth_grants") and not sink.is_complete("oauth_grants"):
            write_grants(sink, RECORD_TABLES)
        if not sink.is_complete("campaigns"):
            read_campaigns(transport, sink, note)
        if not sink.is_complete("platform"):
            daily_limit = daily_limit or transport.budget.limit
            sink.write("platform", [mapping.account_to_row(details, daily_limit)])
            sink.complete("platform")

    def _as_of(self) -> datetime:
        as_of = getattr(self.context, "as_of", None) or datetime.now(timezone.utc)
        return aware(as_of)

    def _previous(self, note):
        """The previous snapshot to build on, or None for a full read."""
        previous = getattr(self.context, "previous", None)
        if previous is None:
            return None
        since = aware(previous.since)
        if since < datetime.now(timezone.utc) - timedelta(days=ARCHIVE_DAYS):
            note(_("incremental audit not possible: the previous audit ({date}) is older than the {days} days "
                   "HubSpot keeps deleted records; read in full", date=since.strftime("%Y-%m-%d"),
                   days=ARCHIVE_DAYS + 1))
            return None
        return previous


def record_url(options: dict, object_name: str, record_id: str) -> str | None:
    """A link into HubSpot's UI (needs option ``portal_id``; app.hubspot.com unless ``ui_domain``)."""
    portal = options.get("portal_id")
    if not portal or not record_id:
        return None
    # The object as a check names it (a canonical table: "contacts") or in the singular.
    kinds = {"contact": "0-1", "contacts": "0-1", "company": "0-2", "companies": "0-2", "deal": "0-3", "deals": "0-3"}
    kind = kinds.get(object_name)
    if kind is None:
        return None
    domain = options.get("ui_domain") or "app.hubspot.com"
    return f"https://{domain}/contacts/{portal}/record/{kind}/{record_id}"


def create_connector(options: dict, context: ExtractContext) -> HubSpotConnector:
    return HubSpotConnector(options, context)
