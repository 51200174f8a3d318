"""report.html: one self-contained page for a CRM admin (inline CSS, inline SVG charts).

Everything from the CRM is untrusted. Jinja2 autoescaping escapes every value; links
into the CRM are kept only when they are http(s) URLs; a Content-Security-Policy lets
the page run no script and load nothing from the network, so even a value that got
through could neither execute nor phone home.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, urlsplit

from jinja2 import Environment, select_autoescape
from markupsafe import Markup, escape

from .. import model
from ..findings import WARNING_PREFIX, AuditResult
from ..scoring import coverage_text, tenant_scores, value_text, why_not_scored
from . import ReportContext
from .charts import render_svg, score_by_area_spec, score_trend_spec, valid_spec
from .markdown import not_applicable_text, status_of_step

SAMPLE_SIZE = 5
METRIC_ITEMS = 40  # entries shown per metric collection (report.json keeps them all)
METRIC_DEPTH = 3  # nesting shown as tables/lists; deeper values as short JSON text
SEVERITY_ORDER = {s: i for i, s in enumerate(model.SEVERITIES)}

TEMPLATE = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<title>CRM audit {{ audit.id }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK KR","Apple SD Gothic Neo",sans-serif;margin:0;color:#111827;background:#f9fafb;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:1.6rem;margin:0 0 4px} h2{font-size:1.25rem;margin:32px 0 8px;border-bottom:1px solid #e5e7eb;padding-bottom:4px} h3{font-size:1.05rem;margin:0 0 6px}
.muted{color:#6b7280}.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px;margin:10px 0}
.score{display:flex;gap:18px;align-items:center;flex-wrap:wrap}.big{font-size:3rem;font-weight:700}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:.8rem;font-weight:600;border:1px solid transparent}
.critical{background:#7f1d1d;color:#fff}.high{background:#fee2e2;color:#991b1b}.medium{background:#fef3c7;color:#92400e}.low{background:#e0f2fe;color:#075985}.info{background:#f3f4f6;color:#374151}
.ok{background:#dcfce7;color:#166534}.findings{background:#fef3c7;color:#92400e}.error{background:#fee2e2;color:#991b1b}.skipped,.not-covered{background:#f3f4f6;color:#4b5563}.accepted{background:#ede9fe;color:#5b21b6}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #f3f4f6;vertical-align:top}th{color:#6b7280;font-weight:600}
td.num,th.num{text-align:right}.chart svg{width:100%;height:auto;max-height:420px}
code{background:#f3f4f6;padding:0 4px;border-radius:4px;font-size:.85em}details summary{cursor:pointer}
.ids{font-family:ui-monospace,monospace;font-size:.82rem;word-break:break-all}
.warning{color:#92400e;margin-top:4px}.coverage{margin-top:4px}
table.metric{width:auto;font-size:.85rem}table.metric th,table.metric td{padding:2px 6px}ul.metric{margin:0;padding-left:18px}
</style>
</head>
<body><main>
<h1>CRM audit</h1>
<div class="muted">Audit {{ audit.id }} · as of {{ audit.as_of[:10] }} · crm-audit {{ audit.tool_version }}</div>

<section class="card score" id="score">
  <div><div class="big">{{ overall }}</div><div class="muted">overall score{% if overall != "n/a" %} / 100{% endif %}</div>
  {% if coverage %}<div class="coverage" id="coverage">{{ coverage }}</div>{% endif %}{% if why_na %}<div class="muted">n/a: {{ why_na }}</div>{% endif %}</div>
  <table style="width:auto">{% for a in areas %}<tr><th>{{ a.area }}</th><td class="num">{{ a.value }}</td><td class="muted">{{ a.coverage }}</td></tr>{% endfor %}</table>
  {% for chart in score_charts %}<div class="chart" style="flex:1;min-width:320px" data-chart="{{ chart.id }}"><h3>{{ chart.title }}</h3>{{ chart.svg }}</div>{% endfor %}
</section>

<h2>Tenants</h2>
<table><tr><th>tenant</th><th>connector</th><th class="num">records</th><th class="num">API calls</th><th class="num">score</th><th>data</th></tr>
{% for t in audit.tenants %}<tr><td>{{ t.name }}</td><td>{{ t.connector }}</td><td class="num">{{ "{:,}".format(t.records.values()|sum) }}</td><td class="num">{{ "{:,}".format(t.api_calls) }}</td>
<td class="num tenant-score">{{ tenant_scores[t.name].value }}<div class="muted">{{ tenant_scores[t.name].coverage }}</div></td>
<td>{% if t.error %}<span class="pill error">error</span> {{ t.error }}{% elif t.partial_tables %}<span class="pill findings">partial</span> {{ t.partial_tables|join(", ") }}{% else %}<span class="pill ok">complete</span>{% endif %}
{% for n in t.notes %}{% if n.startswith(warning_prefix) %}<div class="warning"><span class="pill findings">warning</span> {{ n[warning_prefix|length:] }}</div>{% else %}<div class="muted">{{ n }}</div>{% endif %}{% endfor %}
{% if not_applicable.get(t.name) %}<div class="muted not-applicable">{{ not_applicable[t.name] }}.</div>{% endif %}</td></tr>{% endfor %}
</table>
{% if audit.plugin_errors %}
<h2 id="plugin-errors">Plugin problems</h2>
<section class="card"><p>Some plugins did not load completely; what is listed here is missing from this audit:</p>
<ul>{% for e in audit.plugin_errors %}<li class="plugin-error">{{ e }}</li>{% endfor %}</ul></section>
{% endif %}

<h2>The audit, step by step</h2>
<table><tr><th>step</th><th>status</th><th class="num">checks</th><th class="num">findings</th></tr>
{% for s in steps %}<tr><td><a href="#step-{{ s.key }}">{{ s.title }}</a></td><td><span class="pill {{ s.status|replace(' ', '-') }}">{{ s.status }}</span></td><td class="num">{{ s.checks }}</td><td class="num">{{ s.findings }}</td></tr>{% endfor %}
</table>

{% for s in steps %}{% if s.results %}
<h2 id="step-{{ s.key }}">{{ s.title }}</h2>
{% for r in s.results if r.status == "fail" or r.charts %}
<article class="card finding" data-check="{{ r.check_id }}">
  <h3><span class="pill {{ r.severity }}">{{ r.severity }}</span> {{ r.title }}
  {% if r.status == "fail" %}{% if r.accepted %}<span class="pill accepted">accepted risk</span>{% else %}<span class="pill findings">{{ "{:,}".format(r.affected.count) }} affected</span>{% endif %}
  {% elif r.status == "pass" %}<span class="pill ok">pass</span>{% else %}<span class="pill {{ r.status }}">{{ r.status }}</span>{% endif %}</h3>
  <div class="muted"><code>{{ r.check_id }}</code> · {{ r.tenant }}</div>
  <p>{{ r.message }}</p>
  {% if r.reason %}<p class="muted">{{ r.reason }}</p>{% endif %}
  {% if r.references %}<p class="muted references">References: {% for ref in r.references %}{% if ref_link(ref) %}<a href="{{ ref_link(ref) }}" rel="noopener noreferrer">{{ ref }}</a>{% else %}{{ ref }}{% endif %}{% if not loop.last %}; {% endif %}{% endfor %}</p>{% endif %}
  {% if r.status == "fail" and r.affected.count %}
  <p>Affected {{ r.affected.object or "records" }}{% if r.affected.population %} ({{ "{:,}".format(r.affected.count) }} of {{ "{:,}".format(r.affected.population) }}){% endif %}:</p>
  <table class="samples"><tr><th>id</th><th>problem</th></tr>
  {% for sample in r.samples %}<tr><td class="ids">{% if sample.link %}<a href="{{ sample.link }}" rel="noopener noreferrer">{{ sample.id }}</a>{% else %}{{ sample.id }}{% endif %}</td><td>{{ sample.problem }}</td></tr>{% endfor %}
  </table>
  {% if r.affected.count > r.samples|length %}<p class="muted">and {{ "{:,}".format(r.affected.count - r.samples|length) }} more in the fix-list.</p>{% endif %}
  <p><a href="fixlists/{{ r.check_id }}.csv">Fix-list: fixlists/{{ r.check_id }}.csv</a></p>
  {% endif %}
  {% if r.status in ("fail", "pass") %}<p><strong>How to fix:</strong> {{ r.remediation }}</p>{% endif %}
  {% for chart in r.charts %}<div class="chart" data-chart="{{ chart.id }}"><h3>{{ chart.title }}</h3>{{ chart.svg }}</div>{% endfor %}
  {% if r.metrics_view %}<details><summary>Metrics</summary><table class="metrics">{% for k, v in r.metrics_view %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table></details>{% endif %}
</article>
{% endfor %}
{% set quiet = s.results|rejectattr("status", "equalto", "fail")|rejectattr("charts")|list %}
{% if quiet %}<details class="card"><summary>{{ quiet|length }} more checks: {{ quiet|selectattr("status", "equalto", "pass")|list|length }} passed, {{ quiet|selectattr("status", "equalto", "skipped")|list|length }} skipped, {{ quiet|selectattr("status", "equalto", "error")|list|length }} errors</summary>
<table><tr><th>check</th><th>tenant</th><th>status</th><th>detail</th></tr>
{% for r in quiet %}<tr data-check="{{ r.check_id }}"><td>{{ r.title }}<div class="muted"><code>{{ r.check_id }}</code></div></td><td>{{ r.tenant }}</td><td><span class="pill {{ r.status }}">{{ r.status }}</span></td><td>{{ r.reason or r.message }}{% if r.references %}<div class="muted references">References: {% for ref in r.references %}{% if ref_link(ref) %}<a href="{{ ref_link(ref) }}" rel="noopener noreferrer">{{ ref }}</a>{% else %}{{ ref }}{% endif %}{% if not loop.last %}; {% endif %}{% endfor %}</div>{% endif %}{% if r.metrics_view %}<details><summary>Metrics</summary><table class="metrics">{% for k, v in r.metrics_view %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>{% endfor %}</table></details>{% endif %}</td></tr>{% endfor %}
</table></details>{% endif %}
{% endif %}{% endfor %}
<p class="muted">Report written by crm-audit. Data in this report comes from the CRM as it was on {{ audit.as_of[:10] }}.</p>
</main></body></html>
"""


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


def format_number(value) -> str:
    """A number as a reader wants it: ``10000.0`` -> ``10,000``, ``0.1234`` -> ``0.12``, ``1234567`` -> ``1,234,567``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer() and abs(value) < 1e18:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 0.01:
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return format_number(value)
    return str(value)


def _metric_html(value, depth: int = 0) -> Markup:
    """One metric value as escaped HTML: scalars as text, dicts as a small table, lists as a list.

    Lists of dicts with the same keys become one table; nesting deeper than
    METRIC_DEPTH and collections longer than METRIC_ITEMS are cut with a note.
    """
    if isinstance(value, dict):
        if not value:
            return Markup('<span class="muted">(empty)</span>')
        if depth >= METRIC_DEPTH:
            return escape(_short_json(value))
        items = list(value.items())
        rows = Markup("").join(
            Markup("<tr><th>{}</th><td>{}</td></tr>").format(_text(k), _metric_html(v, depth + 1)) for k, v in items[:METRIC_ITEMS]
        )
        return Markup('<table class="metric">{}</table>{}').format(rows, _more(len(items)))
    if isinstance(value, (list, tuple, set)):
        items = list(value)
        if not items:
            return Markup('<span class="muted">(none)</span>')
        if depth >= METRIC_DEPTH:
            return escape(_short_json(items))
        shown = items[:METRIC_ITEMS]
        if all(isinstance(i, dict) for i in shown):
            columns = list(dict.fromkeys(k for i in shown for k in i))
            if len(columns) <= 8:
                head = Markup("").join(Markup("<th>{}</th>").format(_text(c)) for c in columns)
                body = Markup("").join(
                    Markup("<tr>{}</tr>").format(Markup("").join(
                        Markup("<td{}>{}</td>").format(Markup(' class="num"') if isinstance(i.get(c), (int, float)) else "",
                                                       _metric_html(i.get(c), depth + 1)) for c in columns))
                    for i in shown
                )
                return Markup('<table class="metric"><tr>{}</tr>{}</table>{}').format(head, body, _more(len(items)))
        if all(not isinstance(i, (dict, list, tuple, set)) for i in shown):
            return Markup("{}{}").format(", ".join(_text(i) for i in shown), _more(len(items), inline=True))
        lis = Markup("").join(Markup("<li>{}</li>").format(_metric_html(i, depth + 1)) for i in shown)
        return Markup('<ul class="metric">{}</ul>{}').format(lis, _more(len(items)))
    return escape(_text(value))


def _more(total: int, inline: bool = False) -> Markup:
    if total <= METRIC_ITEMS:
        return Markup("")
    note = f"and {total - METRIC_ITEMS:,} more in report.json"
    return Markup(" <span class=\"muted\">{}</span>" if inline else "<div class=\"muted\">{}</div>").format(note)


def _short_json(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:199] + "…"


def _metrics(metrics: dict) -> list[tuple[str, Markup]]:
    """Every metric but the chart specs, as (name, escaped HTML)."""
    out = [(str(key), _metric_html(value)) for key, value in metrics.items() if key != "charts"]
    return out[:METRIC_ITEMS]


def _charts(metrics: dict) -> list[dict]:
    out = []
    for spec in metrics.get("charts") or []:
        if valid_spec(spec):
            try:
                out.append({"id": str(spec.get("id", "")), "title": str(spec.get("title", "")), "svg": Markup(render_svg(spec))})
            except Exception as exc:  # a malformed spec from a plugin must not lose the report
                out.append({"id": str(spec.get("id", "")), "title": f"{spec.get('title', '')} (chart unavailable: {type(exc).__name__})", "svg": ""})
    return out


def render_html(audit: AuditResult, context: ReportContext) -> str:
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    template = env.from_string(TEMPLATE)
    steps = []
    for step in model.STEPS:
        results = [r for r in audit.applicable_results() if r.step == step]
        results.sort(key=lambda r: ({"fail": 0, "error": 1, "pass": 2, "skipped": 3}[r.status], SEVERITY_ORDER.get(r.severity, 9), r.check_id))
        views = []
        for r in results:
            samples = [
                {"id": rid, "link": safe_link(context.link(r.tenant, r.affected.object or "", rid)), "problem": r.details.get(rid) or r.title}
                for rid in r.affected.ids[:SAMPLE_SIZE]
            ]
            views.append({**r.__dict__, "affected": r.affected, "samples": samples, "charts": _charts(r.metrics),
                          "metrics_view": _metrics(r.metrics)})
        steps.append({"key": step, "title": model.STEP_TITLES[step], "status": status_of_step(results),
                      "checks": len(results), "findings": sum(1 for r in results if r.status == "fail"), "results": views})
    score_charts = []
    for spec in (score_by_area_spec(audit.score), score_trend_spec(context.history)):
        if spec:
            score_charts.append({"id": spec["id"], "title": spec["title"], "svg": Markup(render_svg(spec, width=5, height=2.4))})
    score = audit.score or {}
    overall = score.get("overall")
    cov = score.get("coverage")
    area_cov = (cov or {}).get("areas") or {}
    areas = [{"area": a, "value": value_text((score.get("areas") or {}).get(a)),
              "coverage": f"{area_cov[a]['checks_run']} of {area_cov[a]['checks_applicable']} checks" if a in area_cov else ""}
             for a in model.AREAS if a in area_cov or a in (score.get("areas") or {})]
    per_tenant = {name: {"value": value_text(s.get("overall")), "coverage": coverage_text(s.get("coverage"))}
                  for name, s in tenant_scores(score, audit.results, [t.name for t in audit.tenants]).items()}
    return template.render(
        audit=audit,
        overall=value_text(overall),
        coverage=coverage_text(cov),
        why_na=why_not_scored(cov) if overall is None else "",
        areas=areas,
        tenant_scores=per_tenant,
        warning_prefix=WARNING_PREFIX,
        steps=steps,
        score_charts=score_charts,
        not_applicable=not_applicable_text(audit),
        ref_link=safe_link,
    )


def write_html(audit: AuditResult, context: ReportContext) -> list[Path]:
    path = context.folder / "report.html"
    path.write_text(render_html(audit, context), encoding="utf-8")
    return [path]
