"""A check's metrics as readable, escaped HTML for report.html (numbers for the report's language).

Scalars become text, dicts small tables, lists lists (a list of records one table);
nesting deeper than METRIC_DEPTH becomes short JSON text and collections longer than
METRIC_ITEMS are cut with a note (report.json keeps everything). Metric keys and nested keys
are shown through :func:`metric_label`: translated when a registered domain has their display
form as a msgid (the standard checks list theirs in ``crm_audit_checks.metric_labels``), as they
are otherwise (CRM data: stage, source and user names, dates, ids).
"""

from __future__ import annotations

import json

from markupsafe import Markup, escape

from ..i18n import ntr, tr, translate_template

METRIC_ITEMS = 40  # entries shown per metric collection (report.json keeps them all)
METRIC_DEPTH = 3  # nesting shown as tables/lists; deeper values as short JSON text


def format_number(value, lang: str = "en") -> str:
    """A number as a reader of ``lang`` wants it: ``10000.0`` -> ``10,000`` (``10.000`` in
    Indonesian), ``0.1234`` -> ``0.12``, ``1234567`` -> ``1,234,567``, ``0.001234`` -> ``0.0012``."""
    from babel import numbers

    if isinstance(value, bool):
        return tr(lang, "yes") if value else tr(lang, "no")
    if isinstance(value, int):
        return numbers.format_decimal(value, locale=lang)
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if value.is_integer() and abs(value) < 1e18:
        return numbers.format_decimal(int(value), locale=lang)
    if abs(value) >= 1000:
        return numbers.format_decimal(value, format="#,##0", locale=lang)
    if abs(value) >= 0.01:
        return numbers.format_decimal(value, format="#,##0.##", locale=lang)
    return numbers.format_decimal(float(f"{value:.2g}"), format="0.##########", locale=lang)


def metric_label(key, lang: str = "en") -> str:
    """A metric key or nested key as a table header in ``lang``.

    English shows report.json's key as it is (``last_login_recency``). Other languages look up
    its display form (underscores as spaces: ``"last login recency"``) as a msgid in every
    registered domain (the core never imports a plugin: the lookup is by text); a key no domain
    translates (CRM data such as a stage name, a date or an id) is shown unchanged."""
    if not isinstance(key, str):
        return _text(key, lang)
    if lang == "en" or not key.strip():
        return key
    display = key.replace("_", " ")
    translated = translate_template(display, None, None, lang, "*")
    return key if translated == display else translated


def _text(value, lang: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return format_number(value, lang)
    return str(value)


def metric_html(value, lang: str = "en", depth: int = 0) -> Markup:
    """One metric value as escaped HTML: scalars as text, dicts as a small table, lists as a list."""
    if isinstance(value, dict):
        if not value:
            return Markup('<span class="muted">{}</span>').format(tr(lang, "(empty)"))
        if depth >= METRIC_DEPTH:
            return escape(_short_json(value))
        items = list(value.items())
        rows = Markup("").join(
            Markup("<tr><th>{}</th><td>{}</td></tr>").format(metric_label(k, lang), metric_html(v, lang, depth + 1))
            for k, v in items[:METRIC_ITEMS]
        )
        return Markup('<table class="metric">{}</table>{}').format(rows, _more(len(items), lang))
    if isinstance(value, (list, tuple, set)):
        items = list(value)
        if not items:
            return Markup('<span class="muted">{}</span>').format(tr(lang, "(none)"))
        if depth >= METRIC_DEPTH:
            return escape(_short_json(items))
        shown = items[:METRIC_ITEMS]
        if all(isinstance(i, dict) for i in shown):
            columns = list(dict.fromkeys(k for i in shown for k in i))
            if len(columns) <= 8:
                head = Markup("").join(Markup("<th>{}</th>").format(metric_label(c, lang)) for c in columns)
                body = Markup("").join(
                    Markup("<tr>{}</tr>").format(Markup("").join(
                        Markup("<td{}>{}</td>").format(Markup(' class="num"') if isinstance(i.get(c), (int, float)) else "",
                                                       metric_html(i.get(c), lang, depth + 1)) for c in columns))
                    for i in shown
                )
                return Markup('<table class="metric"><tr>{}</tr>{}</table>{}').format(head, body, _more(len(items), lang))
        if all(not isinstance(i, (dict, list, tuple, set)) for i in shown):
            return Markup("{}{}").format(", ".join(_text(i, lang) for i in shown), _more(len(items), lang, inline=True))
        lis = Markup("").join(Markup("<li>{}</li>").format(metric_html(i, lang, depth + 1)) for i in shown)
        return Markup('<ul class="metric">{}</ul>{}').format(lis, _more(len(items), lang))
    return escape(_text(value, lang))


def _more(total: int, lang: str, inline: bool = False) -> Markup:
    if total <= METRIC_ITEMS:
        return Markup("")
    note = ntr(lang, "and {n} more in report.json", "and {n} more in report.json", total - METRIC_ITEMS)
    return Markup(" <span class=\"muted\">{}</span>" if inline else "<div class=\"muted\">{}</div>").format(note)


def _short_json(value) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 200 else text[:199] + "…"


def metrics_view(metrics: dict, lang: str = "en") -> list[tuple[str, Markup]]:
    """Every metric but the chart specs, as (name in ``lang``, escaped HTML)."""
    out = [(metric_label(str(key), lang), metric_html(value, lang)) for key, value in metrics.items() if key != "charts"]
    return out[:METRIC_ITEMS]
