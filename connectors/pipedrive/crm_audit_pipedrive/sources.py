"""Where Pipedrive records came from, and the integrations that put them there.

Pipedrive says how a deal or a lead was created in four fields (developers.pipedrive.com
changelog, "Introducing 4 new fields for Leads and Deals", 2024-05-20; the official
client's ``Deal`` (v2) and ``Lead`` (v1) models):

* ``origin``: set by Pipedrive, read-only: ``ManuallyCreated``, ``Import``, ``API``,
  ``WebForms``, ``LeadBooster``, ``Prospector``, ...;
* ``origin_id``: "the optional ID to further distinguish the origin ... e.g. which API
  integration created this deal"; the batch id of an import; an API client may supply it;
* ``channel`` (a marketing channel option id) and ``channel_id`` (free text), editable.

Persons and organizations carry none of these (their v2 models have no origin), so a
person's or an organization's source is the origin of the lead that brought it in: the
earliest lead naming it, added within :data:`LEAD_WINDOW` of the record itself. A person
or organization that Pipedrive someday returns with its own ``origin`` takes that instead.

Integrations: Pipedrive lists no installed apps. What it shows is ``/v1/webhooks`` (apps and
users subscribe to events; ``last_delivery_time`` and ``last_http_status`` tell whether the
deliveries still work) and the ``origin_id`` names on records. One integration row per
webhook name, and one per integration name seen only on records.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from .values import clean, to_id, utc_datetime, v1_time

# ``origin`` -> canonical ``source`` (model.SOURCES). An origin not listed here is one of
# Pipedrive's add-ons or apps creating the record: "integration", named by the origin.
ORIGIN_TO_SOURCE = {
    "ManuallyCreated": "ui",
    "Deal": "ui",
    "Import": "import",
    "API": "api",
    "WebForms": "form",
    "LeadBooster": "form",
    "LiveChat": "form",
    "WebVisitors": "form",
    "Chatbot": "form",
}
# The sandbox's inverse: an integration writes through the API and names itself in origin_id.
SOURCE_TO_ORIGIN = {"ui": "ManuallyCreated", "import": "Import", "api": "API", "form": "WebForms", "integration": "API"}

# A lead added this long before or after a person or organization is the one that brought it in.
LEAD_WINDOW = timedelta(hours=1)


def origin_to_source(origin: Any, origin_id: Any = None) -> tuple[str | None, str | None]:
    """(source, source_detail) of a record's ``origin`` / ``origin_id``.

    ``API`` with an ``origin_id`` is an integration named by it (the documented use of the
    field); without one it is plain API use. Imports keep their batch id, forms their form."""
    origin, detail = clean(origin), clean(origin_id)
    if not origin:
        return None, None
    detail = str(detail) if detail not in (None, "") else None
    source = ORIGIN_TO_SOURCE.get(str(origin), "integration")
    if source == "api" and detail:
        return "integration", detail
    if source == "integration":
        return source, detail or str(origin)
    if source == "ui":
        return source, None
    return source, detail


def source_to_origin(source: Any, detail: Any) -> tuple[str | None, str | None]:
    """The inverse, for the sandbox: (origin, origin_id) of a canonical source."""
    source, detail = clean(source), clean(detail)
    if not source:
        return None, None
    origin = SOURCE_TO_ORIGIN.get(str(source), "API")
    if origin == "ManuallyCreated" or (source == "api"):
        return origin, None
    return origin, (str(detail) if detail is not None else None)


class LeadOrigins:
    """The earliest lead of each person and organization: ``(add_time, origin, origin_id)``.
    Built from every lead, archived or not (two lists, 500 a page)."""

    def __init__(self):
        self.first: dict[tuple[str, str], tuple[datetime, Any, Any]] = {}
        self.count = 0

    def add(self, lead: dict) -> None:
        self.count += 1
        when = utc_datetime(lead.get("add_time"))
        if when is None or not lead.get("origin"):
            return
        for kind, column in (("person", "person_id"), ("organization", "organization_id")):
            ref = to_id(lead.get(column))
            if ref is None:
                continue
            kept = self.first.get((kind, ref))
            if kept is None or when < kept[0]:
                self.first[(kind, ref)] = (when, lead.get("origin"), lead.get("origin_id"))

    def source_of(self, kind: str, record: dict) -> tuple[str | None, str | None]:
        """(source, source_detail) of a person or organization."""
        if record.get("origin"):  # not in today's API; taken if Pipedrive adds it
            return origin_to_source(record.get("origin"), record.get("origin_id"))
        kept = self.first.get((kind, to_id(record.get("id"))))
        created = utc_datetime(record.get("add_time"))
        if kept is None or created is None or abs(kept[0] - created) > LEAD_WINDOW:
            return None, None
        return origin_to_source(kept[1], kept[2])


def lead_for(kind: str, row: dict, record_id: int) -> dict | None:
    """The lead that brought a canonical contact or company in (sandbox side), or None
    when the row has no source."""
    origin, origin_id = source_to_origin(row.get("source"), row.get("source_detail"))
    if origin is None:
        return None
    added = utc_datetime(row.get("created_at"))
    stamp = added.strftime("%Y-%m-%dT%H:%M:%S.000Z") if added else None
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"pipedrive-sandbox/{kind}/{record_id}")),
        "title": f"{'Person' if kind == 'person' else 'Organization'} {record_id} lead",
        "owner_id": None, "creator_id": None, "label_ids": [],
        "person_id": record_id if kind == "person" else None,
        "organization_id": record_id if kind == "organization" else None,
        "source_name": {"ManuallyCreated": "Manually created", "WebForms": "Web forms"}.get(origin, origin),
        "origin": origin, "origin_id": origin_id, "channel": None, "channel_id": None,
        "source_deal_id": None, "is_archived": True, "was_seen": True, "value": None,
        "expected_close_date": None, "next_activity_id": None, "add_time": stamp, "update_time": stamp,
        "visible_to": "3",
    }


# Integrations


WEBHOOK_KINDS = {"general": "webhook", "application": "app", "automation": "automation"}
WEBHOOK_TYPES = {v: k for k, v in WEBHOOK_KINDS.items()}


def webhook_failing(hook: dict) -> bool:
    """Its last delivery got an answer outside 2xx (the subscriber is broken)."""
    code = hook.get("last_http_status")
    try:
        return code not in (None, "") and not 200 <= int(code) < 300
    except (TypeError, ValueError):
        return False


def webhook_name(hook: dict) -> str:
    return clean(hook.get("name")) or str(hook.get("subscription_url") or f"webhook {hook.get('id')}")


def integration_rows(hooks: list[dict], activity: dict[str, tuple[str, datetime, datetime]]) -> list[dict]:
    """One row per integration: the webhooks grouped by name, then every integration name
    seen only on records (``activity``: lower-cased name -> (name, first, last record)).

    status (one of model.INTEGRATION_STATUSES): ``error`` when a webhook's last delivery failed, whatever ``is_active`` says;
    else ``active`` when one is active, else ``inactive``; unknown (None) for an integration
    seen only on records. last_sync_at: the latest of its last delivery and its newest record."""
    groups: dict[str, list[dict]] = {}
    for hook in hooks:
        groups.setdefault(webhook_name(hook).lower(), []).append(hook)
    rows = []
    for key, group in groups.items():
        name = webhook_name(group[0])
        if any(webhook_failing(h) for h in group):
            status = "error"
        elif any(bool(h.get("is_active")) for h in group):
            status = "active"
        else:
            status = "inactive"
        times = [utc_datetime(h.get("last_delivery_time")) for h in group]
        seen = activity.get(key)
        if seen is not None:
            times.append(seen[2])
        times = [t for t in times if t is not None]
        created = [t for t in (utc_datetime(h.get("add_time")) for h in group) if t is not None]
        kinds = sorted({WEBHOOK_KINDS.get(h.get("type"), h.get("type") or "webhook") for h in group})
        rows.append({
            "id": min((to_id(h.get("id")) for h in group), key=lambda i: (len(i), i)),
            "name": name,
            "kind": ", ".join(kinds),
            "status": status,
            "last_sync_at": max(times) if times else None,
            "created_at": min(created) if created else None,
            "raw": {"webhooks": [{k: v for k, v in h.items() if k != "http_auth_password"} for h in group]},
        })
    for key, (name, first, last) in sorted(activity.items()):
        if key in groups:
            continue
        rows.append({"id": f"origin:{name}", "name": name, "kind": "api", "status": None,
                     "last_sync_at": last, "created_at": first, "raw": {"seen_on_records": True}})
    return rows


def record_activity(rows) -> dict[str, tuple[str, datetime, datetime]]:
    """(source, source_detail, created_at) tuples -> lower-cased integration name ->
    (name as first seen, oldest record, newest record), for records whose source is integration."""
    out: dict[str, tuple[str, datetime, datetime]] = {}
    for source, detail, created in rows:
        created = utc_datetime(created)
        if source != "integration" or not detail or created is None:
            continue
        key = str(detail).lower()
        name, first, last = out.get(key, (str(detail), created, created))
        out[key] = (name, min(first, created), max(last, created))
    return out


def row_to_webhook(row: dict) -> dict:
    """A canonical integration -> a v1 webhook (sandbox side). A kind Pipedrive has no
    webhook type for is an installed app's (type ``application``)."""
    status = clean(row.get("status")) or "active"
    kind = clean(row.get("kind"))
    failing = status in ("error", "failing")
    return {
        "id": int(row["id"]), "company_id": 1, "owner_id": None, "user_id": None,
        "event_action": "*", "event_object": "*",
        "subscription_url": f"https://hooks.example.com/{row['id']}", "version": "2.0",
        "is_active": 0 if status == "inactive" else 1, "add_time": v1_time(row.get("created_at")),
        "remove_time": None, "type": WEBHOOK_TYPES.get(kind, "application"),
        "http_auth_user": None, "http_auth_password": None, "remove_reason": None,
        "last_delivery_time": v1_time(row.get("last_sync_at")),
        "last_http_status": 500 if failing else (200 if row.get("last_sync_at") else None),
        "admin_id": None, "name": clean(row.get("name")),
    }
