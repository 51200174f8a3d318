"""Reads a Salesforce org into the canonical schema with simple-salesforce: the connector
that parses its options (the kit's ``Options``), logs in, picks the API version and runs
the table readers.

The rooms around it: :mod:`.auth` (the three login modes), :mod:`.transport` (every HTTP
call through the kit's ``CallPolicy``: budget guard fed by ``Sforce-Limit-Info``, rate
limit, retries, and ``classify_error`` for simple-salesforce's exceptions),
:mod:`.soql` (building queries, splitting field lists that would be too long),
:mod:`.reading` (one object's records through REST or Bulk API 2.0), :mod:`.tables` (the
readers of each canonical table), :mod:`.incremental` (resumable and incremental reads of
a table on the kit's ``TableReader``) and :mod:`.mapping` (``<entity>_to_row``).

One ``limits/recordCount`` call at the start gives the approximate size of every record
object at once, which picks REST or Bulk per object (:mod:`.reading`). The connector never
writes: Bulk query-job creation is its only POST.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlparse

from simple_salesforce import Salesforce

from crm_audit_core.errors import ConfigError, ConnectorError
from crm_audit_core.kit import (
    BudgetGuard,
    CallPolicy,
    CallStats,
    Option,
    Options,
    RateLimiter,
    RetryableError,
    Unavailable,
)

from . import integrations
from . import mapping as m
from . import security, tables
from .auth import auth_mode, client_kwargs, endpoint
from .i18n import _
from .reading import ObjectReader, ReadSettings
from .transport import OPTIONAL, Calls

UTC = timezone.utc

OPTIONS = {
    "instance_url": Option("https://<mydomain>.my.salesforce.com (session-id mode; optional for JWT)"),
    "session_id": Option("an OAuth access token or session id (session-id mode)", secret=True),
    "username": Option("Salesforce username (password and JWT modes)"),
    "password": Option("password (password mode)"),
    "security_token": Option("the user's security token (password mode; may be empty for trusted IP ranges)"),
    "consumer_key": Option("connected app consumer key, its public client id (JWT bearer mode)", secret=False),
    "private_key": Option("PEM private key whose certificate is on the connected app (JWT mode)"),
    "private_key_file": Option("path to that PEM key, instead of private_key"),
    "domain": Option("login domain: 'login' (production, default), 'test' (sandbox org) or a My Domain prefix"),
    "sandbox": Option("true for a sandbox org (same as domain = 'test')"),
    "api_version": Option("API version to use, e.g. '62.0' (default: the newest the org offers)"),
    "ca_bundle": Option("path to a CA bundle to trust (for proxies or the local sandbox)"),
    "verify": Option("false to skip TLS verification (not recommended), or a CA bundle path"),
    "login_url": Option("send logins to this base URL instead of https://<domain>.salesforce.com"),
    "bulk_threshold": Option("objects with more records than this are read with Bulk API 2.0 (default 10000)"),
    "bulk": Option("false to never use Bulk API 2.0"),
    "batch_size": Option("REST query batch size, 200..2000 (default 2000)"),
    "bulk_page_size": Option("records per Bulk 2.0 result page (default 50000)"),
    "bulk_poll_seconds": Option("seconds between Bulk job status polls (default 2)"),
    "max_url_length": Option("longest query URL to send before splitting the field list (default 16000)"),
    "max_soql_length": Option("longest SOQL statement before splitting (default 100000)"),
    "budget_share": Option("share of the org's daily API requests the audit may use (default 0.2)"),
    "rate_limit": Option("client-side limit: calls per rate_window (default none)"),
    "rate_window": Option("seconds of the client-side rate window (default 1)"),
    "retry_attempts": Option("attempts per call on 5xx, throttling and connection errors (default 6)"),
    "retry_base_delay": Option("first backoff delay in seconds (default 0.5)"),
    "retry_max_delay": Option("longest backoff delay in seconds (default 30)"),
    "timeout": Option("seconds to wait for one HTTP response (default 120)"),
    "login_history_days": Option("days of LoginHistory to read (default 180)"),
    "audit_trail_days": Option("days of the Setup Audit Trail to read (default 365; Salesforce keeps at least 180)"),
    "lifecycle_field": Option("Contact field holding the lifecycle stage (default Lifecycle_Stage__c)"),
    "lead_status_field": Option("Contact field holding a lead status (default Lead_Status__c)"),
    "segments_field": Option("Contact/Lead multi-select picklist of segments (default Segments__c)"),
    "source_detail_field": Option("field naming the integration that created a record (default Source_Detail__c)"),
    "loss_reason_field": Option("Opportunity loss-reason field (default: detected, e.g. Loss_Reason__c)"),
    "lead_account_field": Option("Lead lookup to an Account (default Account__c), read as the lead's company_id"),
    "segment_campaign_types": Option("Campaign types that are lists (segments), not marketing campaigns: "
                                     "';'-separated (default 'List')"),
}

# The objects read in full, whose approximate size (limits/recordCount) picks REST or Bulk.
COUNTED_OBJECTS = ("User", "LoginHistory", "Account", "Contact", "Lead", "Opportunity", "Task", "Event", "Campaign",
                   "CampaignMember")
RECORD_COUNT_SINCE = 40.0  # limits/recordCount exists from API version 40.0


def credentials(o: Options) -> dict:
    """The login options, secrets registered (masked everywhere) as they are read."""
    creds = {name: o.text(name) for name in ("instance_url", "username", "consumer_key", "private_key_file",
                                             "login_url")}
    creds.update({name: o.secret(name) for name in ("session_id", "password", "security_token", "private_key")})
    if creds["security_token"] is None and o.values.get("security_token") == "":
        creds["security_token"] = ""  # an org that trusts the caller's IP range needs no token
    return creds


class SalesforceConnector:
    """One org, read once per audit (see the module docstring)."""

    def __init__(self, options: dict, context: Any = None):
        o = Options(options, "salesforce")
        self.options = o
        self.context = context
        self.credentials = credentials(o)
        self.mode = auth_mode(self.credentials)
        self.domain = "test" if o.boolean("sandbox", False) else o.text("domain", "login")
        self.api_version = api_version(o)
        settings = ReadSettings(
            bulk_enabled=o.boolean("bulk", True),
            bulk_threshold=o.integer("bulk_threshold", 10_000, minimum=0),
            batch_size=o.integer("batch_size", 2000, minimum=200, maximum=2000),
            bulk_page_size=o.integer("bulk_page_size", 50_000, minimum=1),
            bulk_poll_seconds=o.duration("bulk_poll_seconds", 2.0),
            max_url_length=o.integer("max_url_length", 16_000, minimum=1),
            max_soql_length=o.integer("max_soql_length", 100_000, minimum=1))
        self.login_history_days = o.integer("login_history_days", 180, minimum=1)
        self.audit_trail_days = o.integer("audit_trail_days", 365, minimum=1)
        self.loss_reason_field = o.text("loss_reason_field")
        stats = CallStats()
        share = o.number("budget_share", 0.2, minimum=0, maximum=1)
        if share == 0:  # a share of nothing would stop the audit before its first call
            raise ConfigError(_("option 'budget_share' of the salesforce connector must be a number above 0 and "
                                "at most 1, got {value}", value=repr(o.raw("budget_share"))), where="salesforce")
        budget = BudgetGuard(share, crm="Salesforce")
        rate_limit = o.integer("rate_limit", None, minimum=1)
        limiter = RateLimiter(rate_limit, o.duration("rate_window", 1.0), stats=stats) if rate_limit else None
        policy = CallPolicy("Salesforce", endpoint(self.credentials, self.mode, self.domain), stats=stats,
                            limiter=limiter, budget=budget, attempts=o.integer("retry_attempts", 6, minimum=1),
                            base_delay=o.duration("retry_base_delay", 0.5),
                            max_delay=o.duration("retry_max_delay", 30.0))
        self.calls = Calls(policy, mode=self.mode, timeout=o.duration("timeout", 120.0), verify=o.verify())
        self.reader = ObjectReader(self.calls, settings)
        self.cfg = {k: o.text(k, v) for k, v in m.MAPPED_CUSTOM_FIELDS.items()}
        self.stage_ids: dict[str, str] = {}  # OpportunityStage name and API name -> its id
        self.offered_versions: list[str] = []  # the API versions the org offers (services/data)
        self.stages_per_pipeline = False  # stages read per record type (deals name theirs by stage_key)
        self.types: dict[str, dict[str, str]] = {}
        self.describes: dict[str, dict] = {}
        self.as_of = _as_of(context)
        self.window_noted = False
        self.record_counts: dict[str, int] = {}  # limits/recordCount: approximate, may be stale
        self.integrations = integrations.IntegrationIndex()
        self.segments: dict[str, list[str]] = {}  # Contact/Lead id -> names of the campaigns it is a member of
        types = o.text("segment_campaign_types", ";".join(m.SEGMENT_CAMPAIGN_TYPES))
        self.segment_types = tuple(t.strip() for t in (types or "").split(";") if t.strip())

    # the shared call state, under the names tests and the CLI read
    @property
    def stats(self) -> CallStats:
        return self.calls.policy.stats

    @property
    def budget(self) -> BudgetGuard:
        return self.calls.policy.budget

    @property
    def sf(self) -> Salesforce | None:
        return self.reader.sf

    @property
    def organization(self) -> dict | None:
        return self.calls.organization

    @organization.setter
    def organization(self, value: dict | None) -> None:
        self.calls.organization = value

    @property
    def tenant(self) -> str:
        return getattr(self.context, "tenant", None) or "t"

    def api_calls(self) -> int:
        return self.stats.calls

    def connect(self) -> Salesforce:
        session = self.calls.session(self.domain, self.credentials["login_url"])
        kwargs = self.client_kwargs()
        self.reader.sf = self.calls.call(lambda: Salesforce(session=session, **kwargs), "logging in")
        return self.reader.sf

    def client_kwargs(self) -> dict:
        """The simple-salesforce constructor arguments for the configured auth mode."""
        return client_kwargs(self.credentials, self.mode, self.domain, self.api_version or "59.0")

    def _versions(self) -> list[dict]:
        url = f"https://{self.sf.sf_instance}/services/data/"

        def get():
            response = self.sf.session.get(url, headers={"Accept": "application/json"})
            if response.status_code >= 500:
                raise RetryableError(_("reading API versions: HTTP {status}", status=str(response.status_code)),
                                     where=self.calls.where)
            response.raise_for_status()
            return response.json()

        return self.calls.call(get, "reading API versions")

    def _use_version(self, version: str) -> None:
        sf = self.sf
        sf.sf_version = version
        sf.base_url = f"https://{sf.sf_instance}/services/data/v{version}/"
        sf.bulk2_url = f"https://{sf.sf_instance}/services/data/v{version}/jobs/"
        sf.tooling_url = f"{sf.base_url}tooling/"

    def describe(self, sobject: str) -> dict:
        if sobject not in self.describes:
            self.describes[sobject] = self.calls.call(lambda: getattr(self.sf, sobject).describe(),
                                                      f"describing {sobject}", sobject)
            self.types[sobject] = {f["name"]: f.get("type") for f in self.describes[sobject].get("fields", [])}
        return self.describes[sobject]

    def begin(self, sink, table: str):
        """Start reading ``table``: its progress reporter becomes the one calls report to."""
        self.calls.policy.progress = sink.progress(table, None)
        return self.calls.policy.progress

    def extract(self, sink) -> None:
        self.connect()
        versions = self._versions()
        offered = [v["version"] for v in versions]
        self.offered_versions = offered
        if self.api_version is None:
            self.api_version = max(offered, key=float) if offered else self.sf.sf_version
        elif offered and self.api_version not in offered:
            raise ConnectorError(_("API version {version} is not offered by this org (it offers {first} to {last})",
                                   version=self.api_version, first=offered[0], last=offered[-1]),
                                 where=self.calls.where,
                                 hint=_("set 'api_version' to one the org offers, or leave it out"))
        self._use_version(self.api_version)
        self._record_counts(sink, offered)
        tables.read_platform(self, sink, versions)
        tables.read_users(self, sink)
        tables.read_logins(self, sink)
        custom = tables.read_fields(self, sink)
        tables.read_integration_sources(self, sink)
        tables.read_companies(self, sink, custom)
        tables.read_contacts(self, sink, custom)
        tables.read_stages(self, sink)
        tables.read_deals(self, sink, custom)
        integrations.write_table(self, sink)
        tables.read_activities(self, sink, custom)
        tables.read_campaigns(self, sink)
        security.read_audit_trail(self, sink)
        security.read_packages(self, sink)

    def _record_counts(self, sink, offered: list[str]) -> None:
        """One call for the approximate size of every object read (``limits/recordCount``).

        It also feeds the budget guard: its ``Sforce-Limit-Info`` header carries the daily
        usage, as every REST response does, so no separate ``/limits`` call is made. The
        resource exists from API 40.0: with an older ``api_version`` it is read under the
        newest version the org offers (a read of counts, not of records).
        """
        version = self.api_version
        if float(version) < RECORD_COUNT_SINCE:
            newer = [v for v in offered if float(v) >= RECORD_COUNT_SINCE]
            if not newer:
                sink.note(_("Salesforce: the org offers no API version with limits/recordCount ({version}+): "
                            "each object's first REST batch tells its size", version="40.0"))
                return
            version = max(newer, key=float)
        url = f"https://{self.sf.sf_instance}/services/data/v{version}/limits/recordCount"
        params = {"sObjects": ",".join(COUNTED_OBJECTS)}
        try:
            body = self.calls.call(lambda: self.sf._call_salesforce("GET", url, name="recordCount",
                                                                    params=params).json(),
                                   "reading record counts", "recordCount")
        except Unavailable as exc:
            sink.note(_("Salesforce: {what} not available: {problem}; each object's first REST batch tells its size",
                        what=OPTIONAL["recordCount"], problem=exc.message))
            return
        for item in (body or {}).get("sObjects") or []:
            if isinstance(item, dict) and item.get("name") and isinstance(item.get("count"), int):
                self.record_counts[item["name"]] = item["count"]


def api_version(o: Options) -> str | None:
    """The ``api_version`` option as Salesforce spells versions ("62.0"); None: the newest."""
    value = o.text("api_version")
    if value is None:
        return None
    try:
        return f"{float(value.lstrip('vV')):.1f}"
    except ValueError:
        raise ConfigError(_("option 'api_version' of the salesforce connector must look like '62.0', got {value}",
                            value=repr(value)), where="salesforce") from None


def _as_of(context: Any) -> datetime:
    value = getattr(context, "as_of", None) if context is not None else None
    return m.utc_datetime(value) or datetime.now(UTC)


def create_connector(options: dict, context: Any = None) -> SalesforceConnector:
    return SalesforceConnector(options, context)


def record_url(options: dict, obj: str, record_id: str) -> str | None:
    base = Options(options, "salesforce").text("instance_url")
    if not base or not record_id:
        return None
    parsed = urlparse(base if "//" in base else "https://" + base)
    return f"https://{parsed.netloc}/{record_id}"
