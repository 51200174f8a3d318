"""Building SOQL: statements, conditions, date-time literals, and splitting a field list
that would make a query too long (a REST query URL over ``max_url_length``, a Bulk SOQL
over ``max_soql_length``) into several queries that are joined on ``Id``."""

from __future__ import annotations

from datetime import timezone
from typing import Any
from urllib.parse import quote_plus

from . import mapping as m

UTC = timezone.utc


def and_(*conditions: str | None) -> str | None:
    """The conditions that are set, ANDed; None when none is."""
    parts = [c for c in conditions if c]
    return " AND ".join(parts) if parts else None


def soql_datetime(value: Any) -> str:
    """A date-time as a SOQL literal (UTC, seconds)."""
    when = m.utc_datetime(value)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql(fields: list[str], sobject: str, where: str | None, order: str | None = None) -> str:
    text = f"SELECT {', '.join(fields)} FROM {sobject}"
    if where:
        text += f" WHERE {where}"
    if order:
        text += f" ORDER BY {order}"
    return text


def field_chunks(fields: list[str], sobject: str, where: str | None, *, bulk: bool, order: str | None,
                 base_url: str, max_url_length: int, max_soql_length: int) -> list[list[str]]:
    """Split a field list so each query fits the URL (REST) or SOQL (Bulk) limit; every
    chunk but a lone one starts with ``Id`` so the parts can be joined."""

    def fits(candidate: list[str]) -> bool:
        text = soql(candidate, sobject, where, order)
        if bulk:
            return len(text) <= max_soql_length
        return len(base_url) + len("query/?q=") + len(quote_plus(text)) <= max_url_length

    if fits(fields):
        return [fields]
    chunks: list[list[str]] = []
    current = ["Id"]
    for f in fields:
        if f == "Id":
            continue
        if fits(current + [f]):
            current.append(f)
        else:
            chunks.append(current)
            current = ["Id", f]
    chunks.append(current)
    return chunks
