"""The terminal summary (rich): score, a table by step, the worst findings, in the audit's language."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import model
from ..findings import AuditResult
from ..i18n import tr
from ..scoring import coverage_text, tenant_scores, value_text, why_not_scored
from .labels import area_text, severity_text, step_status_text, step_title
from .markdown import count_text, date_text, not_applicable_text, status_of_step

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
STATUS_STYLE = {"ok": "green", "findings": "yellow", "error": "red", "skipped": "dim", "not covered": "dim"}


def _plain(text) -> str:
    return escape(" ".join(str(text if text is not None else "").split()))


def score_line(score: dict, lang: str = "en") -> str:
    """``41.9 / 100 (36 of 49 checks judged, 2,000 records)  usage: 37.6  security: n/a ...`` (plain text)."""
    score = score or {}
    overall = score.get("overall")
    cov = score.get("coverage")
    text = tr(lang, "{score} / 100", score=value_text(overall, lang)) if overall is not None else value_text(overall, lang)
    detail = coverage_text(cov, lang=lang)
    why = why_not_scored(cov, lang) if overall is None else ""
    if detail or why:
        text += f" ({'; '.join(p for p in (detail, why) if p)})"
    areas = dict.fromkeys(list((cov or {}).get("areas") or {}) + list(score.get("areas") or {}))
    shown = [tr(lang, "{area}: {score}", area=area_text(a, lang), score=value_text((score.get("areas") or {}).get(a), lang))
             for a in model.AREAS if a in areas]
    return text + ("   " + "  ".join(shown) if shown else "")


def print_summary(audit: AuditResult, console: Console, folder=None, worst: int = 10, lang: str | None = None) -> None:
    """The summary of ``audit`` (already localised) with its own words in ``lang`` (default:
    the audit's language)."""
    lang = lang or audit.lang or "en"

    def _t(msgid: str, **values) -> str:
        return tr(lang, msgid, **values)

    score = audit.score or {}
    title, as_of = _t("CRM audit {id}", id=audit.id), _t("as of {date}", date=date_text(audit.as_of, lang))
    console.print(f"[bold]{escape(title)}[/bold]  {escape(as_of)}")
    console.print(escape(_t("Score:")) + f" [bold]{escape(score_line(score, lang))}[/bold]")
    per_tenant = tenant_scores(score, audit.results, [t.name for t in audit.tenants]) if len(audit.tenants) > 1 else {}
    not_applicable = not_applicable_text(audit, lang)
    for tenant in audit.tenants:
        if tenant.error:
            state = "[red]" + _plain(_t("error: {error}", error=tenant.error)) + "[/red]"
        elif tenant.partial_tables:
            state = "[yellow]" + _plain(_t("partial: {tables}", tables=", ".join(tenant.partial_tables))) + "[/yellow]"
        else:
            state = "[green]" + _plain(_t("complete")) + "[/green]"
        mine = per_tenant.get(tenant.name)
        line = _t("tenant {tenant} ({connector}): {records} records, {calls} API calls, {state}", tenant=tenant.name,
                 connector=tenant.connector, records=sum(tenant.records.values()), calls=tenant.api_calls, state="\0")
        head, _sep, tail = _plain(line).partition("\0")
        scored = ""
        if mine is not None:
            detail = coverage_text(mine.get("coverage"), lang=lang)
            scored = (_t("; score {score} ({coverage})", score=value_text(mine.get("overall"), lang), coverage=detail) if detail
                      else _t("; score {score}", score=value_text(mine.get("overall"), lang)))
        console.print(f"  {head}{state}{tail}{escape(scored)}")
        for warning in tenant.warnings:
            console.print("  [yellow]" + _plain(_t("warning:")) + "[/yellow] " + _plain(warning))
        na = not_applicable.get(tenant.name)
        if na:
            console.print(f"  [dim]{_plain(na)}[/dim]")
    table = Table(title=_t("Audit steps"), show_lines=False)
    table.add_column(_t("step"))
    table.add_column(_t("status"))
    table.add_column(_t("checks"), justify="right")
    table.add_column(_t("findings"), justify="right")
    for step in model.STEPS:
        results = [r for r in audit.applicable_results() if r.step == step]
        if not results:
            continue
        status = status_of_step(results)
        fails = sum(1 for r in results if r.status == "fail")
        table.add_row(escape(step_title(step, lang)), f"[{STATUS_STYLE[status]}]{escape(step_status_text(status, lang))}[/]",
                      count_text(len(results), lang), count_text(fails, lang))
    console.print(table)
    order = {s: i for i, s in enumerate(model.SEVERITIES)}
    findings = sorted(audit.failed(), key=lambda r: (order.get(r.severity, 9), -r.affected.count))[:worst]
    if findings:
        ft = Table(title=_t("Worst findings (top {n})", n=len(findings)))
        ft.add_column(_t("severity"))
        ft.add_column(_t("check"))
        ft.add_column(_t("tenant"))
        ft.add_column(_t("affected"), justify="right")
        ft.add_column(_t("message"))
        for r in findings:
            ft.add_row(f"[{SEVERITY_STYLE.get(r.severity, '')}]{escape(severity_text(r.severity, lang))}[/]", _plain(r.check_id),
                       _plain(r.tenant), count_text(r.affected.count, lang), _shorten(_plain(r.message), 100))
        console.print(ft)
    errors = [r for r in audit.results if r.status == "error"]
    for r in errors:
        line = _t("{check} on {tenant}: {reason}", check=r.check_id, tenant=r.tenant, reason=r.reason)
        console.print("[red]" + _plain(_t("error")) + "[/red] " + _plain(line))
    for failure in audit.plugin_errors:
        console.print("[yellow]" + _plain(_t("warning")) + "[/yellow] " + _plain(failure))
    if folder is not None:
        console.print(escape(_t("Report folder: {folder}", folder=str(folder))))


def _shorten(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= width:
        return text
    cut = text[: width - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return (cut or text[: width - 1]) + "…"
