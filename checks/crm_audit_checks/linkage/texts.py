"""How the duplicate checks' evidence reads to a person, in the report's language.

The linkage code names its comparisons, their levels and the keep rules in plain
English (``"given name"``, ``"one typo"``, ``"most complete"``): those names are keys in
report.json (``metrics.model``, ``metrics.pairs``, ``metrics.keep_choices``) and stay
as they are. Where a reader sees them (a pair's explanation, "compared on ...", "keep
this record (most complete: ...)"), this module gives them as translatable templates:
:func:`comparison`, :func:`level`, :func:`keep_rule` and :func:`pair`. A name this
module does not know (an identifier column the user named, ``cf_nik``) is CRM data and
is shown as it is.
"""

from __future__ import annotations

from functools import lru_cache

from crm_audit_core import Message, Percent

from ..i18n import _

COMPARISONS = {
    "given name": _("given name"),
    "family name": _("family name"),
    "e-mail": _("e-mail"),
    "phone": _("phone"),
    "company": _("company"),
    "street": _("street"),
    "postal code and city": _("postal code and city"),
    "company name": _("company name"),
    "web domain": _("web domain"),
    "country": _("country"),
    # deals (compared by rules, not by the model)
    "deal name": _("deal name"),
    "contact": _("contact"),
    "amount": _("amount"),
    "pipeline": _("pipeline"),
}
"""Comparison labels (``linkage.records``; the deal rules' fields) -> their template."""

LEVELS = {
    "different": _("different"),
    "similar": _("similar"),
    "one typo": _("one typo"),
    "identical": _("identical"),
    "similar company name": _("similar company name"),
    "same work domain": _("same work domain"),
    "same company": _("same company"),
    "same street, other number": _("same street, other number"),
    "same house number": _("same house number"),
    "same state": _("same state"),
    "same city": _("same city"),
    "same postal code": _("same postal code"),
    "same postal code and city": _("same postal code and city"),
    "one character apart": _("one character apart"),
}
"""Level names of the comparisons (``linkage.records``) -> their template."""

KEEP_RULES = {
    "most complete": _("most complete"),
    "most activity": _("most activity"),
    "oldest": _("oldest"),
    "most recent": _("most recently updated"),
    "lowest id": _("lowest id"),
}
"""Keep rules (the ``keep`` setting) and the tie-breaks that may decide instead -> their template."""


def comparison(label: str) -> str:
    """A comparison's label for the reader (an identifier column's name as it is)."""
    return COMPARISONS.get(label, label)


def level(name: str) -> str:
    """A comparison level's name for the reader."""
    return LEVELS.get(name, name)


def keep_rule(rule: str) -> str:
    """The rule that chose a group's keeper, for the reader."""
    return KEEP_RULES.get(rule, rule)


def field(label: str, level_name: str, bits: float) -> Message:
    """One comparison of a pair with its weight: ``e-mail identical (+16.6)``."""
    return _field(label, level_name, round(float(bits), 1) + 0.0)  # + 0.0: no "-0"


@lru_cache(maxsize=1 << 14)
def _field(label: str, level_name: str, bits: float) -> Message:
    # one shared message per (field, level, weight): a million-contact tenant's explanations
    # repeat a few thousand of them hundreds of thousands of times
    if bits >= 0:
        return _("{field} {level} (+{bits})", field=comparison(label), level=level(level_name), bits=bits)
    return _("{field} {level} ({bits})", field=comparison(label), level=level(level_name), bits=bits)


def pair(a: str, b: str, probability: float, fields) -> Message:
    """Why two records are one: ``3 and 17: match probability 98.7%; e-mail identical (+16.6), ...``.

    ``fields`` are (label, level, bits) triples, strongest first.
    """
    shown = [field(label, level_name, bits) for label, level_name, bits in fields]
    evidence = Message.join(shown, ", ")
    return _("{a} and {b}: match probability {probability}; {evidence}", a=a, b=b,
             probability=Percent(probability, 2), evidence=evidence)
