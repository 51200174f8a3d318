"""HubSpot's CRM search, evaluated over the sandbox's objects.

``filter_and_sort`` applies a search body's ``filterGroups`` (groups OR-ed, filters in a
group AND-ed; EQ, NEQ, GT(E), LT(E), IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY,
CONTAINS_TOKEN) and ``sorts``. Date properties compare as instants whether a value is
epoch milliseconds or ISO text; numbers compare as numbers. Paging and the 10,000-result
cap are the endpoint's (app.py).
"""

from __future__ import annotations

from typing import Any

from .. import mapping
from .builders import DATETIME_PROPERTIES


def _millis(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if str(value).isdigit():
        return str(value)
    return str(int(mapping.utc_datetime(value).timestamp() * 1000))


def _sort_key(value: Any):
    text = "" if value is None else str(value)
    if text.isdigit():
        return (0, int(text), "")
    try:
        return (0, int(mapping.utc_datetime(text).timestamp() * 1000), "")
    except ValueError:
        return (1, 0, text)


def _number(value: Any) -> Any:
    if value not in (None, "") and str(value).replace(".", "", 1).lstrip("-").isdigit():
        return float(value)
    return value


def _passes(obj: dict, f: dict) -> bool:
    """Whether ``obj`` passes one filter."""
    value = obj["properties"].get(f.get("propertyName")) if f.get("propertyName") != "hs_object_id" else obj["id"]
    op, target = f.get("operator", "EQ"), f.get("value")
    if f.get("propertyName") in DATETIME_PROPERTIES:  # epoch milliseconds or ISO, compared as instants
        value, target = _millis(value), _millis(target)
    if op == "HAS_PROPERTY":
        return value not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if op == "IN":
        return value in (f.get("values") or [])
    if op == "NOT_IN":
        return value not in (f.get("values") or [])
    if value is None:
        return op == "NEQ"
    a, b = _number(value), _number(target)
    if type(a) is not type(b):
        a, b = str(value), str(target)
    return {"EQ": a == b, "NEQ": a != b, "GT": a > b, "GTE": a >= b, "LT": a < b, "LTE": a <= b,
            "CONTAINS_TOKEN": str(target).lower() in str(value).lower()}.get(op, False)


def matches(obj: dict, groups: list[dict]) -> bool:
    """Whether ``obj`` passes any of the filter groups (all objects pass no groups)."""
    if not groups:
        return True
    return any(all(_passes(obj, f) for f in g.get("filters") or []) for g in groups)


def filter_and_sort(objects: list[dict], body: dict) -> list[dict]:
    """The objects a search body selects, in its sort order (stable; last sort first)."""
    items = [o for o in objects if matches(o, body.get("filterGroups") or [])]
    for sort in reversed(body.get("sorts") or []):
        name = sort if isinstance(sort, str) else sort.get("propertyName")
        descending = isinstance(sort, dict) and sort.get("direction") == "DESCENDING"
        items.sort(key=lambda o: (o["properties"].get(name) is None, _sort_key(o["properties"].get(name))),
                   reverse=descending)
    return items
