"""Pipedrive's scalar values <-> canonical ones: ids, timestamps (v1 and v2 forms), dates,
addresses, primary emails and phones. Shared by the record mapping, the field catalog, the
connector's paging and the sandbox."""

from __future__ import annotations

from datetime import timezone
from typing import Any

from crm_audit_core.kit import utc_datetime

UTC = timezone.utc


def to_id(value: Any) -> str | None:
    """Pipedrive ids are integers (v1 sometimes nests them as ``{"value": id, ...}``)."""
    if value is None or value == "":
        return None
    if isinstance(value, dict):
        value = value.get("value", value.get("id"))
        if value is None:
            return None
    return str(value)


def from_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def v2_time(value: Any) -> str | None:
    dt = utc_datetime(value)
    return None if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def v1_time(value: Any) -> str | None:
    dt = utc_datetime(value)
    return None if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S")


def v_date(value: Any) -> str | None:
    dt = utc_datetime(value)
    return None if dt is None else dt.strftime("%Y-%m-%d")


def clean(value: Any) -> Any:
    """None for NaN and empty strings (pyarrow/pandas hand NaN for missing floats)."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    return value


_ADDRESS_COLUMNS = ("street", "city", "state", "postal_code", "country")


def address_to_columns(address: Any) -> dict:
    if not isinstance(address, dict):
        return {c: None for c in _ADDRESS_COLUMNS}
    route = address.get("route")
    number = address.get("street_number")
    street = " ".join(p for p in (route, number) if p) or None
    if street is None and not any(address.get(k) for k in ("locality", "country", "postal_code")):
        street = address.get("value") or None
    return {
        "street": street,
        "city": address.get("locality"),
        "state": address.get("admin_area_level_1"),
        "postal_code": address.get("postal_code"),
        "country": address.get("country"),
    }


def address_from_row(row: dict) -> dict | None:
    parts = {c: clean(row.get(c)) for c in _ADDRESS_COLUMNS}
    if not any(parts.values()):
        return None
    formatted = ", ".join(str(v) for v in (parts["street"], parts["postal_code"], parts["city"], parts["state"], parts["country"]) if v)
    return {
        "value": formatted,
        "street_number": None,
        "route": parts["street"],
        "subpremise": None,
        "sublocality": None,
        "locality": parts["city"],
        "admin_area_level_1": parts["state"],
        "admin_area_level_2": None,
        "country": parts["country"],
        "postal_code": parts["postal_code"],
        "formatted_address": formatted,
    }


def primary_value(items: Any) -> str | None:
    if not isinstance(items, list) or not items:
        return None
    for item in items:
        if isinstance(item, dict) and item.get("primary") and item.get("value"):
            return item["value"]
    first = items[0]
    return (first.get("value") if isinstance(first, dict) else first) or None
