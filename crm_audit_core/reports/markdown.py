"""report.md: the audit summary for email and wikis (CRM data escaped for Markdown)."""

from __future__ import annotations

import re

from .. import model
from ..findings import WARNING_PREFIX, AuditResult
from ..scoring import coverage_text, tenant_scores, value_text, why_not_scored

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def md_escape(value) -> str:
    text = " ".join(str(value if value is not None else "").split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def status_of_step(results) -> str:
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


def render_markdown(audit: AuditResult) -> str:
    lines = [f"# CRM audit {md_escape(audit.id)}", ""]
    score = audit.score or {}
    overall = score.get("overall")
    cov = score.get("coverage")
    coverage = "; ".join(p for p in (coverage_text(cov), why_not_scored(cov) if overall is None else "") if p)
    lines.append(f"As of {md_escape(audit.as_of)}. Overall score: **{value_text(overall)}**"
                 + (" / 100" if overall is not None else "") + (f" ({md_escape(coverage)})." if coverage else "."))
    area_cov = (cov or {}).get("areas") or {}
    areas = [a for a in model.AREAS if a in area_cov or a in (score.get("areas") or {})]
    if areas:
        lines.append("")
        lines.append("| area | score | checks judged |")
        lines.append("|---|---|---|")
        for area in areas:
            c = area_cov.get(area)
            judged = f"{c['checks_run']} of {c['checks_applicable']}" if c else ""
            lines.append(f"| {md_escape(area)} | {value_text((score.get('areas') or {}).get(area))} | {judged} |")
    per_tenant = tenant_scores(score, audit.results, [t.name for t in audit.tenants])
    lines += ["", "## Tenants", "", "| tenant | connector | API calls | records | status | score | coverage |",
              "|---|---|---|---|---|---|---|"]
    for t in audit.tenants:
        status = "error: " + md_escape(t.error) if t.error else ("partial: " + md_escape(", ".join(t.partial_tables)) if t.partial_tables else "complete")
        mine = per_tenant.get(t.name) or {}
        lines.append(f"| {md_escape(t.name)} | {md_escape(t.connector)} | {t.api_calls} | {sum(t.records.values())} | {status} "
                     f"| {value_text(mine.get('overall'))} | {md_escape(coverage_text(mine.get('coverage')))} |")
    notes = [(t, n) for t in audit.tenants for n in t.notes]
    if notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {md_escape(t.name)}: {'**warning:** ' + md_escape(n[len(WARNING_PREFIX):]) if n.startswith(WARNING_PREFIX) else md_escape(n)}"
                  for t, n in notes]
    if audit.plugin_errors:
        lines += ["", "## Plugin problems", "",
                  "Some plugins did not load completely; what is listed here is missing from this audit:", ""]
        lines += [f"- {md_escape(e)}" for e in audit.plugin_errors]
    lines += ["", "## Steps", "", "| step | status | checks | findings |", "|---|---|---|---|"]
    for step in model.STEPS:
        results = [r for r in audit.applicable_results() if r.step == step]
        if not results:
            continue
        fails = sum(1 for r in results if r.status == "fail")
        lines.append(f"| {md_escape(model.STEP_TITLES[step])} | {status_of_step(results)} | {len(results)} | {fails} |")
    order = {s: i for i, s in enumerate(model.SEVERITIES)}
    findings = sorted(audit.failed(), key=lambda r: (order.get(r.severity, 9), -r.affected.count))
    lines += ["", "## Findings", ""]
    if not findings:
        lines.append("No findings.")
    for r in findings:
        accepted = " (accepted risk)" if r.accepted else ""
        lines.append(f"### {md_escape(r.title)} [{r.severity}]{accepted}")
        lines.append("")
        lines.append(f"`{r.check_id}` on {md_escape(r.tenant)}: {md_escape(r.message)}")
        if r.references:
            lines.append(f"References: {'; '.join(md_escape(x) for x in r.references)}.")
        if r.affected.count:
            sample = ", ".join(md_escape(i) for i in r.affected.ids[:5])
            more = f" and {r.affected.count - 5} more" if r.affected.count > 5 else ""
            lines.append(f"Affected {md_escape(r.affected.object or 'records')}: {r.affected.count} ({sample}{more}); fix-list `fixlists/{r.check_id}.csv`.")
        lines.append("")
        lines.append(f"**Fix:** {md_escape(r.remediation)}")
        lines.append("")
    other = [r for r in audit.results if r.status in ("error", "skipped")]
    if other:
        lines += ["## Not run", "", "| check | tenant | status | reason |", "|---|---|---|---|"]
        for r in other:
            lines.append(f"| {md_escape(r.check_id)} | {md_escape(r.tenant)} | {r.status} | {md_escape(r.reason)} |")
    lines += not_applicable_lines(audit)
    return "\n".join(lines) + "\n"


def not_applicable_text(audit: AuditResult) -> dict[str, str]:
    """Tenant -> one sentence naming the checks that do not apply to its CRM."""
    connectors = {t.name: t.connector for t in audit.tenants}
    out = {}
    for tenant, ids in audit.not_applicable().items():
        n = len(ids)
        out[tenant] = (f"{n} check{'s' if n != 1 else ''} for other CRMs {'do' if n != 1 else 'does'} not apply to "
                       f"this {connectors.get(tenant, 'unknown')} tenant: {', '.join(ids)}")
    return out


def not_applicable_lines(audit: AuditResult) -> list[str]:
    text = not_applicable_text(audit)
    if not text:
        return []
    lines = ["", "## Not applicable", ""]
    lines += [f"- {md_escape(tenant)}: {md_escape(sentence)}." for tenant, sentence in text.items()]
    return lines
