"""A local emulator of Pipedrive's REST API, serving a canonical tenant over real HTTP.

It maps a :class:`crm_audit_core.sandbox.GeneratedTenant` (or a plain ``{table: rows}``
dict) to Pipedrive JSON with the inverse functions of :mod:`.mapping`, and answers the
way Pipedrive does (shared/CRM-APIS.md section 3):

* ``/api/v2/{persons,organizations,deals,activities,pipelines,stages,personFields,
  organizationFields,dealFields,activityFields}``: cursor pagination, ``limit`` at most
  500, ``additional_data.next_cursor`` (``null`` on the last page);
* ``/api/v1/users`` and ``/api/v1/webhooks`` (unpaginated), ``/api/v1/roles`` and
  ``/api/v1/notes`` (``start``/``limit``, ``additional_data.pagination``); the same v1
  paths are served under ``/v1`` too;
* auth by ``x-api-token``, ``?api_token=`` or ``Authorization: Bearer``; anything else
  is a 401 ``{"success":false,"error":"unauthorized access","errorCode":401,...}``;
* the success and error envelopes, ``x-ratelimit-*`` burst headers (429 once more than
  ``rate_limit`` requests arrive within ``burst_window`` seconds) and
  ``x-daily-ratelimit-token-limit/-remaining`` (429 with remaining 0 once the daily
  token budget is spent);
* a request log and fault injection (:data:`crm_audit_core.connector.FAULT_KINDS`);
* for incremental and resumed audits: ``updated_since`` / ``sort_by`` on the v2 lists,
  ``status=deleted`` on deals, ``/v1/recents``, keyset cursors (``expire_cursors()``
  invalidates them) and ``update`` / ``add`` / ``delete`` to change the company between
  two audits.

It is read-only: writes get a 405 envelope and are logged, so tests can assert none.
"""

from __future__ import annotations

import base64
import bisect
import json
import math
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from crm_audit_core.connector import FAULT_KINDS, SandboxHandle

from . import mapping

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
V2_LISTS = (
    "persons", "organizations", "deals", "activities", "pipelines", "stages",
    "personFields", "organizationFields", "dealFields", "activityFields",
)
V1_PAGED = ("roles", "notes", "recents")
V1_UNPAGED = ("users", "webhooks")
TOKEN_COST = {"v1": 20, "v2": 10}
ERROR_INFO = "Please check developers.pipedrive.com"

# ---------------------------------------------------------------------------------
# canonical tenant -> Pipedrive records
# ---------------------------------------------------------------------------------


def _rows(tenant: Any, table: str) -> list[dict]:
    if tenant is None:
        return []
    if isinstance(tenant, dict):
        return [dict(r) for r in tenant.get(table) or []]
    tables = getattr(tenant, "tables", {}) or {}
    if table not in tables:
        return []
    return [dict(r) for r in tenant.rows(table)]


def _clean(value):
    return mapping._clean(value)


def _custom_values(row: dict, fields: list[dict]) -> dict:
    out = {}
    for f in fields:
        value = _clean(row.get(f["name"]))
        if value is None and isinstance(row.get("custom"), dict):
            value = row["custom"].get(f["name"])
        out[f["name"]] = value
    return out


class PipedriveData:
    """The emulated company: Pipedrive records per entity, sorted by id."""

    def __init__(self, tenant: Any):
        self.entities: dict[str, list[dict]] = {}
        field_rows = _rows(tenant, "fields")
        custom = {t: [f for f in field_rows if f.get("object") == t and f.get("is_custom")] for t in mapping.FIELD_ENTITIES}
        standard = {t: [f for f in field_rows if f.get("object") == t and not f.get("is_custom")] for t in mapping.FIELD_ENTITIES}

        # Users and roles
        users = _rows(tenant, "users")
        role_names = sorted({_clean(u.get("role")) for u in users if _clean(u.get("role"))})
        role_ids = {name: 9000 + i for i, name in enumerate(role_names, 1)}
        self.entities["roles"] = [
            {"id": rid, "parent_role_id": None, "name": name, "active_flag": True,
             "assignment_count": sum(1 for u in users if u.get("role") == name), "sub_role_count": 0}
            for name, rid in role_ids.items()
        ]
        self.entities["users"] = [mapping.user_from_row(u, role_ids, is_you=(i == 0)) for i, u in enumerate(users)]

        # Pipelines and stages (Pipedrive keeps won/lost as a deal status, not a stage)
        stage_rows = _rows(tenant, "stages")
        deals = _rows(tenant, "deals")
        pipeline_names: list[str] = []
        for name in [s.get("pipeline") for s in stage_rows] + [d.get("pipeline") for d in deals]:
            name = _clean(name)
            if name and name not in pipeline_names:
                pipeline_names.append(name)
        pipeline_ids = {name: 100 + i for i, name in enumerate(pipeline_names, 1)}
        self.entities["pipelines"] = [
            {"id": pid, "name": name, "order_nr": i, "is_deleted": False, "is_deal_probability_enabled": False,
             "add_time": "2020-01-01T00:00:00Z", "update_time": "2020-01-01T00:00:00Z"}
            for i, (name, pid) in enumerate(pipeline_ids.items(), 1)
        ]
        stages: dict[tuple, dict] = {}
        # Pipedrive has no closed stages (won/lost is the deal's status): a won or lost
        # deal stays in the last open stage of its pipeline.
        closed_stages = {(_clean(s.get("pipeline")), _clean(s.get("name"))) for s in stage_rows if _clean(s.get("is_closed"))}
        # deals.stage holds a stage id (as the generator writes it) or a stage name.
        stage_key_by_id = {str(s["id"]): (_clean(s.get("pipeline")), _clean(s.get("name"))) for s in stage_rows}
        stage_rows = [s for s in stage_rows if not _clean(s.get("is_closed"))]
        for s in stage_rows:
            key = (_clean(s.get("pipeline")), _clean(s.get("name")))
            stages[key] = {
                "id": int(s["id"]), "order_nr": int(_clean(s.get("position")) or 0), "name": key[1],
                "is_deleted": False, "deal_probability": 100, "pipeline_id": pipeline_ids.get(key[0]),
                "is_deal_rot_enabled": False, "days_to_rotten": None,
                "add_time": "2020-01-01T00:00:00Z", "update_time": "2020-01-01T00:00:00Z",
            }
        next_stage = max([s["id"] for s in stages.values()] + [0]) + 10_000_000
        last_open: dict = {}
        for key, st in stages.items():
            if key[0] not in last_open or st["order_nr"] > last_open[key[0]][1]:
                last_open[key[0]] = (key, st["order_nr"])
        self.deal_stage: dict[str, tuple] = {}
        for d in deals:
            stage_ref = _clean(d.get("stage"))
            key = stage_key_by_id.get(str(stage_ref)) or (_clean(d.get("pipeline")), stage_ref)
            if key in closed_stages and key[0] in last_open:
                key = last_open[key[0]][0]
            self.deal_stage[str(d["id"])] = key
            if key[1] and key not in stages:
                next_stage += 1
                stages[key] = {
                    "id": next_stage, "order_nr": len(stages) + 1, "name": key[1], "is_deleted": False,
                    "deal_probability": 100, "pipeline_id": pipeline_ids.get(key[0]),
                    "is_deal_rot_enabled": False, "days_to_rotten": None,
                    "add_time": "2020-01-01T00:00:00Z", "update_time": "2020-01-01T00:00:00Z",
                }
        self.entities["stages"] = list(stages.values())

        # Field definitions, with options for enum/set values seen in the data
        contacts = _rows(tenant, "contacts")
        companies = _rows(tenant, "companies")
        activities = _rows(tenant, "activities")
        table_rows = {"contacts": contacts, "companies": companies, "deals": deals, "activities": activities}
        self.options: dict[str, dict[str, dict[str, int]]] = {}  # table -> field -> label -> id
        option_seq = [1]

        def options_for(table: str, name: str, values) -> list[dict]:
            labels = []
            for v in values:
                for item in (v if isinstance(v, (list, tuple)) else [v]):
                    item = _clean(item)
                    if item is not None and str(item) not in labels:
                        labels.append(str(item))
            ids = {}
            for label in labels:
                ids[label] = option_seq[0]
                option_seq[0] += 1
            self.options.setdefault(table, {})[name] = ids
            return [{"id": i, "label": label, "color": None} for label, i in ids.items()]

        for table, entity in mapping.FIELD_ENTITIES.items():
            defs = []
            for f in standard[table]:
                defs.append(mapping.field_to_v2(table, f))
            if table == "contacts":
                segments = options_for("contacts", "label_ids", [c.get("segments") or [] for c in contacts])
                if not any(d["field_code"] == "label_ids" for d in defs):
                    defs.append({"field_name": "Labels", "field_code": "label_ids", "field_type": "set",
                                 "is_custom_field": False, "is_optional_response_field": False,
                                 "options": segments, "subfields": None})
                else:
                    for d in defs:
                        if d["field_code"] == "label_ids":
                            d["options"], d["field_type"] = segments, "set"
            if table == "companies":
                # Website / Industry / Phone are account fields in Pipedrive (keyed by hash).
                for column, label in (("domain", "Website"), ("industry", "Industry"), ("phone", "Phone")):
                    defs.append({"field_name": label, "field_code": mapping.field_hash(table, column),
                                 "field_type": "varchar", "is_custom_field": True,
                                 "is_optional_response_field": False, "options": None, "subfields": None})
            for f in custom[table]:
                opts = None
                values = [r.get(f["name"]) for r in table_rows[table]]
                if f.get("type") in mapping.ENUM_TYPES:
                    opts = options_for(table, f["name"], values) or None
                multi = any(isinstance(v, (list, tuple)) for v in values)
                defs.append(mapping.field_to_v2(table, f, opts, multi=multi))
            self.entities[f"{entity}Fields"] = defs

        # Activities (v2) and notes (v1)
        notes = [a for a in activities if a.get("type") == "note"]
        others = [a for a in activities if a.get("type") != "note"]
        self.entities["activities"] = [self._activity(a, custom["activities"]) for a in others]
        self.entities["notes"] = [
            {"id": int(str(a["id"]).removeprefix(mapping.NOTE_ID_PREFIX)), "user_id": mapping.from_id(_clean(a.get("owner_id"))),
             "deal_id": mapping.from_id(_clean(a.get("deal_id"))), "person_id": mapping.from_id(_clean(a.get("contact_id"))),
             "org_id": mapping.from_id(_clean(a.get("company_id"))), "lead_id": None,
             "content": _clean(a.get("subject")) or "", "add_time": mapping.v1_time(a.get("created_at")),
             "update_time": mapping.v1_time(a.get("created_at")), "active_flag": True,
             "pinned_to_deal_flag": False, "pinned_to_person_flag": False, "pinned_to_organization_flag": False}
            for a in notes
        ]
        last_activity = _last_activities(others)

        self.entities["organizations"] = [self._organization(c, custom["companies"]) for c in companies]
        self.entities["persons"] = [self._person(c, custom["contacts"], last_activity) for c in contacts]
        self.entities["deals"] = [self._deal(d, custom["deals"], pipeline_ids, stages, last_activity) for d in deals]
        self.entities["webhooks"] = [self._webhook(i) for i in _rows(tenant, "integrations")]
        for rows in self.entities.values():
            if rows and "id" in rows[0]:
                rows.sort(key=lambda r: r["id"])

    # -- record builders ------------------------------------------------------------

    def _custom(self, table: str, row: dict, fields: list[dict]) -> dict:
        out = {}
        opts = self.options.get(table, {})
        for name, value in _custom_values(row, fields).items():
            if name in opts and value is not None:
                if isinstance(value, (list, tuple)):
                    value = [opts[name][str(v)] for v in value if _clean(v) is not None] or None
                else:
                    value = opts[name].get(str(value))
            elif isinstance(value, datetime):
                value = mapping.v_date(value)
            out[mapping.field_hash(table, name)] = value
        return out

    def _organization(self, row: dict, fields: list[dict]) -> dict:
        custom = self._custom("companies", row, fields)
        for column in ("domain", "industry", "phone"):
            custom[mapping.field_hash("companies", column)] = _clean(row.get(column))
        return {
            "id": int(row["id"]), "name": _clean(row.get("name")), "owner_id": mapping.from_id(_clean(row.get("owner_id"))),
            "add_time": mapping.v2_time(row.get("created_at")), "update_time": mapping.v2_time(row.get("updated_at")),
            "is_deleted": False, "visible_to": 3, "address": mapping.address_from_row(row), "label_ids": [],
            "custom_fields": custom,
        }

    def _person(self, row: dict, fields: list[dict], last_activity: dict) -> dict:
        first, last = _clean(row.get("first_name")), _clean(row.get("last_name"))
        email, phone = _clean(row.get("email")), _clean(row.get("phone"))
        label_ids = self.options.get("contacts", {}).get("label_ids", {})
        return {
            "id": int(row["id"]), "name": " ".join(p for p in (first, last) if p) or None,
            "first_name": first, "last_name": last, "owner_id": mapping.from_id(_clean(row.get("owner_id"))),
            "org_id": mapping.from_id(_clean(row.get("company_id"))),
            "add_time": mapping.v2_time(row.get("created_at")), "update_time": mapping.v2_time(row.get("updated_at")),
            "emails": [{"value": email, "primary": True, "label": "work"}] if email else [],
            "phones": [{"value": phone, "primary": True, "label": "work"}] if phone else [],
            "is_deleted": False, "visible_to": 3,
            "label_ids": [label_ids[str(s)] for s in (row.get("segments") or []) if str(s) in label_ids],
            "picture_id": None, "postal_address": mapping.address_from_row(row),
            "job_title": _clean(row.get("title")), "notes": None, "birthday": None, "im": [],
            "custom_fields": self._custom("contacts", row, fields),
            "_last_activity_id": last_activity.get(("contact", str(row["id"])), (None, row.get("last_activity_at"))),
        }

    def _deal(self, row: dict, fields: list[dict], pipeline_ids: dict, stages: dict, last_activity: dict) -> dict:
        closed, won = bool(_clean(row.get("is_closed"))), bool(_clean(row.get("is_won")))
        status = ("won" if won else "lost") if closed else "open"
        close = row.get("close_date")
        stage = stages.get(self.deal_stage.get(str(row["id"]), (_clean(row.get("pipeline")), _clean(row.get("stage")))))
        source = _clean(row.get("source"))
        amount = _clean(row.get("amount"))
        return {
            "id": int(row["id"]), "title": _clean(row.get("name")), "creator_user_id": mapping.from_id(_clean(row.get("owner_id"))),
            "owner_id": mapping.from_id(_clean(row.get("owner_id"))), "person_id": mapping.from_id(_clean(row.get("contact_id"))),
            "org_id": mapping.from_id(_clean(row.get("company_id"))),
            "pipeline_id": pipeline_ids.get(_clean(row.get("pipeline"))), "stage_id": stage["id"] if stage else None,
            "value": 0 if amount is None else amount, "currency": _clean(row.get("currency")),
            "add_time": mapping.v2_time(row.get("created_at")), "update_time": mapping.v2_time(row.get("updated_at")),
            "stage_change_time": mapping.v2_time(row.get("updated_at")), "is_deleted": False, "is_archived": False,
            "status": status, "probability": None, "lost_reason": _clean(row.get("lost_reason")), "visible_to": 3,
            "close_time": mapping.v2_time(close) if closed else None,
            "won_time": mapping.v2_time(close) if won else None,
            "lost_time": mapping.v2_time(close) if closed and not won else None,
            "expected_close_date": None if closed else mapping.v_date(close),
            "label_ids": [], "origin": mapping.SOURCE_TO_ORIGIN.get(source) if source else None,
            "origin_id": None, "channel": None, "channel_id": None, "arr": None, "mrr": None, "acv": None,
            "custom_fields": self._custom("deals", row, fields),
            "_last_activity_id": last_activity.get(("deal", str(row["id"])), (None, row.get("last_activity_at"))),
        }

    def _activity(self, row: dict, fields: list[dict]) -> dict:
        due = mapping._as_utc(row.get("due_at"))
        return {
            "id": int(row["id"]), "subject": _clean(row.get("subject")), "type": _clean(row.get("type")),
            "owner_id": mapping.from_id(_clean(row.get("owner_id"))), "creator_user_id": mapping.from_id(_clean(row.get("owner_id"))),
            "is_deleted": False, "add_time": mapping.v2_time(row.get("created_at")),
            "update_time": mapping.v2_time(row.get("completed_at") or row.get("created_at")),
            "deal_id": mapping.from_id(_clean(row.get("deal_id"))), "lead_id": None,
            "person_id": mapping.from_id(_clean(row.get("contact_id"))), "org_id": mapping.from_id(_clean(row.get("company_id"))),
            "project_id": None, "due_date": due.strftime("%Y-%m-%d") if due else None,
            "due_time": due.strftime("%H:%M:%S") if due and due.second else (due.strftime("%H:%M") if due else None),
            "duration": None, "busy": False, "done": bool(_clean(row.get("is_done"))),
            "marked_as_done_time": mapping.v2_time(row.get("completed_at")), "location": None,
            "participants": [{"person_id": int(row["contact_id"]), "primary": True}] if _clean(row.get("contact_id")) else [],
            "attendees": None, "public_description": None, "priority": None, "note": None,
            **({"custom_fields": self._custom("activities", row, fields)} if fields else {}),
        }

    def _webhook(self, row: dict) -> dict:
        status = _clean(row.get("status")) or "active"
        kind = _clean(row.get("kind"))
        return {
            "id": int(row["id"]), "company_id": 1, "owner_id": None, "user_id": None,
            "event_action": "*", "event_object": "*",
            "subscription_url": f"https://hooks.example.com/{row['id']}", "version": "2.0",
            "is_active": 0 if status == "inactive" else 1, "add_time": mapping.v1_time(row.get("created_at")),
            "remove_time": None, "type": mapping.WEBHOOK_TYPES.get(kind, "general"),
            "http_auth_user": None, "http_auth_password": None, "remove_reason": None,
            "last_delivery_time": mapping.v1_time(row.get("last_sync_at")),
            "last_http_status": 500 if status == "failing" else (200 if row.get("last_sync_at") else None),
            "admin_id": None, "name": _clean(row.get("name")),
        }

    def resolve_last_activity(self, record: dict, activity_times: dict) -> int | None:
        ref, _ = record.get("_last_activity_id") or (None, None)
        return ref


def _looks_enum(rows: list[dict], name: str) -> bool:
    values = {str(r.get(name)) for r in rows if _clean(r.get(name)) is not None and isinstance(r.get(name), str)}
    return 0 < len(values) <= 12 and len(rows) > 2 * len(values)


def _activity_time(a: dict):
    return mapping._as_utc(a.get("due_at")) or mapping._as_utc(a.get("completed_at")) or mapping._as_utc(a.get("created_at"))


def _last_activities(activities: list[dict]) -> dict:
    """(kind, id) -> (activity id, time): Pipedrive's ``last_activity_id`` is the latest
    *done* activity linked to the record."""
    out: dict = {}
    for a in activities:
        if not _clean(a.get("is_done")):
            continue
        when = _activity_time(a)
        if when is None:
            continue
        for kind, column in (("contact", "contact_id"), ("deal", "deal_id")):
            ref = _clean(a.get(column))
            if ref is None:
                continue
            key = (kind, str(ref))
            if key not in out or when > out[key][1]:
                out[key] = (int(a["id"]), when)
    return out


# ---------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------


def _envelope_error(status: int, message: str, headers: dict | None = None, **extra) -> Response:
    body = {"success": False, "error": message, "error_info": ERROR_INFO, "data": None, "additional_data": None}
    body.update(extra)
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers or {})


def _encode_cursor(entity: str, position, generation: int = 0) -> str:
    """A stateless cursor naming the last record served (sort key, id), as Pipedrive's
    base64url JSON cursors; ``g`` lets a test make every cursor handed out so far invalid."""
    raw = json.dumps({entity: position, "g": generation}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(entity: str, cursor: str, generation: int = 0):
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded))
        if body.get("g", 0) != generation:
            return None
        key, rid = body[entity]
        return (str(key), int(rid))
    except Exception:
        return None


RECENT_ITEMS = {"person": "persons", "organization": "organizations", "activity": "activities", "note": "notes", "deal": "deals"}
SORT_KEYS = ("id", "update_time", "add_time")


def _now_v2() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _time_key(value) -> str:
    """update_time in one sortable form ('' when missing), whatever its API version."""
    dt = mapping._as_utc(value)
    return "" if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # the request log is ours, not stderr's
        pass

    def log(self, *args, **kwargs):
        pass


class PipedriveSandbox:
    def __init__(
        self,
        tenant: Any,
        *,
        token: str = "sandbox-token",
        rate_limit: int | None = None,
        burst_window: float = 2.0,
        daily_budget: int = 1_000_000,
        daily_used: int = 0,
        fault_retry_after: float = 0.05,
        slow_seconds: float = 2.0,
    ):
        self.data = PipedriveData(tenant)
        self.tokens = {token}
        self.token = token
        self.rate_limit = rate_limit
        self.burst_window = burst_window
        self.daily_budget = daily_budget
        self.daily_used = daily_used
        self.fault_retry_after = fault_retry_after
        self.slow_seconds = slow_seconds
        self.requests: list[dict] = []
        self.faults: list[list] = []
        self._times: dict[str, deque] = {}
        self._lock = threading.Lock()
        self._activity_times = {a["id"]: a for a in self.data.entities["activities"]}
        # Deleted records (entity -> id -> record with is_deleted/update_time), served by
        # /v2/deals?status=deleted and /v1/recents, as Pipedrive keeps them for 30 days.
        self.deleted: dict[str, dict[int, dict]] = {}
        self.cursor_generation = 0
        self._version = 0
        self._views: dict = {}

    # -- tenant changes between audits (tests) ----------------------------------------

    def _find(self, entity: str, record_id) -> dict:
        for record in self.data.entities[entity]:
            if record.get("id") == int(record_id):
                return record
        raise KeyError(f"{entity} {record_id} not in the sandbox")

    def _touched(self, entity: str, record: dict, when: str | None = None) -> None:
        when = when or _now_v2()
        record["update_time"] = mapping.v1_time(when) if entity == "notes" else when
        self._version += 1

    def update(self, entity: str, record_id, when: str | None = None, **values) -> dict:
        """Change a record (Pipedrive field names) and bump its update_time to now."""
        with self._lock:
            record = self._find(entity, record_id)
            record.update(values)
            self._touched(entity, record, when)
            return record

    def add(self, entity: str, record: dict, when: str | None = None) -> dict:
        """Add a record (Pipedrive shape, with its id); add_time/update_time default to now."""
        with self._lock:
            record = dict(record)
            record.setdefault("add_time", mapping.v1_time(when or _now_v2()) if entity == "notes" else (when or _now_v2()))
            self.data.entities[entity].append(record)
            self.data.entities[entity].sort(key=lambda r: r["id"])
            self._touched(entity, record, when)
            return record

    def delete(self, entity: str, record_id, when: str | None = None) -> dict:
        """Delete a record: gone from the lists, kept in the deleted feeds."""
        with self._lock:
            record = self._find(entity, record_id)
            self.data.entities[entity].remove(record)
            record = dict(record, is_deleted=True, active_flag=False)
            if entity == "deals":
                record["status"] = "deleted"
            self._touched(entity, record, when)
            self.deleted.setdefault(entity, {})[record["id"]] = record
            return record

    def expire_cursors(self) -> None:
        """Every cursor handed out so far becomes invalid (HTTP 400), as an expired one would."""
        with self._lock:
            self.cursor_generation += 1

    # -- control -------------------------------------------------------------------

    def inject(self, kind: str, times: int = 1, path_contains: str | None = None, after: int = 0) -> None:
        """Fail the next ``times`` matching requests, once ``after`` matching ones succeeded."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        with self._lock:
            self.faults.append([kind, times, path_contains, after])

    def _take_fault(self, path: str) -> str | None:
        with self._lock:
            for fault in self.faults:
                kind, times, contains, after = fault
                if times > 0 and (contains is None or contains in path):
                    if after > 0:
                        fault[3] -= 1
                        return None
                    fault[1] -= 1
                    return kind
        return None

    # -- WSGI ----------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        entry = {"method": request.method, "path": request.path, "query": request.args.to_dict(), "status": None}
        with self._lock:
            self.requests.append(entry)
        response = self._handle(request, environ, entry)
        if response is None:  # dropped connection
            entry["status"] = 0
            return []
        entry["status"] = response.status_code
        return response(environ, start_response)

    def _token_of(self, request: Request) -> str | None:
        token = request.headers.get("x-api-token") or request.args.get("api_token")
        auth = request.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        return token

    def _handle(self, request: Request, environ, entry) -> Response | None:
        path = request.path
        fault = self._take_fault(path)
        token = self._token_of(request)
        if fault == "expire-token" and token:
            with self._lock:
                self.tokens.discard(token)
        if token not in self.tokens:
            return _envelope_error(401, "unauthorized access", errorCode=401)

        version, resource = self._route(path)
        cost = TOKEN_COST.get(version or "v1", 20)
        limit_headers, limited = self._rate(token, cost)
        if limited is not None:
            return limited

        if fault == "429":
            after = self.fault_retry_after
            return _envelope_error(429, "Too many requests", headers={
                **limit_headers, "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(after), "Retry-After": str(after)})
        if fault in ("500", "503"):
            msg = "Internal server error" if fault == "500" else "Requested service is not available"
            return _envelope_error(int(fault), msg, headers=limit_headers)
        if fault == "drop":
            sock = environ.get("werkzeug.socket")
            if sock is not None:
                try:
                    import socket as _socket

                    sock.shutdown(_socket.SHUT_RDWR)
                except OSError:
                    pass
            return None
        if fault == "slow":
            time.sleep(self.slow_seconds)

        if request.method != "GET":
            return _envelope_error(405, "Method not allowed in the read-only sandbox", headers=limit_headers)
        if resource is None:
            return _envelope_error(404, f"Unknown method {path}", headers=limit_headers)
        response = self._serve(version, resource, request, limit_headers)
        if fault == "malformed" and response.status_code == 200:
            response = Response("<html><body>502 Bad Gateway</body></html>", status=200,
                                mimetype="application/json", headers=limit_headers)
        if fault == "truncated" and response.status_code == 200:
            body = response.get_data()
            response = Response(body[: max(1, len(body) // 2)], status=200, mimetype="application/json", headers=limit_headers)
        return response

    def _route(self, path: str) -> tuple[str | None, str | None]:
        parts = [p for p in path.split("/") if p]
        if len(parts) == 3 and parts[0] == "api" and parts[1] == "v2" and parts[2] in V2_LISTS:
            return "v2", parts[2]
        if len(parts) == 3 and parts[0] == "api" and parts[1] == "v1" and parts[2] in V1_PAGED + V1_UNPAGED:
            return "v1", parts[2]
        if len(parts) == 2 and parts[0] == "v1" and parts[1] in V1_PAGED + V1_UNPAGED:
            return "v1", parts[1]
        if parts[:2] == ["api", "v2"]:
            return "v2", None
        return "v1", None

    def _rate(self, token: str, cost: int) -> tuple[dict, Response | None]:
        now = time.monotonic()
        with self._lock:
            window = self._times.setdefault(token, deque())
            while window and now - window[0] >= self.burst_window:
                window.popleft()
            limit = self.rate_limit
            daily_left = self.daily_budget - self.daily_used
            headers = {
                "x-daily-ratelimit-token-limit": str(self.daily_budget),
            }
            if daily_left < cost:
                headers["x-daily-ratelimit-token-remaining"] = "0"
                seconds = 86400 - (time.time() % 86400)
                headers["Retry-After"] = str(int(seconds))
                return headers, _envelope_error(429, "Daily API token budget exceeded", headers=headers)
            if limit is not None and len(window) >= limit:
                reset = max(0.01, self.burst_window - (now - window[0]))
                headers.update({
                    "x-daily-ratelimit-token-remaining": str(daily_left),
                    "x-ratelimit-limit": str(limit), "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": f"{reset:.2f}", "Retry-After": f"{reset:.2f}",
                })
                return headers, _envelope_error(429, "Request over limit", headers=headers)
            window.append(now)
            self.daily_used += cost
            headers["x-daily-ratelimit-token-remaining"] = str(self.daily_budget - self.daily_used)
            shown = limit if limit is not None else 80
            headers.update({
                "x-ratelimit-limit": str(shown),
                "x-ratelimit-remaining": str(max(0, shown - len(window))),
                "x-ratelimit-reset": str(math.ceil(self.burst_window)),
            })
            return headers, None

    def _serve(self, version: str, resource: str, request: Request, headers: dict) -> Response:
        records = self.data.entities.get(resource, [])
        if resource in V1_UNPAGED:
            return self._json({"success": True, "data": [self._public(r) for r in records]}, headers)
        try:
            limit = int(request.args.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return _envelope_error(400, "limit must be an integer", headers=headers)
        if limit < 1 or limit > MAX_LIMIT:
            return _envelope_error(400, f"limit must be between 1 and {MAX_LIMIT}", headers=headers)
        if resource in V1_PAGED:
            if resource == "recents":
                if not request.args.get("since_timestamp"):
                    return _envelope_error(400, "since_timestamp is required", headers=headers)
                records = self._recents(request)
            start = int(request.args.get("start", 0) or 0)
            page = records[start : start + limit]
            more = start + limit < len(records)
            pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
            if more:
                pagination["next_start"] = start + limit
            data = page if resource == "recents" else [self._public(r) for r in page]
            return self._json({"success": True, "data": data, "additional_data": {"pagination": pagination}}, headers)
        cursor = request.args.get("cursor")
        sort_by = request.args.get("sort_by", "id")
        if sort_by not in SORT_KEYS:
            return _envelope_error(400, f"sort_by must be one of {', '.join(SORT_KEYS)}", headers=headers)
        since = request.args.get("updated_since")
        if since:
            try:
                since = _time_key(since)
            except ValueError:
                return _envelope_error(400, "updated_since must be RFC3339", headers=headers)
        status = request.args.get("status") if resource == "deals" else None
        keys, view = self._view(resource, sort_by, since, status)
        start = 0
        if cursor:
            position = _decode_cursor(resource, cursor, self.cursor_generation)
            if position is None:
                return _envelope_error(400, "Invalid cursor", headers=headers)
            start = bisect.bisect_right(keys, position)
        page = view[start : start + limit]
        more = start + limit < len(view)
        include = set(filter(None, request.args.get("include_fields", "").split(",")))
        data = [self._public(r, include) for r in page]
        next_cursor = _encode_cursor(resource, list(keys[start + limit - 1]), self.cursor_generation) if more else None
        return self._json({"success": True, "data": data, "additional_data": {"next_cursor": next_cursor}}, headers)

    def _view(self, resource: str, sort_by: str, since: str | None, status: str | None):
        """Records of ``resource`` filtered and sorted (cached until the tenant changes)."""
        cache_key = (resource, sort_by, since, status, self._version)
        with self._lock:
            hit = self._views.get(cache_key)
            if hit is not None:
                return hit
            if status:
                wanted = set(status.split(","))
                records = []
                if wanted - {"deleted"}:
                    records += [r for r in self.data.entities.get(resource, []) if r.get("status") in wanted]
                if "deleted" in wanted:
                    records += list(self.deleted.get(resource, {}).values())
            else:
                records = self.data.entities.get(resource, [])
            if since:
                records = [r for r in records if _time_key(r.get("update_time")) >= since]
            if sort_by == "id":
                keyed = sorted((("", int(r["id"])), r) for r in records) if records and "id" in records[0] else [(("", i), r) for i, r in enumerate(records)]
            else:
                keyed = sorted(((_time_key(r.get(sort_by)), int(r["id"])), r) for r in records)
            keys = [k for k, _ in keyed]
            view = [r for _, r in keyed]
            if len(self._views) > 64:
                self._views.clear()
            self._views[cache_key] = (keys, view)
            return keys, view

    def _recents(self, request: Request) -> list[dict]:
        """/v1/recents: changes since ``since_timestamp`` (UTC, ``YYYY-MM-DD HH:MM:SS``),
        oldest first; a deleted record comes back with ``active_flag: false``."""
        since = _time_key(request.args.get("since_timestamp"))
        items = [i for i in (request.args.get("items") or ",".join(RECENT_ITEMS)).split(",") if i in RECENT_ITEMS]
        out = []
        with self._lock:
            for item in items:
                entity = RECENT_ITEMS[item]
                for record in self.data.entities.get(entity, []):
                    if _time_key(record.get("update_time")) >= since:
                        out.append({"item": item, "id": record["id"], "data": dict(self._public(record), active_flag=True)})
                for record in self.deleted.get(entity, {}).values():
                    if _time_key(record.get("update_time")) >= since:
                        out.append({"item": item, "id": record["id"],
                                    "data": {"id": record["id"], "active_flag": False, "update_time": record["update_time"]}})
        out.sort(key=lambda e: (_time_key(e["data"].get("update_time")), e["item"], e["id"]))
        return out

    @staticmethod
    def _public(record: dict, include: set | None = None) -> dict:
        out = {k: v for k, v in record.items() if not k.startswith("_")}
        if include and "last_activity_id" in include and "_last_activity_id" in record:
            out["last_activity_id"] = record["_last_activity_id"][0]
        return out

    @staticmethod
    def _json(body: dict, headers: dict) -> Response:
        return Response(json.dumps(body, default=str), status=200, mimetype="application/json", headers=headers)


def start_sandbox(tenant: Any, *, token: str = "sandbox-token", rate_limit: int | None = None, **kwargs) -> SandboxHandle:
    """Serve ``tenant`` as Pipedrive on 127.0.0.1 (an ephemeral port) in a daemon thread.

    kwargs: ``burst_window`` (s, default 2), ``daily_budget`` (tokens, default 1,000,000),
    ``daily_used`` (tokens already spent today by others), ``fault_retry_after`` (s, the
    Retry-After of an injected 429), ``slow_seconds`` (delay of an injected slow response).
    """
    app = PipedriveSandbox(tenant, token=token, rate_limit=rate_limit, **kwargs)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="pipedrive-sandbox", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return SandboxHandle(
        url=url,
        options={"api_token": token, "base_url": url},
        stop=stop,
        requests=app.requests,
        inject=app.inject,
        read_only_posts=(),
        extra={"app": app, "data": app.data},
    )
