"""Reads a Pipedrive company into the canonical schema, read-only, over its REST API.

Pipedrive has no official Python client, so this uses ``requests`` through the shared
plumbing of :mod:`crm_audit_core.http` (call counting, tenacity retries, client-side
burst limiter, daily token budget guard). Endpoints (shared/CRM-APIS.md section 3):

* API v2, cursor pagination at ``limit=500`` (the maximum): persons, organizations,
  deals, activities, pipelines, stages and the four ``*Fields`` endpoints;
* API v1 where no v2 exists: ``/users`` (one call, unpaginated), ``/roles`` and
  ``/notes`` (offset pagination, ``limit=500``), ``/webhooks`` (unpaginated).

Rate limits: Pipedrive counts *tokens* against a daily company-wide budget
(``x-daily-ratelimit-token-limit`` / ``-remaining``) and limits bursts per 2-second
window (``x-ratelimit-limit`` / ``-remaining`` / ``-reset``). A burst 429 is retried
after the reset; a 429 with no daily tokens left stops at once (retrying cannot help
until the budget resets), and the budget guard stops earlier, at ``budget_share`` of the
daily budget, so the audit never starves the company's own integrations.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import requests

from crm_audit_core.connector import ExtractContext
from crm_audit_core.errors import AuthError, BudgetExhausted, ConfigError, ConnectorError
from crm_audit_core.http import BudgetGuard, CallStats, RateLimiter, RetryableError, make_session, parse_retry_after, retrying
from crm_audit_core.secrets import redact, remember

from . import mapping

PAGE_LIMIT = 500  # the maximum Pipedrive allows on cursor and offset endpoints

# Token costs per request kind (third-party summary of Pipedrive's token-based limits,
# shared/CRM-APIS.md 3.5: list GET 20, v2 "lower"). Only used to budget ahead of the
# server's own count, which the guard re-reads from every response.
TOKEN_COST = {"v1": 20, "v2": 10}

# A record met again in update_time order was modified after the read of its table began,
# so its update_time lies between then and now: only such records (give or take this
# margin, for the two clocks' skew) can be duplicates and are looked up among the rows
# already committed.
RECHECK_MARGIN = timedelta(days=1)

# Pages mapped together: the lookups they need (derived columns, duplicates) are one query
# for all of them; each page is still written and checkpointed on its own.
LOOKUP_PAGES = 5

OPTIONS = {
    "api_token": "Personal API token (Pipedrive: Settings > Personal preferences > API); sent as the x-api-token header.",
    "access_token": "OAuth access token (alternative to api_token); sent as Authorization: Bearer.",
    "company_domain": "Company domain: 'acme' for https://acme.pipedrive.com.",
    "base_url": "Override the API host, e.g. the OAuth api_domain or a sandbox URL (default https://<company_domain>.pipedrive.com).",
    "budget_share": "Largest share of the company's daily API token budget the audit may use (default 0.2).",
    "burst_limit": "Client-side cap on requests per burst window (default 20; lowered automatically to the server's x-ratelimit-limit).",
    "burst_window": "Burst window in seconds (default 2, as Pipedrive's rolling window).",
    "page_limit": "Records per page (default and maximum 500).",
    "timeout": "Seconds to wait for one response (default 60).",
    "retry_attempts": "Attempts per request on 429/5xx/connection errors (default 6).",
    "retry_base_delay": "Base of the exponential backoff in seconds (default 0.5).",
    "retry_max_delay": "Longest backoff between attempts in seconds (default 30).",
    "read_notes": "Also read notes as activities of type 'note' (default true).",
    "verify": "TLS verification: true, false or a CA bundle path (default true).",
}


def _bool(value: Any, default: bool = True) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _number(options: dict, name: str, default: float, kind=float) -> float:
    value = options.get(name, default)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option {name!r} must be a number, got {value!r}", where="pipedrive") from None


def base_url_from_options(options: dict) -> str:
    base = options.get("base_url")
    if base:
        return str(base).rstrip("/")
    domain = options.get("company_domain")
    if not domain:
        raise ConfigError(
            "Pipedrive needs 'company_domain' (acme for https://acme.pipedrive.com) or 'base_url'",
            where="pipedrive",
        )
    domain = str(domain).strip()
    domain = domain.removeprefix("https://").removeprefix("http://").split("/")[0]
    if not domain.endswith(".pipedrive.com"):
        domain = f"{domain}.pipedrive.com"
    return f"https://{domain}"


class BadRequest(ConnectorError):
    """HTTP 400: a request Pipedrive refuses (e.g. a cursor that is no longer valid)."""


class PermissionDenied(ConnectorError):
    """HTTP 403 on an endpoint the token's user may not read (e.g. webhooks for non-admins)."""


class PipedriveConnector:
    """One Pipedrive company. ``extract(sink)`` reads it; ``api_calls()`` counts requests."""

    def __init__(self, options: dict, context: ExtractContext | None = None):
        self.options = dict(options or {})
        self.context = context
        self.api_token = self.options.get("api_token")
        self.access_token = self.options.get("access_token")
        if not self.api_token and not self.access_token:
            raise ConfigError("Pipedrive needs 'api_token' or 'access_token'", where="pipedrive",
                              hint="set api_token = \"${PIPEDRIVE_TOKEN}\" in the tenant's section")
        remember(self.api_token)
        remember(self.access_token)
        self.base_url = base_url_from_options(self.options)
        self.page_limit = min(PAGE_LIMIT, max(1, int(_number(self.options, "page_limit", PAGE_LIMIT, int))))
        self.timeout = _number(self.options, "timeout", 60.0)
        self.retry_attempts = int(_number(self.options, "retry_attempts", 6, int))
        self.retry_base_delay = _number(self.options, "retry_base_delay", 0.5)
        self.retry_max_delay = _number(self.options, "retry_max_delay", 30.0)
        self.read_notes = _bool(self.options.get("read_notes"), True)
        self.stats = CallStats()
        # The server's own window: Pipedrive counts a request when it arrives, and each
        # request holds its slot until a window after its answer (limiter.record() in
        # _get_once), never earlier than Pipedrive frees it.
        self.limiter = RateLimiter(
            int(_number(self.options, "burst_limit", 20, int)),
            _number(self.options, "burst_window", 2.0),
            stats=self.stats,
        )
        self._configured_burst = self.limiter.max_calls
        self.budget = BudgetGuard(share=_number(self.options, "budget_share", 0.2), crm="Pipedrive", unit="API tokens")
        verify = self.options.get("verify", True)
        if isinstance(verify, str) and verify.lower() in ("true", "false", "1", "0", "yes", "no"):
            verify = _bool(verify)
        self.session = make_session(self.stats, verify=verify)
        if self.api_token:
            self.session.headers["x-api-token"] = str(self.api_token)
        else:
            self.session.headers["Authorization"] = f"Bearer {self.access_token}"
        self.session.headers["Accept"] = "application/json"
        self._progress = None  # the progress handle of the table being read

    # ------------------------------------------------------------------ protocol

    def api_calls(self) -> int:
        return self.stats.calls

    def extract(self, sink) -> None:
        previous = self.context.previous if self.context is not None else None
        self.previous = previous
        self.since = previous.since if previous is not None else None
        role_names = self._read_roles(sink) if not sink.is_complete("users") else {}
        if not sink.is_complete("users"):
            self._read_users(sink, role_names)
        sink.note(
            "Pipedrive's API does not expose login history or MFA settings: login_events and "
            "users.mfa_enabled are not supplied (see Settings > Security center in Pipedrive)"
        )
        # Small tables are read in full every time (a few calls); their lookups are needed
        # to map the big ones even when an earlier run of this audit already stored them.
        pipelines, stages = self._read_pipelines_and_stages(sink)
        catalogs = self._read_fields(sink)
        # Activities and organizations come first: persons and deals take their derived
        # columns (last_activity_at, company_name) from the rows committed by then, page by
        # page (sink.lookup), whether read now, carried forward or read before a --resume.
        deleted = self._read_deletions(sink) if previous is not None else {}
        self._read_activities(sink, catalogs.get("activities"), deleted.get("activities", ()))
        self._read_organizations(sink, catalogs.get("companies"), deleted.get("companies", ()))
        self._read_persons(sink, catalogs.get("contacts"), deleted.get("contacts", ()))
        self._read_deals(sink, catalogs.get("deals"), pipelines, stages, deleted.get("deals", ()))
        if not sink.is_complete("integrations"):
            self._read_webhooks(sink)
        if not sink.is_complete("platform"):
            sink.write("platform", [mapping.platform_row()])
            sink.complete("platform")

    # ------------------------------------------------------------------ readers

    def _read_roles(self, sink) -> dict[str, str]:
        names: dict[str, str] = {}
        try:
            for page in self._offset_pages("/roles", table=None):
                for role in page:
                    names[str(role.get("id"))] = role.get("name")
        except PermissionDenied:
            sink.note("Pipedrive refused /v1/roles (plan or permission): users.role is left empty")
        return names

    def _read_users(self, sink, role_names: dict[str, str]) -> None:
        handle = self._begin(sink, "users")
        body = self._get("v1", "/users", {})
        users = body.get("data") or []
        sink.write("users", [mapping.user_to_row(u, role_names) for u in users])
        handle.advance(records=len(users), calls=1)
        sink.complete("users")

    def _read_pipelines_and_stages(self, sink) -> tuple[dict[str, str], dict[str, str]]:
        pipelines: dict[str, str] = {}
        stages: dict[str, str] = {}
        write = not sink.is_complete("stages")
        handle = self._begin(sink, "stages")
        for page in self._cursor_pages("/pipelines", {}, handle):
            for p in page:
                pipelines[str(p["id"])] = p.get("name")
        for page in self._cursor_pages("/stages", {}, handle):
            rows = [mapping.stage_to_row(s, pipelines) for s in page]
            for row in rows:
                stages[row["id"]] = row["name"]
            if write:
                sink.write("stages", rows)
            handle.advance(records=len(rows))
        if write:
            sink.complete("stages")
        return pipelines, stages

    def _read_fields(self, sink) -> dict[str, mapping.FieldCatalog]:
        catalogs: dict[str, mapping.FieldCatalog] = {}
        write = not sink.is_complete("fields")
        handle = self._begin(sink, "fields")
        for table, entity in mapping.FIELD_ENTITIES.items():
            fields: list[dict] = []
            for page in self._cursor_pages(f"/{entity}Fields", {}, handle):
                fields.extend(page)
            catalog = mapping.FieldCatalog(table, fields)
            catalogs[table] = catalog
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

        parts = [("activities", self._v2_part("/activities", {}), activity_rows)]
        if self.read_notes:
            if self.since is None:
                parts.append(("notes", self._notes_part(), lambda page: [mapping.note_to_row(n) for n in page]))
            else:  # changed notes came with the /recents feed
                parts.append(("notes", self._list_part(self._changed_notes), lambda page: [mapping.note_to_row(n) for n in page]))
        self._read_table(sink, "activities", parts, deleted_ids)

    def _read_organizations(self, sink, catalog, deleted_ids=()) -> None:
        def org_rows(page):
            return [mapping.organization_to_row(o, catalog) for o in page]

        self._read_table(sink, "companies", [("organizations", self._v2_part("/organizations", {}), org_rows)], deleted_ids)

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
                "companies", "id", ("name",), {mapping.to_id(p.get("org_id")) for p in page}).items()}
            times = self._activity_times(sink, page)
            return [mapping.person_to_row(p, catalog, org_names, label_names, times) for p in page]

        self._read_table(sink, "contacts", [("persons", self._v2_part("/persons", params), to_rows)], deleted_ids)

    def _read_deals(self, sink, catalog, pipelines, stages, deleted_ids=()) -> None:
        params = {"include_fields": "last_activity_id"}

        def to_rows(page):
            times = self._activity_times(sink, page)
            return [mapping.deal_to_row(d, catalog, pipelines, stages, times) for d in page]

        self._read_table(sink, "deals", [("deals", self._v2_part("/deals", params), to_rows)], deleted_ids)

    def _read_webhooks(self, sink) -> None:
        handle = self._begin(sink, "integrations")
        try:
            body = self._get("v1", "/webhooks", {})
        except PermissionDenied:
            sink.note("Pipedrive allows only admins to list webhooks: integrations were not read (use an admin's API token)")
            return
        hooks = body.get("data") or []
        sink.write("integrations", [mapping.webhook_to_row(h) for h in hooks])
        handle.advance(records=len(hooks), calls=1)
        sink.complete("integrations")

    # ------------------------------------------------------------------ resumable, incremental

    def _read_table(self, sink, table: str, parts: list, deleted_ids=()) -> None:
        """Read one record table from its parts (sub-sources, e.g. activities + notes),
        checkpointing after every page with a state that names the part; carry the rest
        forward from the previous snapshot in an incremental audit. ``to_rows(records)``
        maps the records of up to LOOKUP_PAGES pages at once (one row per record), so their
        lookups are one query."""
        if sink.is_complete(table):
            return
        state = sink.resume_state(table) or {}
        names = [name for name, _, _ in parts]
        first = names.index(state["part"]) if state.get("part") in names else 0
        # When this table's read began (kept across --resume; a state without it: recheck all).
        started = state.get("started") if state else _utc_now().isoformat()
        recheck_after = mapping.parse_ts(started) - RECHECK_MARGIN if started else None
        handle = self._begin(sink, table)
        for index, (name, pages, to_rows) in enumerate(parts):
            if index < first:
                continue
            part_state = state if index == first and state.get("part") == name else None
            for chunk in _chunks(pages(part_state, handle), LOOKUP_PAGES):
                rows = to_rows([record for page, _ in chunk for record in page])  # one row per record
                rows = self._not_stored(sink, table, rows, recheck_after)
                start = 0
                for page, new_state in chunk:
                    page_rows = [row for row in rows[start:start + len(page)] if row is not None]
                    start += len(page)
                    sink.write(table, page_rows)
                    handle.advance(records=len(page_rows))
                    sink.checkpoint(table, {"part": name, "started": started, **new_state})
            if index + 1 < len(parts):
                sink.checkpoint(table, {"part": names[index + 1], "started": started})
        if self.previous is not None:
            carried = sink.carry_forward(table, self.previous, [str(i) for i in deleted_ids])
            handle.advance(records=carried)
        sink.complete(table)

    def _v2_part(self, path: str, params: dict) -> Callable:
        """Pages of a v2 list in a stable order (``sort_by=update_time``, then id), from
        ``updated_since`` in an incremental audit. The state after each page keeps the
        vendor cursor *and* a keyset position (the last update_time and the ids read at
        that time): a resumed run tries the cursor and, if Pipedrive no longer accepts
        it, continues from ``updated_since=<time>`` skipping the ids already read."""

        def pages(state: dict | None, handle):
            base = dict(params, limit=self.page_limit, sort_by="update_time", sort_direction="asc")
            if self.since is not None:
                base["updated_since"] = _rfc3339(self.since)
            cursor, last_time, ids_at = None, None, []
            if state:
                cursor, last_time, ids_at = state.get("cursor"), state.get("time"), list(state.get("ids") or [])
                if state.get("since"):
                    base["updated_since"] = state["since"]
                if not cursor and state.get("done"):
                    return
            skip: set = set()
            while True:
                query = dict(base)
                if cursor:
                    query["cursor"] = cursor
                try:
                    body = self._get("v2", path, query)
                except BadRequest:
                    if not cursor:
                        raise
                    # The cursor is no longer valid: continue from the keyset position.
                    cursor, skip = None, set(ids_at)
                    if last_time:
                        base["updated_since"] = last_time
                    continue
                if handle is not None:
                    handle.advance(calls=1)
                data = body.get("data") or []
                for record in data:
                    when = record.get("update_time")
                    if when == last_time:
                        ids_at.append(record.get("id"))
                    else:
                        last_time, ids_at = when, [record.get("id")]
                if skip:
                    data = [r for r in data if r.get("id") not in skip]
                cursor = (body.get("additional_data") or {}).get("next_cursor")
                new_state = {"cursor": cursor, "time": last_time, "ids": ids_at,
                             "since": base.get("updated_since"), "done": not cursor}
                yield data, new_state
                if not cursor:
                    return

        return pages

    def _notes_part(self) -> Callable:
        """v1 /notes by offset (no modified-since filter; the state is the next offset)."""

        def pages(state: dict | None, handle):
            start = int((state or {}).get("start") or 0)
            if state and state.get("done"):
                return
            while True:
                body = self._get("v1", "/notes", {"start": start, "limit": self.page_limit, "sort": "id ASC"})
                if handle is not None:
                    handle.advance(calls=1)
                data = body.get("data") or []
                pagination = (body.get("additional_data") or {}).get("pagination") or {}
                more = bool(pagination.get("more_items_in_collection")) and bool(data)
                next_start = pagination.get("next_start")
                start = int(next_start) if next_start is not None else start + len(data)
                yield data, {"start": start, "done": not more}
                if not more:
                    return

        return pages

    def _list_part(self, getter: Callable[[], list]) -> Callable:
        def pages(state: dict | None, handle):
            if state and state.get("done"):
                return
            yield getter(), {"done": True}

        return pages

    def _read_deletions(self, sink) -> dict[str, set]:
        """Ids deleted since the previous audit, and the notes changed since.

        * deals: ``GET /api/v2/deals?status=deleted&updated_since=...`` (Pipedrive keeps
          deleted deals for 30 days);
        * persons, organizations, activities, notes: ``GET /v1/recents`` since that time
          (every change of those kinds; a deleted record comes back inactive). Pipedrive's
          v2 lists have no deleted filter for them.
        """
        deleted: dict[str, set] = {"contacts": set(), "companies": set(), "activities": set(), "deals": set()}
        self._changed_notes_list: list[dict] = []
        base = {"status": "deleted", "updated_since": _rfc3339(self.since)}
        for page in self._cursor_pages("/deals", base, None):
            deleted["deals"].update(str(d.get("id")) for d in page)
        kinds = {"person": "contacts", "organization": "companies", "activity": "activities", "note": "activities"}
        items = "person,organization,activity" + (",note" if self.read_notes else "")
        start = 0
        since = mapping.v1_time(self.since)
        while True:
            body = self._get("v1", "/recents", {"since_timestamp": since, "items": items, "start": start, "limit": self.page_limit})
            data = body.get("data") or []
            for entry in data:
                item, record = entry.get("item"), entry.get("data") or {}
                if item not in kinds:
                    continue
                rid = mapping.to_id(entry.get("id", record.get("id")))
                gone = record.get("active_flag") is False or record.get("is_deleted") is True or record.get("deleted") is True
                if item == "note":
                    if gone:
                        deleted["activities"].add(f"{mapping.NOTE_ID_PREFIX}{rid}")
                    else:
                        self._changed_notes_list.append(record)
                elif gone:
                    deleted[kinds[item]].add(rid)
            pagination = (body.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection") or not data:
                break
            next_start = pagination.get("next_start")
            start = int(next_start) if next_start is not None else start + len(data)
        return deleted

    def _changed_notes(self) -> list[dict]:
        return list(getattr(self, "_changed_notes_list", []))

    @staticmethod
    def _activity_times(sink, page: list[dict]) -> dict[str, Any]:
        """The time of each activity a page of persons or deals names as its last one
        (due, else completed, else created), from the activities committed: one lookup."""
        ids = {mapping.to_id(r.get("last_activity_id")) for r in page}
        found = sink.lookup("activities", "id", ("due_at", "completed_at", "created_at"), ids)
        return {rid: _aware(due or completed or created) for rid, (due, completed, created) in found.items()}

    @staticmethod
    def _not_stored(sink, table: str, rows: list[dict], recheck_after) -> list:
        """``rows`` (a few pages', in order), None for each record already committed or met
        earlier in them. A record modified after it was read (in this run, or before the run
        a --resume continues) is met again later in update_time order; only rows updated
        between ``recheck_after`` (None: all) and now can be such records, and only they are
        looked up (one query; most pages need none)."""
        maybe = set()
        until = _utc_now() + RECHECK_MARGIN
        for row in rows:
            when = _updated(row) if recheck_after is not None else None
            if when is None or recheck_after <= when <= until:
                maybe.add(row["id"])
        if not maybe:
            return rows
        seen = set(sink.lookup(table, "id", (), maybe))
        out = []
        for row in rows:
            if row["id"] in maybe:
                if row["id"] in seen:
                    row = None
                else:
                    seen.add(row["id"])
            out.append(row)
        return out

    # ------------------------------------------------------------------ paging

    def _begin(self, sink, table: str):
        handle = sink.progress(table)
        self._progress = handle
        return handle

    def _cursor_pages(self, path: str, params: dict, handle) -> Iterator[list[dict]]:
        cursor = None
        while True:
            query = dict(params, limit=self.page_limit)
            if cursor:
                query["cursor"] = cursor
            body = self._get("v2", path, query)
            if handle is not None:
                handle.advance(calls=1)
            yield body.get("data") or []
            cursor = (body.get("additional_data") or {}).get("next_cursor")
            if not cursor:
                return

    def _offset_pages(self, path: str, table) -> Iterator[list[dict]]:
        start = 0
        while True:
            body = self._get("v1", path, {"start": start, "limit": self.page_limit})
            if table is not None:
                table.advance(calls=1)
            data = body.get("data") or []
            yield data
            pagination = (body.get("additional_data") or {}).get("pagination") or {}
            if not pagination.get("more_items_in_collection"):
                return
            next_start = pagination.get("next_start")
            start = int(next_start) if next_start is not None else start + len(data)
            if not data:
                return

    # ------------------------------------------------------------------ one request

    def _url(self, version: str, path: str) -> str:
        return f"{self.base_url}/api/{version}{path}"

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)
        if self._progress is not None:
            self._progress.waiting(seconds)

    def _get(self, version: str, path: str, params: dict) -> dict:
        url = self._url(version, path)
        where = f"Pipedrive GET /api/{version}{path}"
        try:
            for attempt in retrying(
                max_attempts=self.retry_attempts,
                base_delay=self.retry_base_delay,
                max_delay=self.retry_max_delay,
                stats=self.stats,
                sleep=self._sleep,
            ):
                with attempt:
                    return self._get_once(url, where, version, params)
        except RetryableError as exc:
            raise ConnectorError(
                f"{where} still failing after {self.retry_attempts} attempts: {exc.message}",
                hint="Pipedrive may be degraded; run the audit again later or raise 'retry_attempts'",
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, url: str, where: str, version: str, params: dict) -> dict:
        self.budget.before_call(TOKEN_COST[version])
        waited = self.limiter.acquire()
        if waited and self._progress is not None:
            self._progress.waiting(waited)
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            # Connection resets, timeouts, truncated chunked bodies: all transient.
            raise RetryableError(f"{type(exc).__name__}: {redact(str(exc))[:200]}") from None
        finally:
            # Answered or failed: the burst window counts the call from its arrival, so it
            # holds its slot until a window after now (RateLimiter.record).
            self.limiter.record()
        self._observe_limits(response.headers)
        status = response.status_code
        if status == 401:
            raise AuthError(
                f"Pipedrive refused the {'API token' if self.api_token else 'OAuth access token'} "
                f"(HTTP 401 {self._error_text(response) or 'unauthorized access'})",
                where=self.base_url,
                hint=(
                    "check api_token, from Pipedrive Settings > Personal preferences > API, and "
                    "company_domain" if self.api_token else
                    "the access token is invalid or expired: refresh it and set 'access_token'"
                ),
            )
        if status == 403:
            raise PermissionDenied(
                f"{where}: HTTP 403 {self._error_text(response) or 'forbidden'}",
                hint="the token's user lacks the permission or the plan lacks the feature",
            )
        if status == 429:
            daily_left = response.headers.get("x-daily-ratelimit-token-remaining")
            if daily_left is not None and _int(daily_left) == 0:
                raise BudgetExhausted(
                    f"{where}: Pipedrive's daily API token budget is used up (HTTP 429)",
                    hint="run the audit after the budget resets at midnight (company time)",
                )
            after = max(
                parse_retry_after(response.headers.get("x-ratelimit-reset")) or 0.0,
                parse_retry_after(response.headers.get("Retry-After")) or 0.0,
            )
            raise RetryableError(f"HTTP 429 rate limited", retry_after=after or None)
        if status >= 500:
            raise RetryableError(
                f"HTTP {status} {self._error_text(response)}".strip(),
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status == 400:
            raise BadRequest(
                f"{where}: HTTP 400 {self._error_text(response)}".strip(),
                hint="this is a request the connector should not make; please report it",
            )
        if status >= 400:
            raise ConnectorError(
                f"{where}: HTTP {status} {self._error_text(response)}".strip(),
                hint="this is a request the connector should not make; please report it",
            )
        try:
            body = response.json()
        except ValueError:
            raise RetryableError(f"HTTP {status} with a body that is not JSON ({len(response.content)} bytes)") from None
        if not isinstance(body, dict) or ("data" not in body and "success" not in body):
            raise RetryableError(f"HTTP {status} with an unexpected body shape")
        if body.get("success") is False:
            raise ConnectorError(f"{where}: {body.get('error') or 'request failed'}")
        return body

    @staticmethod
    def _error_text(response: requests.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return ""
        if isinstance(body, dict):
            return redact(str(body.get("error") or ""))
        return ""

    def _observe_limits(self, headers) -> None:
        limit = headers.get("x-daily-ratelimit-token-limit")
        remaining = headers.get("x-daily-ratelimit-token-remaining")
        if limit is not None or remaining is not None:
            self.budget.observe(limit=_int(limit), remaining=_int(remaining))
        burst = _int(headers.get("x-ratelimit-limit"))
        if burst and burst > 0:
            # The server says our burst allowance is lower than configured: obey it.
            self.limiter.follow(burst)


def _rfc3339(value) -> str:
    return mapping.v2_time(value)


def _chunks(pages, size: int):
    """Groups of ``size`` items of ``pages``; on a failure, the items read before it come
    out first (so they are written and checkpointed), then the error."""
    chunk = []
    try:
        for item in pages:
            chunk.append(item)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except Exception:
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _updated(row: dict):
    """When Pipedrive last changed the record behind a row (its ``update_time``)."""
    raw = row.get("raw")
    return mapping.parse_ts(raw.get("update_time")) if isinstance(raw, dict) else None


def _aware(value):
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _int(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def make_connector(options: dict, context: ExtractContext | None = None) -> PipedriveConnector:
    return PipedriveConnector(options, context)


def minimum_calls(counts: dict[str, int], page_limit: int = PAGE_LIMIT, *, read_notes: bool = True) -> int:
    """The fewest requests a full read of a company of this size needs (for tests and
    benchmarks): one per page of each list, at least one per list."""

    def pages(n: int) -> int:
        return max(1, math.ceil(n / page_limit))

    total = 1  # /v1/users (unpaginated)
    total += pages(counts.get("roles", 0))
    total += pages(counts.get("pipelines", 0)) + pages(counts.get("stages", 0))
    for entity in mapping.FIELD_ENTITIES.values():
        total += pages(counts.get(f"{entity}Fields", 0))
    total += pages(counts.get("activities", 0))
    if read_notes:
        total += pages(counts.get("notes", 0))
    total += pages(counts.get("organizations", 0)) + pages(counts.get("persons", 0)) + pages(counts.get("deals", 0))
    total += 1  # /v1/webhooks (unpaginated)
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
    domain = options.get("company_domain")
    if domain:
        base = base_url_from_options({"company_domain": domain})
    elif options.get("base_url"):
        base = str(options["base_url"]).rstrip("/")
    else:
        return None
    return f"{base}/{page}/{record_id}"
