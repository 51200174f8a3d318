"""Wording shared by the checks' messages: counts with the right plural."""

from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``"1 group"``, ``"3 groups"``; ``many`` for irregular plurals (``plural(n, "entry", "entries")``)."""
    return f"{n:,} {noun if n == 1 else (many or noun + 's')}"
