"""report.html: one self-contained page for a consultant and the CRM admins of their clients.

Layout (``templates/report.html.j2``): an overview first (the score per tenant and area,
the ten fixes that matter most, a check x tenant matrix with status and affected counts),
then each tenant in its own ``<details>`` section with its findings by step. A small
inline script (``templates/report.js``) filters by severity, step and status and opens
and closes the sections; without it everything is open and shown. A print stylesheet
makes "print to PDF" a clean client deliverable.

Every word is rendered in the report's language (``context.lang``): the template calls
``_()`` and ``ngettext()``, numbers and dates go through Babel. Hangul in the page is
covered by the system font stack, and by a subset of the packaged Noto Sans KR embedded
as a data URL, so the page reads the same on a machine without a Korean font.

Everything from the CRM is untrusted. Jinja2 autoescaping escapes every value; links
into the CRM are kept only when they are http(s) URLs; a Content-Security-Policy allows
only the page's own script (by its sha256) and loads nothing from the network, so even a
value that got through could neither execute nor phone home.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from .. import model
from ..findings import WARNING_PREFIX, AuditResult
from ..i18n import Percent, ntr, tr
from ..scoring import MIN_COVERAGE, tenant_scores, why_not_scored
from . import ReportContext
from .charts import chart_text, hangul_font_path, render_svg, score_by_area_spec, score_trend_spec, valid_spec
from .html_metrics import METRIC_DEPTH, METRIC_ITEMS, format_number, metrics_view  # noqa: F401 (re-exported)
from .markdown import status_of_step

SAMPLE_SIZE = 5
TOP_FIXES = 10
SEVERITY_ORDER = {s: i for i, s in enumerate(model.SEVERITIES)}
TEMPLATES = Path(__file__).parent / "templates"
FONT_FAMILY = "crm-audit Noto Sans KR"
_FONT_MARKER = "/*crm-audit:font-face*/"
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff]")


def safe_link(url) -> str | None:
    """Only absolute http(s) links into the CRM; anything else (javascript:, data:) is dropped."""
    if not url:
        return None
    try:
        parts = urlsplit(str(url).strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # Percent-encode what a URL may not hold raw (spaces, quotes, angle brackets).
    return quote(str(url).strip(), safe=":/?#[]@!$&'()*+,;=%~")


@lru_cache(maxsize=1)
def page_script() -> tuple[Markup, str]:
    """The page's one inline script and its CSP source (``'sha256-...'``)."""
    script = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return Markup(script), f"sha256-{digest}"


@lru_cache(maxsize=8)
def _font_face(chars: str) -> str:
    """@font-face rules embedding the packaged Noto Sans KR cut to ``chars`` (WOFF, regular
    and bold instances of the variable font), or "" when the font or fontTools is missing."""
    path = hangul_font_path()
    if path is None or not chars:
        return ""
    rules = []
    try:
        import io

        from fontTools import subset
        from fontTools.ttLib import TTFont
        from fontTools.varLib import instancer

        font = TTFont(str(path))
        options = subset.Options()
        options.layout_features = ["*"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=chars)
        subsetter.subset(font)
        for weight in (400, 700):
            static = instancer.instantiateVariableFont(font, {"wght": weight}, inplace=False)
            static.flavor = "woff"
            buffer = io.BytesIO()
            static.save(buffer)
            data = base64.b64encode(buffer.getvalue()).decode("ascii")
            rules.append(f'@font-face{{font-family:"{FONT_FAMILY}";src:url(data:font/woff;base64,{data}) format("woff");'
                         f"font-weight:{weight};unicode-range:U+1100-11FF,U+3130-318F,U+A960-A97F,U+AC00-D7A3,U+D7B0-D7FF}}")
    except Exception:  # a font we cannot cut: the system fonts alone
        return ""
    return "\n".join(rules)


def _environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals["_"] = lambda msgid, **values: tr(lang, msgid, **values)
    env.globals["ngettext"] = lambda singular, plural, n, **values: ntr(lang, singular, plural, n, **values)
    env.filters["num"] = lambda value: format_number(value, lang)
    return env


# -- scores ------------------------------------------------------------------


def value_text(value, lang: str) -> str:
    """A score as shown: ``71.5`` (``71,5`` in Indonesian), or ``n/a``."""
    from babel import numbers

    return tr(lang, "n/a") if value is None else numbers.format_decimal(float(value), format="0.0", locale=lang)


def coverage_text(cov: dict | None, lang: str, *, records: bool = True) -> str:
    """``"36 of 49 checks judged, 2,000 records"`` in ``lang``; "" without coverage."""
    if not cov or "checks_applicable" not in cov:
        return ""
    run, total = cov.get("checks_run", 0), cov["checks_applicable"]
    if records and "records_judged" in cov:
        return ntr(lang, "{run} of {total} checks judged, {n} record", "{run} of {total} checks judged, {n} records",
                   cov["records_judged"], run=run, total=total)
    return tr(lang, "{run} of {total} checks judged", run=run, total=total)


def _why_not_scored(cov: dict | None, lang: str) -> str:
    if not why_not_scored(cov):
        return ""
    if not cov["checks_applicable"]:
        return tr(lang, "no applicable check")
    return tr(lang, "fewer than {share} of the applicable checks were judged",
              share=Percent(cov.get("threshold", MIN_COVERAGE), 0))


def _score(value, cov, lang: str, records: bool = True) -> dict:
    cls = "" if value is None else ("good" if value >= 80 else "fair" if value >= 60 else "poor")
    return {"value": value_text(value, lang), "cls": cls, "coverage": coverage_text(cov, lang, records=records)}


def _area_scores(score: dict, lang: str) -> dict:
    cov = (score.get("coverage") or {}).get("areas") or {}
    return {a: _score((score.get("areas") or {}).get(a), cov.get(a), lang, records=False) for a in model.AREAS}


# -- results -----------------------------------------------------------------


def _charts(metrics: dict, lang: str) -> list[dict]:
    out = []
    for spec in metrics.get("charts") or []:
        if valid_spec(spec):
            title = chart_text(spec.get("title"), lang)
            try:
                out.append({"id": str(spec.get("id", "")), "title": title, "svg": Markup(render_svg(spec, lang=lang))})
            except Exception as exc:  # a malformed spec from a plugin must not lose the report
                out.append({"id": str(spec.get("id", "")), "svg": "",
                            "title": tr(lang, "{title} (chart unavailable: {error})", title=title, error=type(exc).__name__)})
    return out


def _description(context: ReportContext, check_id: str) -> str:
    checks = getattr(context.registry, "checks", None) or {}
    check = checks.get(check_id) if isinstance(checks, dict) else None
    if check is None or not getattr(check, "description", ""):
        return ""
    return context.text(check.text("description"))


def _affected_text(r, lang: str) -> str:
    obj = r.affected.object or tr(lang, "records")
    if r.affected.population:
        return tr(lang, "Affected {object}: {n} of {total} ({share}).", object=obj, n=r.affected.count,
                  total=r.affected.population, share=Percent(r.affected.count / r.affected.population))
    return tr(lang, "Affected {object}: {n}.", object=obj, n=r.affected.count)


def _share(r) -> float:
    """The share of the examined records a failed result affects (1 when it examined none)."""
    pop = r.affected.population
    return min(1.0, r.affected.count / pop) if pop else 1.0


def _result_view(r, anchor: str, context: ReportContext) -> dict:
    lang = context.lang
    samples = [{"id": rid, "link": safe_link(context.link(r.tenant, r.affected.object or "", rid)),
                "problem": r.details.get(rid) or r.title}
               for rid in r.affected.ids[:SAMPLE_SIZE]] if r.status == "fail" else []
    return {**r.__dict__, "affected": r.affected, "anchor": anchor, "samples": samples,
            "affected_text": _affected_text(r, lang) if r.status == "fail" and r.affected.count else "",
            "description": _description(context, r.check_id), "charts": _charts(r.metrics, lang),
            "metrics_view": metrics_view(r.metrics, lang)}


def _cell(r, anchor: str, lang: str) -> dict:
    """One matrix cell: a mark or the count affected, its title the status in words (no CRM data)."""
    if r.status == "fail":
        text = format_number(r.affected.count, lang) if r.affected.count else "✗"
        status = "accepted" if r.accepted else "fail"
        tip = _affected_text(r, lang) if r.affected.count else tr(lang, "failed")
        if r.accepted:
            tip = tr(lang, "{text} (accepted risk)", text=tip)
    else:
        text, status = {"pass": "✓", "skipped": "–", "error": "!"}.get(r.status, "?"), r.status
        tip = {"pass": tr(lang, "passed"), "skipped": tr(lang, "skipped"), "error": tr(lang, "error")}.get(r.status, r.status)
    return {"text": text, "status": status, "anchor": anchor, "tip": tip}


def _top_fixes(failed: list, anchors: dict, lang: str) -> list[dict]:
    """The failed checks that matter most: by severity, then the largest share of records affected."""
    by_check: dict[str, list] = {}
    for r in failed:
        if not r.accepted:
            by_check.setdefault(r.check_id, []).append(r)
    ranked = sorted(by_check.values(), key=lambda rs: (SEVERITY_ORDER.get(rs[0].severity, 9), -max(map(_share, rs)),
                                                       -sum(r.affected.count for r in rs), rs[0].check_id))
    out = []
    for rs in ranked[:TOP_FIXES]:
        rs = sorted(rs, key=lambda r: (-_share(r), -r.affected.count))
        tenants = []
        for r in rs:
            if r.affected.population:
                affected = tr(lang, "{n} of {total} ({share})", n=r.affected.count, total=r.affected.population,
                              share=Percent(_share(r)))
            elif r.affected.count:
                affected = ntr(lang, "{n} record", "{n} records", r.affected.count)
            else:
                affected = tr(lang, "failed")
            tenants.append({"name": r.tenant, "anchor": anchors[(r.tenant, r.check_id)], "affected": affected})
        out.append({"check_id": rs[0].check_id, "title": rs[0].title, "severity": rs[0].severity, "tenants": tenants})
    return out


def _not_applicable_text(ids: list[str], connector: str, lang: str) -> str:
    return ntr(lang, "{n} check for other CRMs does not apply to this {connector} tenant: {checks}.",
               "{n} checks for other CRMs do not apply to this {connector} tenant: {checks}.", len(ids),
               connector=connector or "unknown", checks=", ".join(ids))


def _as_of(audit: AuditResult):
    try:
        return date.fromisoformat(str(audit.as_of)[:10])
    except ValueError:
        return str(audit.as_of)[:10]


def render_html(audit: AuditResult, context: ReportContext) -> str:
    lang = context.lang or "en"
    results = audit.applicable_results()
    tenant_names = [t.name for t in audit.tenants]
    tenant_names += [n for n in dict.fromkeys(r.tenant for r in results) if n not in tenant_names]
    keys = {name: f"tenant-{i + 1}" for i, name in enumerate(tenant_names)}
    anchors = {(r.tenant, r.check_id): f"{keys[r.tenant]}-{r.check_id}" for r in results}
    score = audit.score or {}
    per_tenant = tenant_scores(score, audit.results, tenant_names)
    infos = {t.name: t for t in audit.tenants}
    not_applicable = audit.not_applicable()
    step_titles = {s: tr(lang, model.STEP_TITLES[s]) for s in model.STEPS}

    tenants = []
    for name in tenant_names:
        info, mine = infos.get(name), [r for r in results if r.tenant == name]
        s = per_tenant.get(name) or {}
        steps = []
        for step in model.STEPS:
            rs = [r for r in mine if r.step == step]
            if not rs:
                continue
            rs.sort(key=lambda r: ({"fail": 0, "error": 1, "pass": 2, "skipped": 3}.get(r.status, 4),
                                   SEVERITY_ORDER.get(r.severity, 9), r.check_id))
            views = [_result_view(r, anchors[(name, r.check_id)], context) for r in rs]
            steps.append({"key": step, "title": step_titles[step], "status": status_of_step(rs),
                          "cards": [v for v in views if v["status"] == "fail" or v["charts"]],
                          "quiet": [v for v in views if v["status"] != "fail" and not v["charts"]]})
        findings = sum(1 for r in mine if r.status == "fail")
        notes = [{"warning": n.startswith(WARNING_PREFIX), "text": n[len(WARNING_PREFIX):] if n.startswith(WARNING_PREFIX) else n}
                 for n in (info.notes if info else [])]
        tenants.append({
            "key": keys[name], "name": name, "connector": info.connector if info else "",
            "records": sum((info.records or {}).values()) if info else 0, "api_calls": info.api_calls if info else 0,
            "error": info.error if info else None, "partial_tables": info.partial_tables if info else [],
            "data": "error" if info and info.error else "partial" if info and info.partial_tables else "complete",
            "score": _score(s.get("overall"), s.get("coverage"), lang), "areas": _area_scores(s, lang),
            "findings": findings, "findings_text": ntr(lang, "{n} finding", "{n} findings", findings),
            "notes": notes, "steps": steps,
            "not_applicable": _not_applicable_text(not_applicable[name], info.connector if info else "", lang)
            if name in not_applicable else "",
        })

    matrix = []
    for step in model.STEPS:
        rows = []
        check_ids = list(dict.fromkeys(r.check_id for r in results if r.step == step))
        for check_id in check_ids:
            by_tenant = {r.tenant: r for r in results if r.check_id == check_id}
            first = next(iter(by_tenant.values()))
            cells = [_cell(by_tenant[n], anchors[(n, check_id)], lang) if n in by_tenant else None for n in tenant_names]
            statuses = {c["status"] for c in cells if c}
            rows.append({"check_id": check_id, "title": first.title, "severity": first.severity,
                         "status": "fail" if statuses & {"fail", "accepted"} else "error" if "error" in statuses
                         else "pass" if "pass" in statuses else "skipped", "cells": cells})
        rows.sort(key=lambda row: (SEVERITY_ORDER.get(row["severity"], 9), str(row["title"])))
        if rows:
            matrix.append({"key": step, "title": step_titles[step], "rows": rows})

    cov = score.get("coverage")
    area_cov = (cov or {}).get("areas") or {}
    area_rows = [{"area": a, "value": value_text((score.get("areas") or {}).get(a), lang),
                  "coverage": tr(lang, "{run} of {total} checks", run=area_cov[a]["checks_run"],
                                 total=area_cov[a]["checks_applicable"]) if a in area_cov else ""}
                 for a in model.AREAS if a in area_cov or a in (score.get("areas") or {})]
    score_charts = []
    for spec in (score_by_area_spec(score, lang), score_trend_spec(context.history, lang)):
        if spec:
            score_charts.append({"id": spec["id"], "title": chart_text(spec["title"], lang),
                                 "svg": Markup(render_svg(spec, width=5, height=2.4, lang=lang))})
    script, script_hash = page_script()
    page = _environment(lang).get_template("report.html.j2").render(
        lang=lang, audit=audit, as_of=_as_of(audit),
        overall=value_text(score.get("overall"), lang), has_overall=score.get("overall") is not None,
        coverage=coverage_text(cov, lang), why_na=_why_not_scored(cov, lang) if score.get("overall") is None else "",
        all_score=_score(score.get("overall"), cov, lang), all_areas=_area_scores(score, lang),
        areas=[a for a in model.AREAS if any(t["areas"][a]["value"] != tr(lang, "n/a") or a in area_cov for t in tenants)],
        tenants=tenants, total_findings=sum(t["findings"] for t in tenants),
        top_fixes=_top_fixes([r for r in results if r.status == "fail"], anchors, lang),
        matrix=matrix, steps=[{"key": g["key"], "title": g["title"]} for g in matrix], severities=model.SEVERITIES,
        area_rows=area_rows, score_charts=score_charts, ref_link=safe_link,
        script=script, script_hash=script_hash, font_face=Markup(_FONT_MARKER),
    )
    return _with_hangul_font(page)


def _with_hangul_font(page: str) -> str:
    """The page with the packaged Korean font embedded (cut to the Hangul it uses), if it has any."""
    chars = "".join(sorted(set(_HANGUL.findall(page))))
    face = _font_face(chars) if chars else ""
    if face:
        # First: limited to Hangul by its unicode-range, and Chromium on Linux does not look
        # past system-ui for a glyph the system lacks.
        page = page.replace("body{font-family:system-ui,", f'body{{font-family:"{FONT_FAMILY}",system-ui,', 1)
    return page.replace(_FONT_MARKER, face, 1)


def write_html(audit: AuditResult, context: ReportContext) -> list[Path]:
    path = context.folder / "report.html"
    path.write_text(render_html(audit, context), encoding="utf-8")
    return [path]
