"""Making untrusted CRM data safe in outputs (spreadsheets)."""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value) -> str:
    """A CSV cell a spreadsheet will show as text, never run as a formula.

    Cells starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return get a leading
    apostrophe (the OWASP recommendation for CSV injection).
    """
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text
