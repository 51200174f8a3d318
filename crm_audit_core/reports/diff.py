"""``crm-audit diff`` as text: the scores with their coverage, tenant by tenant, the tenants
one audit did not read ("not audited"), then only the sections that hold something.

Scores that are n/a print as ``n/a``, never ``None``. Written in the CLI's language. The comparison itself is
``crm_audit_core.history.diff_audits``.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from babel.numbers import format_decimal

from ..i18n import tr
from ..scoring import coverage_text, value_text
from .labels import area_text, severity_text, status_text


def _change(before, after, lang: str = "en") -> str:
    """``68.1 -> 70.0 (+1.9)``, ``n/a -> 70.0``: never None."""
    text = f"{value_text(before, lang)} -> {value_text(after, lang)}"
    if before is not None and after is not None and round(after - before, 1):
        text += f" ({format_decimal(round(after - before, 1), format='+0.0;-0.0', locale=lang)})"
    return text


def _coverage_change(cov: dict, lang: str = "en") -> str:
    a, b = coverage_text(cov.get("from"), records=False, lang=lang), coverage_text(cov.get("to"), records=False, lang=lang)
    if not a and not b:
        return ""
    if a == b:
        return a
    unknown = tr(lang, "coverage not recorded")
    return f"{a or unknown} -> {b or unknown}"


def print_diff(result: dict, console: Console, lang: str = "en") -> None:
    """The diff of ``history.diff_audits`` as text: scores with coverage, tenant by tenant,
    tenants not audited on one side, then only the sections that hold something (in ``lang``)."""

    def _t(msgid: str, **values) -> str:
        return escape(tr(lang, msgid, **values))

    s = result["score"]
    console.print(f"[bold]{escape(result['from'])} -> {escape(result['to'])}[/bold]")
    if s["comparable"]:
        cov = _coverage_change(s["coverage"], lang)
        console.print(_t("Score: {change}", change=_change(s["from"], s["to"], lang)) + (f"  ({escape(cov)})" if cov else ""))
        for area, v in s["areas"].items():
            console.print(f"  {escape(area_text(area, lang))}: {_change(v['from'], v['to'], lang)}")
    else:
        console.print(_t("Overall score not compared: the audits read different tenants (compared tenant by tenant below)."))
    if len(result["tenants"]) > 1 or not s["comparable"]:
        for tenant in result["tenants"]:
            cov = _coverage_change(tenant["coverage"], lang)
            console.print("  " + _t("tenant {tenant}: {change}", tenant=tenant["tenant"], change=_change(tenant["from"], tenant["to"], lang))
                          + (f"  ({escape(cov)})" if cov else ""))
    for side in ("to", "from"):
        names = result["not_audited"][side]
        if not names:
            continue
        listed = ", ".join(tr(lang, "{tenant} ({n} findings)", tenant=n, n=result["not_audited_findings"].get(n, 0))
                           for n in names)
        if side == "to":
            line = _t("Not audited in {audit}: {tenants}; their findings in the older audit are not counted as resolved.",
                     audit=result["to"], tenants=listed)
        else:
            line = _t("Not audited in {audit}: {tenants}; their findings are not counted as new.",
                     audit=result["from"], tenants=listed)
        console.print(f"[yellow]{line}[/yellow]")
    sections = (("new", tr(lang, "New findings ({n})", n=len(result["new"]))),
                ("resolved", tr(lang, "Resolved ({n})", n=len(result["resolved"]))),
                ("not_rechecked", tr(lang, "Not re-checked (not run, skipped or errored in the newer audit) ({n})",
                                     n=len(result["not_rechecked"]))),
                ("changed", tr(lang, "Changed ({n})", n=len(result["changed"]))))
    for key, title in sections:
        if not result[key]:
            continue
        table = Table(title=escape(title))
        for col in (tr(lang, "tenant"), tr(lang, "check"), tr(lang, "severity"), tr(lang, "records")) + (
                (tr(lang, "now"),) if key == "not_rechecked" else ()):
            table.add_column(escape(col))
        for row in result[key]:
            if key == "changed":
                records = tr(lang, "{before} -> {after} (+{added} -{removed})", before=row["from"], after=row["to"],
                             added=row["added"], removed=row["removed"])
            else:
                records = format_decimal(row["count"], locale=lang)
            now = " ".join(f"{status_text(row['now'], lang)}: {row['reason']}".split())[:100].rstrip(": ") if key == "not_rechecked" else ""
            extra = (escape(now),) if key == "not_rechecked" else ()
            table.add_row(escape(row["tenant"]), escape(row["check_id"]), escape(severity_text(row["severity"], lang)),
                          escape(records), *extra)
        console.print(table)
    if result["metric_deltas"]:
        table = Table(title=escape(tr(lang, "Metric changes ({n})", n=len(result["metric_deltas"]))))
        for col in (tr(lang, "tenant"), tr(lang, "check"), tr(lang, "metric"), tr(lang, "from"), tr(lang, "to")):
            table.add_column(escape(col))
        for row in result["metric_deltas"][:50]:
            table.add_row(escape(row["tenant"]), escape(row["check_id"]), escape(row["metric"]),
                          format_decimal(row["from"], format="#,##0.######", locale=lang),
                          format_decimal(row["to"], format="#,##0.######", locale=lang))
        console.print(table)
    if not any(result[k] for k in ("new", "resolved", "not_rechecked", "changed", "metric_deltas")):
        console.print(_t("No finding changed in the tenants both audits read.") if result["tenants"]
                      else _t("No finding changed: the audits share no tenant."))
