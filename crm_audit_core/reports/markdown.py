"""report.md: the audit summary for email and wikis (CRM data escaped for Markdown), in the
report's language (its headings and labels are core templates, ``tr``)."""

from __future__ import annotations

import re

from .. import model
from ..findings import WARNING_PREFIX, AuditResult
from ..i18n import ntr, tr
from ..scoring import coverage_text, tenant_scores, value_text, why_not_scored
from .labels import area_text, object_text, severity_text, status_text, step_status_text, step_title

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(value) -> str:
    text = " ".join(str(value if value is not None else "").split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def status_of_step(results) -> str:
    """The status key of a step's results: ``ok``, ``findings``, ``error``, ``skipped`` or
    ``not covered`` (shown with :func:`.labels.step_status_text`)."""
    statuses = {r.status for r in results}
    if not results:
        return "not covered"
    if "fail" in statuses:
        return "findings"
    if "error" in statuses:
        return "error"
    if statuses == {"skipped"}:
        return "skipped"
    return "ok"


def count_text(n, lang: str = "en") -> str:
    """A count formatted for ``lang`` (``1,234`` / ``1.234``)."""
    from babel.numbers import format_decimal

    return format_decimal(int(n), locale=lang)


def date_text(value, lang: str = "en") -> str:
    """An ISO date or timestamp (report.json's ``as_of``) as a date for ``lang``; as it is
    when it is not one."""
    from datetime import datetime

    from babel.dates import format_date

    try:
        return format_date(datetime.fromisoformat(str(value).replace("Z", "+00:00")).date(), format="medium", locale=lang)
    except (TypeError, ValueError):
        return str(value or "")


def render_markdown(audit: AuditResult, lang: str | None = None) -> str:
    """report.md of ``audit`` (already localised: :meth:`AuditResult.localised`), its own
    words in ``lang`` (default: the audit's language)."""
    lang = lang or audit.lang or "en"

    def _t(msgid: str, **values) -> str:
        return tr(lang, msgid, **values)

    lines = [_t("# CRM audit {id}", id=md_escape(audit.id)), ""]
    score = audit.score or {}
    overall = score.get("overall")
    cov = score.get("coverage")
    coverage = "; ".join(p for p in (coverage_text(cov, lang=lang), why_not_scored(cov, lang) if overall is None else "") if p)
    shown = (_t("**{score}** / 100", score=value_text(overall, lang)) if overall is not None
             else f"**{value_text(overall, lang)}**")
    if coverage:
        lines.append(_t("As of {date}. Overall score: {score} ({coverage}).", date=date_text(audit.as_of, lang),
                       score=shown, coverage=md_escape(coverage)))
    else:
        lines.append(_t("As of {date}. Overall score: {score}.", date=date_text(audit.as_of, lang), score=shown))
    area_cov = (cov or {}).get("areas") or {}
    areas = [a for a in model.AREAS if a in area_cov or a in (score.get("areas") or {})]
    if areas:
        lines.append("")
        lines.append("| " + " | ".join((_t("area"), _t("score"), _t("checks judged"))) + " |")
        lines.append("|---|---|---|")
        for area in areas:
            c = area_cov.get(area)
            judged = _t("{run} of {total}", run=int(c["checks_run"]), total=int(c["checks_applicable"])) if c else ""
            lines.append(f"| {md_escape(area_text(area, lang))} | {value_text((score.get('areas') or {}).get(area), lang)} "
                         f"| {judged} |")
    per_tenant = tenant_scores(score, audit.results, [t.name for t in audit.tenants])
    heads = (_t("tenant"), _t("connector"), _t("API calls"), _t("records"), _t("status"), _t("score"), _t("coverage"))
    lines += ["", _t("## Tenants"), "", "| " + " | ".join(heads) + " |", "|---|---|---|---|---|---|---|"]
    for tenant in audit.tenants:
        if tenant.error:
            status = _t("error: {error}", error=md_escape(tenant.error))
        elif tenant.partial_tables:
            status = _t("partial: {tables}", tables=md_escape(", ".join(tenant.partial_tables)))
        else:
            status = _t("complete")
        mine = per_tenant.get(tenant.name) or {}
        lines.append(f"| {md_escape(tenant.name)} | {md_escape(tenant.connector)} | {count_text(tenant.api_calls, lang)} "
                     f"| {count_text(sum(tenant.records.values()), lang)} | {status} "
                     f"| {value_text(mine.get('overall'), lang)} | {md_escape(coverage_text(mine.get('coverage'), lang=lang))} |")
    notes = [(tenant, n) for tenant in audit.tenants for n in tenant.notes]
    if notes:
        lines += ["", _t("Notes:"), ""]
        for tenant, n in notes:
            if n.startswith(WARNING_PREFIX):
                text = _t("**warning:** {warning}", warning=md_escape(n[len(WARNING_PREFIX):]))
            else:
                text = md_escape(n)
            lines.append(f"- {md_escape(tenant.name)}: {text}")
    if audit.plugin_errors:
        lines += ["", _t("## Plugin problems"), "",
                  _t("Some plugins did not load completely; what is listed here is missing from this audit:"), ""]
        lines += [f"- {md_escape(e)}" for e in audit.plugin_errors]
    lines += ["", _t("## Steps"), "", "| " + " | ".join((_t("step"), _t("status"), _t("checks"), _t("findings"))) + " |", "|---|---|---|---|"]
    for step in model.STEPS:
        results = [r for r in audit.applicable_results() if r.step == step]
        if not results:
            continue
        fails = sum(1 for r in results if r.status == "fail")
        lines.append(f"| {md_escape(step_title(step, lang))} | {step_status_text(status_of_step(results), lang)} "
                     f"| {count_text(len(results), lang)} | {count_text(fails, lang)} |")
    order = {s: i for i, s in enumerate(model.SEVERITIES)}
    findings = sorted(audit.failed(), key=lambda r: (order.get(r.severity, 9), -r.affected.count))
    lines += ["", _t("## Findings"), ""]
    if not findings:
        lines.append(_t("No findings."))
    for r in findings:
        heading = f"### {md_escape(r.title)} [{severity_text(r.severity, lang)}]"
        lines.append(_t("{heading} (accepted risk)", heading=heading) if r.accepted else heading)
        lines.append("")
        lines.append(_t("{check} on {tenant}: {message}", check="`" + r.check_id + "`", tenant=md_escape(r.tenant),
                       message=md_escape(r.message)))
        if r.references:
            lines.append(_t("References: {references}.", references="; ".join(md_escape(x) for x in r.references)))
        if r.affected.count:
            sample = ", ".join(md_escape(i) for i in r.affected.ids[:5])
            if r.affected.count > 5:
                sample = _t("{ids} and {n} more", ids=sample, n=r.affected.count - 5)
            what = md_escape(object_text(r.affected.object, lang))
            lines.append(_t("Affected {object}: {n} ({ids}); fix-list {file}.", object=what, n=r.affected.count, ids=sample,
                            file="`fixlists/" + r.check_id + ".csv`"))
        lines.append("")
        lines.append(_t("**Fix:** {remediation}", remediation=md_escape(r.remediation)))
        lines.append("")
    other = [r for r in audit.results if r.status in ("error", "skipped")]
    if other:
        lines += [_t("## Not run"), "", "| " + " | ".join((_t("check"), _t("tenant"), _t("status"), _t("reason"))) + " |", "|---|---|---|---|"]
        for r in other:
            lines.append(f"| {md_escape(r.check_id)} | {md_escape(r.tenant)} | {status_text(r.status, lang)} | {md_escape(r.reason)} |")
    lines += not_applicable_lines(audit, lang)
    return "\n".join(lines) + "\n"


def not_applicable_text(audit: AuditResult, lang: str = "en") -> dict[str, str]:
    """Tenant -> one sentence naming the checks that do not apply to its CRM (in ``lang``)."""
    connectors = {t.name: t.connector for t in audit.tenants}
    out = {}
    for tenant, ids in audit.not_applicable().items():
        out[tenant] = ntr(lang, "{n} check for other CRMs does not apply to this {connector} tenant: {checks}",
                          "{n} checks for other CRMs do not apply to this {connector} tenant: {checks}", len(ids),
                          connector=connectors.get(tenant, "unknown"), checks=", ".join(ids))
    return out


def not_applicable_lines(audit: AuditResult, lang: str = "en") -> list[str]:
    text = not_applicable_text(audit, lang)
    if not text:
        return []
    lines = ["", tr(lang, "## Not applicable"), ""]
    lines += [f"- {md_escape(tenant)}: {md_escape(sentence)}." for tenant, sentence in text.items()]
    return lines
