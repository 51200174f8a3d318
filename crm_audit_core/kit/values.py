"""Values every connector reads the same way, so each vendor module does not parse them again."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

UTC = timezone.utc


def utc_datetime(value: Any) -> datetime | None:
    """A vendor's timestamp as an aware UTC datetime (None for None or an empty string).

    Takes datetimes (naive = UTC), dates (midnight UTC), epoch milliseconds (an int or a
    string of digits, as HubSpot sends them) and ISO-8601 text in the shapes CRMs use:
    ``2024-03-05T10:22:33.000Z``, ``...+0000`` (Salesforce REST), ``...+07:00``,
    ``2024-03-05 10:22:33`` (Pipedrive v1, UTC) and ``2024-03-05``. A text it cannot read
    raises ValueError."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
