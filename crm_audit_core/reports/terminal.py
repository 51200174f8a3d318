"""The terminal summary (rich): score, a table by step, the worst findings."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import model
from ..findings import AuditResult
from ..scoring import coverage_text, tenant_scores, value_text, why_not_scored
from .markdown import not_applicable_text, status_of_step

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
STATUS_STYLE = {"ok": "green", "findings": "yellow", "error": "red", "skipped": "dim", "not covered": "dim"}


def _plain(text) -> str:
    return escape(" ".join(str(text if text is not None else "").split()))


def score_line(score: dict) -> str:
    """``41.9 / 100 (36 of 49 checks judged, 2,000 records)  usage: 37.6  security: n/a ...`` (plain text)."""
    score = score or {}
    overall = score.get("overall")
    cov = score.get("coverage")
    text = f"{value_text(overall)}" + (" / 100" if overall is not None else "")
    detail = coverage_text(cov)
    why = why_not_scored(cov) if overall is None else ""
    if detail or why:
        text += f" ({'; '.join(p for p in (detail, why) if p)})"
    areas = dict.fromkeys(list((cov or {}).get("areas") or {}) + list(score.get("areas") or {}))
    shown = [f"{a}: {value_text((score.get('areas') or {}).get(a))}" for a in model.AREAS if a in areas]
    return text + ("   " + "  ".join(shown) if shown else "")


def print_summary(audit: AuditResult, console: Console, folder=None, worst: int = 10) -> None:
    score = audit.score or {}
    console.print(f"[bold]CRM audit {escape(audit.id)}[/bold]  as of {escape(audit.as_of)}")
    console.print(f"Score: [bold]{escape(score_line(score))}[/bold]")
    per_tenant = tenant_scores(score, audit.results, [t.name for t in audit.tenants]) if len(audit.tenants) > 1 else {}
    for t in audit.tenants:
        state = f"[red]error: {_plain(t.error)}[/red]" if t.error else (
            f"[yellow]partial: {_plain(', '.join(t.partial_tables))}[/yellow]" if t.partial_tables else "[green]complete[/green]")
        mine = per_tenant.get(t.name)
        scored = ""
        if mine is not None:
            detail = coverage_text(mine.get("coverage"))
            scored = f"; score {value_text(mine.get('overall'))}" + (f" ({detail})" if detail else "")
        console.print(f"  tenant {_plain(t.name)} ({_plain(t.connector)}): {sum(t.records.values())} records, "
                      f"{t.api_calls} API calls, {state}{escape(scored)}")
        for warning in t.warnings:
            console.print(f"  [yellow]warning:[/yellow] {_plain(warning)}")
        na = not_applicable_text(audit).get(t.name)
        if na:
            console.print(f"  [dim]{_plain(na)}[/dim]")
    table = Table(title="Audit steps", show_lines=False)
    table.add_column("step")
    table.add_column("status")
    table.add_column("checks", justify="right")
    table.add_column("findings", justify="right")
    for step in model.STEPS:
        results = [r for r in audit.applicable_results() if r.step == step]
        if not results:
            continue
        status = status_of_step(results)
        fails = sum(1 for r in results if r.status == "fail")
        table.add_row(model.STEP_TITLES[step], f"[{STATUS_STYLE[status]}]{status}[/]", str(len(results)), str(fails))
    console.print(table)
    order = {s: i for i, s in enumerate(model.SEVERITIES)}
    findings = sorted(audit.failed(), key=lambda r: (order.get(r.severity, 9), -r.affected.count))[:worst]
    if findings:
        ft = Table(title=f"Worst findings (top {len(findings)})")
        ft.add_column("severity")
        ft.add_column("check")
        ft.add_column("tenant")
        ft.add_column("affected", justify="right")
        ft.add_column("message")
        for r in findings:
            ft.add_row(f"[{SEVERITY_STYLE.get(r.severity, '')}]{r.severity}[/]", _plain(r.check_id), _plain(r.tenant),
                       str(r.affected.count), _shorten(_plain(r.message), 100))
        console.print(ft)
    errors = [r for r in audit.results if r.status == "error"]
    for r in errors:
        console.print(f"[red]error[/red] {_plain(r.check_id)} on {_plain(r.tenant)}: {_plain(r.reason)}")
    for failure in audit.plugin_errors:
        console.print(f"[yellow]warning[/yellow] {_plain(failure)}")
    if folder is not None:
        console.print(f"Report folder: {escape(str(folder))}")


def _shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= width:
        return text
    cut = text[: width - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return (cut or text[: width - 1]) + "…"
