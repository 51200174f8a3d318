"""``crm-audit diff`` as text: the scores with their coverage, tenant by tenant, the tenants
one audit did not read ("not audited"), then only the sections that hold something.

Scores that are n/a print as ``n/a``, never ``None``. The comparison itself is
``crm_audit_core.history.diff_audits``.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..scoring import coverage_text, value_text


def _change(before, after) -> str:
    """``68.1 -> 70.0 (+1.9)``, ``n/a -> 70.0``: never None."""
    text = f"{value_text(before)} -> {value_text(after)}"
    if before is not None and after is not None and round(after - before, 1):
        text += f" ({after - before:+.1f})"
    return text


def _coverage_change(cov: dict) -> str:
    a, b = coverage_text(cov.get("from"), records=False), coverage_text(cov.get("to"), records=False)
    if not a and not b:
        return ""
    if a == b:
        return a
    return f"{a or 'coverage not recorded'} -> {b or 'coverage not recorded'}"


def print_diff(result: dict, console: Console) -> None:
    """The diff of ``history.diff_audits`` as text: scores with coverage, tenant by tenant,
    tenants not audited on one side, then only the sections that hold something."""
    s = result["score"]
    console.print(f"[bold]{escape(result['from'])} -> {escape(result['to'])}[/bold]")
    if s["comparable"]:
        cov = _coverage_change(s["coverage"])
        console.print(f"Score: {_change(s['from'], s['to'])}" + (f"  ({escape(cov)})" if cov else ""))
        for area, v in s["areas"].items():
            console.print(f"  {escape(area)}: {_change(v['from'], v['to'])}")
    else:
        console.print("Overall score not compared: the audits read different tenants (compared tenant by tenant below).")
    if len(result["tenants"]) > 1 or not s["comparable"]:
        for t in result["tenants"]:
            cov = _coverage_change(t["coverage"])
            console.print(f"  tenant {escape(t['tenant'])}: {_change(t['from'], t['to'])}" + (f"  ({escape(cov)})" if cov else ""))
    for side, audit_id, meaning in (("to", result["to"], "their findings in the older audit are not counted as resolved"),
                                    ("from", result["from"], "their findings are not counted as new")):
        names = result["not_audited"][side]
        if names:
            listed = ", ".join(f"{n} ({result['not_audited_findings'].get(n, 0)} findings)" for n in names)
            console.print(f"[yellow]Not audited in {escape(audit_id)}:[/yellow] {escape(listed)}; {meaning}.")
    sections = (("New findings", "new"), ("Resolved", "resolved"),
                ("Not re-checked (not run, skipped or errored in the newer audit)", "not_rechecked"), ("Changed", "changed"))
    for title, key in sections:
        if not result[key]:
            continue
        table = Table(title=f"{title} ({len(result[key])})")
        for col in ("tenant", "check", "severity", "records") + (("now",) if key == "not_rechecked" else ()):
            table.add_column(col)
        for row in result[key]:
            records = f"{row['from']} -> {row['to']} (+{row['added']} -{row['removed']})" if key == "changed" else str(row["count"])
            extra = (escape(" ".join(f"{row['now']}: {row['reason']}".split())[:100].rstrip(": ")),) if key == "not_rechecked" else ()
            table.add_row(escape(row["tenant"]), escape(row["check_id"]), row["severity"], records, *extra)
        console.print(table)
    if result["metric_deltas"]:
        table = Table(title=f"Metric changes ({len(result['metric_deltas'])})")
        for col in ("tenant", "check", "metric", "from", "to"):
            table.add_column(col)
        for row in result["metric_deltas"][:50]:
            table.add_row(escape(row["tenant"]), escape(row["check_id"]), escape(row["metric"]), f"{row['from']:g}", f"{row['to']:g}")
        console.print(table)
    if not any(result[k] for k in ("new", "resolved", "not_rechecked", "changed", "metric_deltas")):
        console.print("No finding changed" + (" in the tenants both audits read." if result["tenants"] else ": the audits share no tenant."))
