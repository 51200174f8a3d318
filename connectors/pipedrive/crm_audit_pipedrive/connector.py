"""Reads a Pipedrive company into the canonical schema, read-only, over its REST API.

Pipedrive has no official Python client, so this uses ``requests`` through the kit
(:mod:`crm_audit_core.kit`: options, one call policy with retries, the burst limiter and
the daily token budget guard; the resumable table reader). Endpoints (shared/CRM-APIS.md section 3):

* API v2, cursor pagination at ``limit=500`` (the maximum): persons, organizations,
  deals, activities, pipelines, stages and the four ``*Fields`` endpoints;
* API v1 where no v2 exists: ``/users`` (one call, unpaginated), ``/roles``, ``/notes``,
  ``/leads`` and ``/leads/archived`` (offset pagination, ``limit=500``), ``/webhooks``
  (unpaginated). Leads give persons and organizations their source (:mod:`.sources`);
  webhooks and the integration names on records give the ``integrations`` table.
* security (:mod:`.security`): ``/users`` (``is_admin``, ``access``) with
  ``/permissionSets`` (one call) and ``/permissionSets/{id}`` (one call per set users hold
  that is not an admin set: its ``contents``) give ``permissions``; ``/webhooks`` gives
  ``oauth_grants``. Both need a company admin's token; a 403 leaves the table not
  supplied with the reason (``sink.unavailable``).

Rate limits: Pipedrive counts *tokens* against a daily company-wide budget
(``x-daily-ratelimit-token-limit`` / ``-remaining``) and limits bursts per 2-second
window (``x-ratelimit-limit`` / ``-remaining`` / ``-reset``). A burst 429 is retried
after the reset; a 429 with no daily tokens left stops at once (retrying cannot help
until the budget resets), and the budget guard stops earlier, at ``budget_share`` of the
daily budget, so the audit never starves the company's own integrations.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from crm_audit_core.connector import ExtractContext
from crm_audit_core.kit import Option, Options, Unavailable

from . import mapping
from .client import PipedriveClient, base_url
from .fields import FIELD_ENTITIES, LIFECYCLE_FIELD, FieldCatalog
from .i18n import _
from .pages import PipedrivePages
from .resume import read_records
from .security import grant_rows, permission_rows
from .sources import LeadOrigins, integration_rows, record_activity
from .values import to_id

PAGE_LIMIT = 500  # the maximum Pipedrive allows on cursor and offset endpoints
PERMISSIONS_DOC = "docs/connectors/pipedrive.md#permissions"

OPTIONS = {
    "api_token": Option("Personal API token (Pipedrive: Settings > Personal preferences > API); sent as the "
                        "x-api-token header. One of api_token or access_token is needed.", secret=True),
    "access_token": Option("OAuth access token (alternative to api_token); sent as Authorization: Bearer.", secret=True),
    "company_domain": "Company domain: 'acme' for https://acme.pipedrive.com (or set base_url).",
    "base_url": "Override the API host, e.g. the OAuth api_domain or a sandbox URL (default https://<company_domain>.pipedrive.com).",
    "budget_share": "Largest share of the company's daily API token budget the audit may use (default 0.2).",
    "rate_limit": "Client-side cap on requests per burst window (default 20; lowered automatically to the server's x-ratelimit-limit).",
    "rate_window": "Burst window in seconds (default 2, as Pipedrive's rolling window).",
    "page_limit": "Records per page (default and maximum 500).",
    "timeout": "Seconds to wait for one response (default 60).",
    "retry_attempts": "Attempts per request on 429/5xx/connection errors (default 6).",
    "retry_base_delay": "Base of the exponential backoff in seconds (default 0.5).",
    "retry_max_delay": "Longest backoff between attempts in seconds (default 30).",
    "read_notes": "Also read notes as activities of type 'note' (default true).",
    "lifecycle_field": "The person field holding the lifecycle stage (default 'Lifecycle stage'; Pipedrive has none "
                       "built in, so accounts keep it in a custom field).",
    "verify": "TLS verification: true, false or a CA bundle path (default true).",
    "ca_bundle": "A CA bundle file to trust (e.g. a TLS-intercepting proxy's or a sandbox's).",
}


class PipedriveConnector:
    """One Pipedrive company. ``extract(sink)`` reads it; ``api_calls()`` counts requests."""

    def __init__(self, options: dict, context: ExtractContext | None = None):
        opts = Options(options, "pipedrive")
        self.context = context
        self.api_token = opts.secret("api_token")
        self.access_token = opts.secret("access_token")
        if not self.api_token and not self.access_token:
            raise opts.missing("api_token", "or 'access_token'",
                               hint=_("set api_token = {value} in the tenant's section",
                                      value='"${PIPEDRIVE_TOKEN}"'))
        self.base_url = base_url(opts.text("company_domain"), opts.text("base_url"))
        # More than Pipedrive's maximum is read as the maximum (as before the kit).
        self.page_limit = min(PAGE_LIMIT, opts.integer("page_limit", PAGE_LIMIT, minimum=1))
        self.read_notes = opts.boolean("read_notes", True)
        self.lifecycle_field = opts.text("lifecycle_field") or LIFECYCLE_FIELD
        self.origins = LeadOrigins()
        self.client = PipedriveClient(
            self.base_url,
            api_token=self.api_token,
            access_token=self.access_token,
            verify=opts.verify(),
            timeout=opts.duration("timeout", 60.0),
            rate_limit=opts.integer("rate_limit", 20, minimum=1),
            rate_window=opts.duration("rate_window", 2.0),
            budget_share=opts.number("budget_share", 0.2, minimum=0, maximum=1),
            retry_attempts=opts.integer("retry_attempts", 6, minimum=1),
            retry_base_delay=opts.duration("retry_base_delay", 0.5),
            retry_max_delay=opts.duration("retry_max_delay", 30.0),
        )
        self.stats = self.client.stats
        self.limiter = self.client.limiter
        self.previous = None
        self.since = None
        self.pages = PipedrivePages(self.client, self.page_limit)
        self._changed_notes: list[dict] = []

    # ------------------------------------------------------------------ protocol

    def api_calls(self) -> int:
        return self.stats.calls

    def extract(self, sink) -> None:
        previous = self.context.previous if self.context is not None else None
        self.previous = previous
        self.since = previous.since if previous is not None else None
        self.pages = PipedrivePages(self.client, self.page_limit, self.since)
        role_names = self._read_roles(sink) if not sink.is_complete("users") else {}
        users = self._read_users(sink, role_names) if not sink.is_complete("users") else None
        if has_table("permissions") and not sink.is_complete("permissions"):
            self._read_permissions(sink, users)
        sink.note(_("Pipedrive's API does not expose login history or MFA settings: login_events and "
                    "users.mfa_enabled are not supplied (see Settings > Security center in Pipedrive)"))
        # Small tables are read in full every time (a few calls); their lookups are needed
        # to map the big ones even when an earlier run of this audit already stored them.
        pipelines, stages = self._read_pipelines_and_stages(sink)
        catalogs = self._read_fields(sink)
        # Activities and organizations come first: persons and deals take their derived
        # columns (last_activity_at, company_name) from the rows committed by then, page by
        # page (sink.lookup), whether read now, carried forward or read before a --resume.
        deleted = self._read_deletions() if previous is not None else {}
        if not (sink.is_complete("contacts") and sink.is_complete("companies")):
            self._read_leads(sink)
        self._read_activities(sink, catalogs.get("activities"), deleted.get("activities", ()))
        self._read_organizations(sink, catalogs.get("companies"), deleted.get("companies", ()))
        self._read_persons(sink, catalogs.get("contacts"), deleted.get("contacts", ()))
        self._read_deals(sink, catalogs.get("deals"), pipelines, stages, deleted.get("deals", ()))
        grants = has_table("oauth_grants") and not sink.is_complete("oauth_grants")
        if grants or not sink.is_complete("integrations"):
            hooks = self._read_webhooks(sink)
            if not sink.is_complete("integrations"):
                self._read_integrations(sink, hooks or [])
            if grants and hooks is not None:
                handle = self._begin(sink, "oauth_grants")
                rows = grant_rows(hooks)
                sink.write("oauth_grants", rows)
                handle.advance(records=len(rows))
                sink.complete("oauth_grants")
        if not sink.is_complete("platform"):
            sink.write("platform", [mapping.platform_row()])
            sink.complete("platform")

    # ------------------------------------------------------------------ readers

    def _read_roles(self, sink) -> dict[str, str]:
        names: dict[str, str] = {}
        try:
            for page in self.pages.offset("/roles"):
                for role in page:
                    names[str(role.get("id"))] = role.get("name")
        except Unavailable:
            sink.note(_("Pipedrive refused {path} (plan or permission): users.role is left empty", path="/v1/roles"))
        return names

    def _read_users(self, sink, role_names: dict[str, str]) -> list[dict]:
        handle = self._begin(sink, "users")
        body = self.client.get("v1", "/users", {})
        users = body.get("data") or []
        sink.write("users", [mapping.user_to_row(u, role_names) for u in users])
        handle.advance(records=len(users))
        sink.complete("users")
        return users

    def _read_permissions(self, sink, users: list[dict] | None) -> None:
        """permissions: the users' admin flags and access entries, with the permission sets
        (one list call, then the contents of each set users hold that is not an admin set)."""
        handle = self._begin(sink, "permissions")
        try:
            if users is None:  # resumed after users were stored
                users = self.client.get("v1", "/users", {}).get("data") or []
            sets = {str(s.get("id")): dict(s) for s in self.client.get("v1", "/permissionSets", {}).get("data") or []}
            held = {str(a.get("permission_set_id")) for u in users for a in u.get("access") or []
                    if isinstance(a, dict) and not a.get("admin")}
            for set_id in sorted(held & set(sets)):
                if sets[set_id].get("type") != "admin" and "contents" not in sets[set_id]:
                    one = self.client.get("v1", f"/permissionSets/{set_id}", {}).get("data") or {}
                    sets[set_id]["contents"] = one.get("contents") or []
        except Unavailable as exc:
            unavailable(sink, "permissions", _("Pipedrive refused the permission sets ({problem}): only a company "
                                               "admin's API token (or an OAuth app with the admin scope) can read "
                                               "them ({page})", problem=exc.message, page=PERMISSIONS_DOC))
            return
        rows = permission_rows(users, sets)
        sink.write("permissions", rows)
        handle.advance(records=len(rows))
        sink.complete("permissions")

    def _read_pipelines_and_stages(self, sink) -> tuple[dict[str, str], dict[str, str]]:
        pipelines: dict[str, str] = {}
        stages: dict[str, str] = {}
        write = not sink.is_complete("stages")
        handle = self._begin(sink, "stages")
        for page in self.pages.cursor("/pipelines", {}):
            for p in page:
                pipelines[str(p["id"])] = p.get("name")
        for page in self.pages.cursor("/stages", {}):
            rows = [mapping.stage_to_row(s, pipelines) for s in page]
            for row in rows:
                stages[row["id"]] = row["name"]
            if write:
                sink.write("stages", rows)
            handle.advance(records=len(rows))
        if write:
            sink.complete("stages")
        return pipelines, stages

    def _read_fields(self, sink) -> dict[str, FieldCatalog]:
        catalogs: dict[str, FieldCatalog] = {}
        write = not sink.is_complete("fields")
        handle = self._begin(sink, "fields")
        for table, entity in FIELD_ENTITIES.items():
            fields: list[dict] = []
            for page in self.pages.cursor(f"/{entity}Fields", {}):
                fields.extend(page)
            promote = {self.lifecycle_field.strip().lower(): "lifecycle_stage"} if table == "contacts" else None
            catalog = FieldCatalog(table, fields, promote)
            catalogs[table] = catalog
            if table == "contacts" and "lifecycle_stage" not in catalog.promoted.values():
                sink.note(_("Pipedrive has no lifecycle stage of its own and this company has no person field "
                            "named '{field}': contacts.lifecycle_stage is not supplied (set the option "
                            "lifecycle_field to the field that holds it)", field=self.lifecycle_field))
            rows = catalog.rows()
            if write:
                sink.write("fields", rows)
            handle.advance(records=len(rows))
        if write:
            sink.complete("fields")
        return catalogs

    def _read_activities(self, sink, catalog, deleted_ids=()) -> None:
        def activity_rows(page):
            return [mapping.activity_to_row(a, catalog) for a in page]

        parts = [("activities", self.pages.v2_source("/activities", {}), activity_rows)]
        if self.read_notes:
            if self.since is None:
                parts.append(("notes", self.pages.notes_source(), lambda page: [mapping.note_to_row(n) for n in page]))
            else:  # changed notes came with the /recents feed
                parts.append(("notes", self.pages.list_source(lambda: list(self._changed_notes)), lambda page: [mapping.note_to_row(n) for n in page]))
        self._read_table(sink, "activities", parts, deleted_ids)

    def _read_leads(self, sink) -> None:
        """Every lead, open and archived, into :attr:`origins` (the source of persons and
        organizations); not a table of its own."""
        handle = self._begin(sink, "contacts")
        try:
            for path in ("/leads", "/leads/archived"):
                for page in self.pages.offset(path):
                    for lead in page:
                        self.origins.add(lead)
                    handle.advance()
        except Unavailable:
            sink.note(_("Pipedrive refused {path} (the token lacks the {scope} scope or the user cannot see "
                        "leads): contacts and companies have no source", path="/v1/leads", scope="leads:read"))

    def _read_organizations(self, sink, catalog, deleted_ids=()) -> None:
        def org_rows(page):
            return [mapping.organization_to_row(o, catalog, self.origins) for o in page]

        self._read_table(sink, "companies", [("organizations", self.pages.v2_source("/organizations", {}), org_rows)], deleted_ids)

    def _read_persons(self, sink, catalog, deleted_ids=()) -> None:
        label_names: dict[str, str] = {}
        if catalog is not None:
            for code in ("label_ids", "label"):
                field = catalog.by_code.get(code)
                if field:
                    label_names = {str(o.get("id")): o.get("label") for o in field.get("options") or []}
                    break
        params = {"include_fields": "last_activity_id"}

        def to_rows(page):
            org_names = {rid: name for rid, (name,) in sink.lookup(
                "companies", "id", ("name",), {to_id(p.get("org_id")) for p in page}).items()}
            times = self._activity_times(sink, page)
            return [mapping.person_to_row(p, catalog, org_names, label_names, times, self.origins) for p in page]

        self._read_table(sink, "contacts", [("persons", self.pages.v2_source("/persons", params), to_rows)], deleted_ids)

    def _read_deals(self, sink, catalog, pipelines, stages, deleted_ids=()) -> None:
        params = {"include_fields": "last_activity_id"}

        def to_rows(page):
            times = self._activity_times(sink, page)
            return [mapping.deal_to_row(d, catalog, pipelines, stages, times) for d in page]

        self._read_table(sink, "deals", [("deals", self.pages.v2_source("/deals", params), to_rows)], deleted_ids)

    def _read_webhooks(self, sink) -> list[dict] | None:
        """Every webhook of the company (one call), or None when the token may not list them."""
        self._begin(sink, "integrations")
        try:
            return self.client.get("v1", "/webhooks", {}).get("data") or []
        except Unavailable as exc:
            sink.note(_("Pipedrive allows only admins to list webhooks: integrations come from the records' "
                        "origin only (use an admin's API token)"))
            if has_table("oauth_grants"):
                unavailable(sink, "oauth_grants", _("Pipedrive refused to list the webhooks ({problem}): only a "
                                                    "company admin's API token can list every user's webhooks "
                                                    "({page})", problem=exc.message, page=PERMISSIONS_DOC))
            return None

    def _read_integrations(self, sink, hooks: list[dict]) -> None:
        """Webhooks grouped by name, plus the integrations named only on records (their
        activity read back from the rows committed: whole tables, resumed or carried forward)."""
        handle = self._begin(sink, "integrations")
        seen = []
        for table in ("contacts", "companies", "deals"):
            seen.extend(sink.stored(table, ("source", "source_detail", "created_at")))
        rows = integration_rows(hooks, record_activity(seen))
        sink.write("integrations", rows)
        handle.advance(records=len(rows))
        sink.complete("integrations")

    # ------------------------------------------------------------------ reading helpers

    def _read_table(self, sink, table: str, parts: list, deleted_ids=()) -> None:
        if sink.is_complete(table):
            return
        read_records(sink, table, parts, progress=self._begin(sink, table), previous=self.previous,
                     deleted_ids=deleted_ids)

    def _read_deletions(self) -> dict[str, set]:
        deleted, self._changed_notes = self.pages.deletions(self.read_notes)
        return deleted

    @staticmethod
    def _activity_times(sink, page: list[dict]) -> dict[str, Any]:
        """The time of each activity a page of persons or deals names as its last one
        (due, else completed, else created), from the activities committed: one lookup."""
        ids = {to_id(r.get("last_activity_id")) for r in page}
        found = sink.lookup("activities", "id", ("due_at", "completed_at", "created_at"), ids)
        return {rid: _aware(due or completed or created) for rid, (due, completed, created) in found.items()}

    def _begin(self, sink, table: str):
        handle = sink.progress(table)
        self.client.policy.progress = handle
        return handle


def has_table(table: str) -> bool:
    """Whether the canonical schema has ``table`` (the security tables of issue 16)."""
    from crm_audit_core.model import TABLES

    return table in TABLES


def unavailable(sink, table: str, reason: str) -> None:
    """Say at run time that ``table`` could not be read, and why (a note as well)."""
    sink.note(reason)
    declare = getattr(sink, "unavailable", None)
    if declare is not None:
        declare(table, reason)


def _aware(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def create_connector(options: dict, context: ExtractContext | None = None) -> PipedriveConnector:
    """The factory crm-audit calls (``ConnectorInfo.factory``)."""
    return PipedriveConnector(options, context)


def minimum_calls(counts: dict[str, int], page_limit: int = PAGE_LIMIT, *, read_notes: bool = True) -> int:
    """The fewest requests a full read of a company of this size needs (for tests and
    benchmarks): one per page of each list, at least one per list."""

    def pages(n: int) -> int:
        return max(1, math.ceil(n / page_limit))

    total = 1  # /v1/users (unpaginated)
    total += pages(counts.get("roles", 0))
    total += pages(counts.get("pipelines", 0)) + pages(counts.get("stages", 0))
    for entity in FIELD_ENTITIES.values():
        total += pages(counts.get(f"{entity}Fields", 0))
    total += pages(counts.get("activities", 0))
    if read_notes:
        total += pages(counts.get("notes", 0))
    total += pages(counts.get("leads", 0)) + pages(counts.get("leads/archived", 0))
    total += pages(counts.get("organizations", 0)) + pages(counts.get("persons", 0)) + pages(counts.get("deals", 0))
    total += 1  # /v1/webhooks (unpaginated)
    if has_table("permissions"):
        # /v1/permissionSets, then the contents of each non-admin set users hold
        total += 1 + counts.get("permissionSets held", 0)
    return total


# Pages of the Pipedrive web app, per canonical object (table names accepted too).
_RECORD_PAGES = {
    "contact": "person", "contacts": "person",
    "company": "organization", "companies": "organization",
    "deal": "deal", "deals": "deal",
    "user": "users/details", "users": "users/details",
}


def record_url(options: dict, object_name: str, record_id: str) -> str | None:
    """A link into Pipedrive for fix-lists (``https://acme.pipedrive.com/person/42``)."""
    page = _RECORD_PAGES.get(object_name)
    if page is None or record_id is None:
        return None
    opts = Options(options, "pipedrive")
    domain, url = opts.text("company_domain"), opts.text("base_url")
    if not domain and not url:
        return None
    base = base_url(domain, None) if domain else base_url(None, url)
    return f"{base}/{page}/{record_id}"
