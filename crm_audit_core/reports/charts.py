"""Charts as inline SVG, drawn by matplotlib (never by hand).

Checks describe the charts their metrics deserve with a small spec in
``metrics["charts"]`` (a list), and every reporter that draws renders the same specs::

    {"id": "activity-timeline", "title": "Daily activity by type", "kind": "line",
     "x": ["2026-01-01", ...], "series": {"call": [3, 5, ...], "email": [...]},
     "x_label": "day", "y_label": "activities"}

Optional ``colors`` (a list of CSS colours, one per series) overrides the palette.

Kinds: ``line`` (x are ISO dates or labels), ``bar``, ``stacked-bar``, ``barh``
(one series), ``heatmap`` (``x`` columns, ``y`` rows, ``values`` rows of numbers 0-1 or
counts). Labels are CRM data: matplotlib writes them as escaped SVG text, and math text
is switched off so a ``$`` in a company name is just a dollar sign.
"""

from __future__ import annotations

import io
import re
from datetime import date

CHART_KINDS = ("line", "bar", "stacked-bar", "barh", "heatmap")
PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9ca3af"]
_RC = {
    "svg.fonttype": "none",  # text stays text: the browser renders Hangul and accents
    "text.parse_math": False,
    "font.family": ["DejaVu Sans"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "crm-audit",
}


def valid_spec(spec) -> bool:
    return isinstance(spec, dict) and spec.get("kind") in CHART_KINDS and (
        ("series" in spec and "x" in spec) or (spec.get("kind") == "heatmap" and "values" in spec)
    )


def _as_dates(labels):
    try:
        return [date.fromisoformat(str(x)[:10]) for x in labels]
    except ValueError:
        return None


def _short(label, n=28) -> str:
    text = " ".join(str(label).split())
    return text if len(text) <= n else text[: n - 1] + "…"


MAX_CATEGORIES = 30
"""Bars a categorical chart draws: the largest; the rest are summed into one last bar."""


def capped(spec: dict) -> dict:
    """``spec`` with at most MAX_CATEGORIES categories (bar, barh, stacked-bar over labels
    that are not dates): the largest by total in their order, then one bar "N others"
    summing the rest. A chart of hundreds of bars (duplicates by source on a big tenant)
    is unreadable and costs matplotlib seconds; report.json keeps every value."""
    x = list(spec.get("x") or [])
    if spec.get("kind") not in ("bar", "barh", "stacked-bar") or len(x) <= MAX_CATEGORIES or _as_dates(x):
        return spec
    series = {name: [float(v or 0) for v in values] + [0.0] * (len(x) - len(values))
              for name, values in (spec.get("series") or {}).items()}
    totals = [sum(values[i] for values in series.values()) for i in range(len(x))]
    kept = sorted(sorted(range(len(x)), key=lambda i: (-totals[i], i))[: MAX_CATEGORIES - 1])
    rest = sorted(set(range(len(x))) - set(kept))
    return {**spec, "x": [x[i] for i in kept] + [f"{len(rest):,} others"],
            "series": {name: [values[i] for i in kept] + [sum(values[i] for i in rest)] for name, values in series.items()}}


def render_svg(spec: dict, *, width: float = 7.5, height: float = 2.8) -> str:
    """One chart spec as an ``<svg>`` element (no XML prologue), ready to inline (categorical
    charts cut to :data:`MAX_CATEGORIES` bars by :func:`capped`)."""
    spec = capped(spec)
    import logging
    import warnings

    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    # Text is emitted as text (svg.fonttype none) and drawn by the browser's fonts, so
    # matplotlib's "glyph missing" notices for Hangul while measuring are noise.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    with warnings.catch_warnings(), matplotlib.rc_context(_RC):
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        # A chart whose points share one x (one audit date, one day of logins): matplotlib
        # widens the axis itself and says so on the console; the widening is what we want.
        warnings.filterwarnings("ignore", message="Attempting to set identical low and high")
        kind = spec["kind"]
        palette = [str(c) for c in spec.get("colors") or []] + PALETTE
        x = list(spec.get("x") or [])
        series = {str(k): list(v) for k, v in (spec.get("series") or {}).items()}
        if kind == "barh":
            height = max(1.6, 0.28 * len(x) + 0.8)
        if kind == "heatmap":
            height = max(1.8, 0.4 * len(spec.get("y") or []) + 1.2)
        fig = Figure(figsize=(width, height), dpi=96)
        ax = fig.add_subplot(1, 1, 1)
        if kind == "line":
            dates = _as_dates(x)
            xs = dates if dates else list(range(len(x)))
            for i, (name, values) in enumerate(series.items()):
                ax.plot(xs, values, label=_short(name), color=palette[i % len(palette)], linewidth=1.2)
            if dates:
                fig.autofmt_xdate()
            elif x:
                step = max(1, len(x) // 12)
                ax.set_xticks(xs[::step], [_short(v, 12) for v in x[::step]])
        elif kind in ("bar", "stacked-bar"):
            positions = list(range(len(x)))
            bottom = [0.0] * len(x)
            n = max(1, len(series))
            for i, (name, values) in enumerate(series.items()):
                values = [float(v or 0) for v in values]
                if kind == "stacked-bar":
                    ax.bar(positions, values, bottom=bottom, label=_short(name), color=palette[i % len(palette)])
                    bottom = [b + v for b, v in zip(bottom, values)]
                else:
                    w = 0.8 / n
                    ax.bar([p - 0.4 + w * (i + 0.5) for p in positions], values, width=w, label=_short(name),
                           color=palette[i % len(palette)])
            ax.set_xticks(positions, [_short(v, 16) for v in x], rotation=30 if len(x) > 5 else 0, ha="right" if len(x) > 5 else "center")
        elif kind == "barh":
            [(name, values)] = list(series.items())[:1] or [("", [])]
            positions = list(range(len(x)))
            ax.barh(positions, [float(v or 0) for v in values], color=palette[0])
            ax.set_yticks(positions, [_short(v) for v in x])
            ax.invert_yaxis()
        elif kind == "heatmap":
            rows = [[float(v) if v is not None else float("nan") for v in row] for row in spec["values"]]
            image = ax.imshow(rows, aspect="auto", cmap="RdYlGn", vmin=spec.get("vmin", 0), vmax=spec.get("vmax", 1))
            ax.set_xticks(range(len(x)), [_short(v, 16) for v in x], rotation=40, ha="right")
            ax.set_yticks(range(len(spec.get("y") or [])), [_short(v, 16) for v in spec.get("y") or []])
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if v == v:  # not NaN
                        ax.text(c, r, f"{v:.0%}" if spec.get("vmax", 1) == 1 else f"{v:g}", ha="center", va="center", fontsize=7)
            fig.colorbar(image, ax=ax, fraction=0.025)
        if spec.get("x_label"):
            ax.set_xlabel(_short(spec["x_label"], 40))
        if spec.get("y_label"):
            ax.set_ylabel(_short(spec["y_label"], 40))
        if kind in ("line", "bar", "stacked-bar") and len(series) > 1:
            ax.legend(loc="upper left", fontsize=7, frameon=False, ncols=min(4, len(series)))
        fig.tight_layout()
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    # Responsive: let CSS size it.
    svg = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r'<svg\1', svg, count=1)
    return svg


def score_by_area_spec(score: dict) -> dict | None:
    areas = (score or {}).get("areas") or {}
    if not areas:
        return None
    return {"id": "score-by-area", "title": "Score by area", "kind": "barh", "x": list(areas),
            "series": {"score": list(areas.values())}, "x_label": "score (0-100)"}


def score_trend_spec(history: list[dict]) -> dict | None:
    points = [h for h in history if h.get("score") is not None]
    if len(points) < 2:
        return None
    return {"id": "score-trend", "title": "Score over past audits", "kind": "line",
            "x": [str(h.get("as_of") or h["id"])[:10] for h in points],
            "series": {"overall": [h["score"] for h in points]}, "y_label": "score"}
