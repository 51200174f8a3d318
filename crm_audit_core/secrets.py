"""Keep secrets out of logs, reports, snapshots and exception messages."""

from __future__ import annotations

import re

SECRET_KEY_PATTERN = re.compile(
    r"(token|secret|password|passwd|api[_-]?key|private[_-]?key|session[_-]?id|credential|auth)",
    re.IGNORECASE,
)

_known: set[str] = set()


def remember(value: str | None) -> None:
    """Register a secret value so :func:`redact` removes it from any text."""
    if value and len(value) >= 4:
        _known.add(value)


def is_secret_key(key: str) -> bool:
    return bool(SECRET_KEY_PATTERN.search(key))


def redact(text: str) -> str:
    """Replace every remembered secret in ``text`` with ``***`` (a translatable Message
    holding no secret is returned as it is, its template kept)."""
    if not text:
        return text
    if not any(value in text for value in _known):
        return text
    for value in sorted(_known, key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text


def scrub_mapping(data):
    """A deep copy of ``data`` with secret-named keys and remembered values masked."""
    if isinstance(data, dict):
        return {
            k: ("***" if is_secret_key(str(k)) and v not in (None, "") else scrub_mapping(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [scrub_mapping(v) for v in data]
    if isinstance(data, str):
        return redact(data)
    return data
