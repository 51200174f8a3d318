"""Charts as inline SVG, drawn by matplotlib (never by hand).

Checks describe the charts their metrics deserve with a small spec in
``metrics["charts"]`` (a list), and every reporter that draws renders the same specs::

    {"id": "activity-timeline", "title": _("Daily activity by type"), "kind": "line",
     "x": ["2026-01-01", ...], "series": {"call": [3, 5, ...], "email": [...]},
     "x_label": _("day"), "y_label": _("activities")}

``title``, ``x_label`` and ``y_label`` are translatable (a Message, or English text that
a catalogue knows); series names and categories are CRM data, shown as they are (a
Message among them is translated too). Optional ``colors`` (a list of CSS colours, one
per series) overrides the palette.

Kinds: ``line`` (x are ISO dates or labels), ``bar``, ``stacked-bar``, ``barh``
(one series), ``heatmap`` (``x`` columns, ``y`` rows, ``values`` rows of numbers 0-1 or
counts). Labels are CRM data: matplotlib writes them as SVG paths (``svg.fonttype``
``path``: the browser needs no font, Hangul included), and math text is switched off so
a ``$`` in a company name is just a dollar sign.

Tick labels never overlap: date axes get at most :data:`MAX_DATE_TICKS` ticks labelled
for the language, count axes integer ticks only, long categories are wrapped and cut
with an ellipsis, and what still collides after layout is turned upright or thinned
(:func:`_declutter`, measured on the drawn figure).
"""

from __future__ import annotations

import hashlib
import io
import re
import textwrap
from datetime import date
from functools import lru_cache
from pathlib import Path

CHART_KINDS = ("line", "bar", "stacked-bar", "barh", "heatmap")
PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9ca3af"]
MAX_DATE_TICKS = 8
HANGUL_FONTS = ("Noto Sans KR", "Noto Sans CJK KR", "Source Han Sans KR", "NanumGothic", "Apple SD Gothic Neo",
                "Malgun Gothic", "UnDotum")
"""System fonts with Hangul that the charts use when the machine has one (else the packaged Noto Sans KR)."""
_RC = {
    "svg.fonttype": "path",  # glyphs as paths: the browser draws them without any font
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "crm-audit",
}


def valid_spec(spec) -> bool:
    return isinstance(spec, dict) and spec.get("kind") in CHART_KINDS and (
        ("series" in spec and "x" in spec) or (spec.get("kind") == "heatmap" and "values" in spec)
    )


def chart_text(value, lang: str = "en", *, lookup: bool = True) -> str:
    """A chart's title or axis label in ``lang``: a Message rendered, plain text looked up in
    the catalogues (``lookup``; charts archived before their titles were templates)."""
    from ..i18n import Joined, Message, untranslated

    if isinstance(value, (Message, Joined)):
        return value.render(lang)
    if value is None or value == "":
        return ""
    if not lookup or lang == "en":
        return str(value)
    return untranslated(str(value)).render(lang)


def hangul_font_path() -> Path | None:
    """The packaged Noto Sans KR (``justmytype-intl-cjk``), or None when it is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("justmytype_intl_cjk")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "fonts" / "ofl" / "notosanskr" / "NotoSansKR[wght].ttf"
    return path if path.exists() else None


REGULAR_FAMILY = "crm-audit Noto Sans KR"
"""The packaged font's regular weight (static), cut to the 2,350 common Hangul syllables of
KS X 1001 and the jamo: what matplotlib draws Hangul with when the system has no Korean font
(a variable font gives matplotlib only its thinnest weight)."""


@lru_cache(maxsize=2)
def font_family(hangul: bool = True) -> tuple[str, ...]:
    """matplotlib's font.family: DejaVu Sans, then (``hangul``) a font with Hangul: a system
    one, else the packaged Noto Sans KR (its regular cut, then the whole variable font for
    rarer syllables), registered with matplotlib once."""
    from matplotlib import font_manager

    if not hangul:
        return ("DejaVu Sans",)
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in HANGUL_FONTS:
        if name in names:
            return ("DejaVu Sans", name)
    path = hangul_font_path()
    if path is None:
        return ("DejaVu Sans",)
    family = ["DejaVu Sans"]
    regular = _regular_cut(path)
    if regular is not None:
        font_manager.fontManager.addfont(str(regular))
        family.append(REGULAR_FAMILY)
    font_manager.fontManager.addfont(str(path))
    family.append(font_manager.FontProperties(fname=str(path)).get_name())
    return tuple(family)


def _regular_cut(path: Path) -> Path | None:
    """The regular cut of the packaged font (:data:`REGULAR_FAMILY`), made once (a few
    seconds) into the user's cache folder; None when it cannot be made."""
    import os
    import tempfile

    stat = path.stat()
    key = hashlib.sha1(f"{stat.st_size}-{int(stat.st_mtime)}-1".encode()).hexdigest()[:10]
    folders = [Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crm-audit",
               Path(tempfile.gettempdir()) / "crm-audit-cache"]
    for folder in folders:
        target = folder / f"NotoSansKR-Regular-ksx1001-{key}.ttf"
        if target.exists():
            return target
    try:
        from fontTools import subset
        from fontTools.ttLib import TTFont
        from fontTools.varLib import instancer

        chars = {chr(c) for c in range(0x3131, 0x318F)}
        for hi in range(0xB0, 0xC9):
            for lo in range(0xA1, 0xFF):
                try:
                    chars.add(bytes([hi, lo]).decode("euc_kr"))
                except UnicodeDecodeError:
                    pass
        font = TTFont(str(path))
        options = subset.Options()
        options.name_IDs = ["*"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(text="".join(sorted(chars)))
        subsetter.subset(font)
        font = instancer.instantiateVariableFont(font, {"wght": 400})
        names = font["name"]
        for record in list(names.names):
            if record.nameID in (1, 4, 16):
                names.setName(REGULAR_FAMILY, record.nameID, record.platformID, record.platEncID, record.langID)
            elif record.nameID in (2, 17):
                names.setName("Regular", record.nameID, record.platformID, record.platEncID, record.langID)
            elif record.nameID == 6:
                names.setName("crm-audit-NotoSansKR-Regular", 6, record.platformID, record.platEncID, record.langID)
    except Exception:  # the variable font alone
        return None
    for folder in folders:
        target = folder / f"NotoSansKR-Regular-ksx1001-{key}.ttf"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.tmp")
            font.save(str(partial))
            partial.replace(target)
            return target
        except OSError:
            continue
    return None


_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]")


def _has_hangul(spec: dict, lang: str) -> bool:
    """Whether a chart draws Hangul: Korean labels (dates too), or Hangul in its data."""
    if lang == "ko":
        return True
    texts = [chart_text(spec.get(k), lang) for k in ("x_label", "y_label")]
    texts += [str(v) for v in list(spec.get("x") or []) + list(spec.get("y") or []) + list(spec.get("series") or {})]
    return any(_HANGUL.search(t) for t in texts)


def _as_dates(labels):
    try:
        return [date.fromisoformat(str(x)[:10]) for x in labels]
    except ValueError:
        return None


def _short(label, n=28) -> str:
    text = " ".join(str(label).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _wrapped(label, width=14, lines=2) -> str:
    """A category label on at most ``lines`` lines of about ``width`` characters, cut with an ellipsis."""
    text = " ".join(str(label).split())
    parts = textwrap.wrap(text, width=width, break_long_words=True) or [""]
    if len(parts) > lines:
        parts = parts[:lines]
        parts[-1] = parts[-1][: width - 1] + "…"
    return "\n".join(parts)


MAX_CATEGORIES = 30
"""Bars a categorical chart draws: the largest; the rest are summed into one last bar."""


def capped(spec: dict, lang: str = "en") -> dict:
    """``spec`` with at most MAX_CATEGORIES categories (bar, barh, stacked-bar over labels
    that are not dates): the largest by total in their order, then one bar "N others"
    summing the rest. A chart of hundreds of bars (duplicates by source on a big tenant)
    is unreadable and costs matplotlib seconds; report.json keeps every value."""
    from ..i18n import ntr

    x = list(spec.get("x") or [])
    if spec.get("kind") not in ("bar", "barh", "stacked-bar") or len(x) <= MAX_CATEGORIES or _as_dates(x):
        return spec
    series = {name: [float(v or 0) for v in values] + [0.0] * (len(x) - len(values))
              for name, values in (spec.get("series") or {}).items()}
    totals = [sum(values[i] for values in series.values()) for i in range(len(x))]
    kept = sorted(sorted(range(len(x)), key=lambda i: (-totals[i], i))[: MAX_CATEGORIES - 1])
    rest = sorted(set(range(len(x))) - set(kept))
    return {**spec, "x": [x[i] for i in kept] + [ntr(lang, "{n} other", "{n} others", len(rest))],
            "series": {name: [values[i] for i in kept] + [sum(values[i] for i in rest)] for name, values in series.items()}}


def _integral(values) -> bool:
    return all(v is None or (isinstance(v, (int, float)) and float(v).is_integer()) for v in values)


def _overlapping(fig, axis, *, place: bool = True) -> bool:
    """Whether two of the axis's tick labels collide on the laid-out figure (``place``: lay
    the axis's ticks out again first, after they changed; tight_layout has laid them out)."""
    renderer = fig.canvas.get_renderer()
    if place:
        axis.get_tightbbox(renderer)  # places the axis's tick labels (cheaper than drawing the figure)
    boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    boxes.sort(key=lambda b: (b.x0, b.y0))
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:i + 4])


def _declutter(fig, axis, *, categories: list[str] | None = None) -> None:
    """Tick labels that collide on the drawn figure: ``categories`` upright on one line
    first (the figure grows by their height, so the plot keeps its size), then every
    second, third... label kept."""
    if not _overlapping(fig, axis, place=False):
        return
    locs = list(axis.get_ticklocs())
    texts = [t.get_text() for t in axis.get_ticklabels()]
    if categories is not None and len(categories) == len(locs):
        texts = [_short(t, 28) for t in categories]
        axis.set_ticks(locs, texts)
        axis.set_tick_params(labelrotation=90)
        renderer = fig.canvas.get_renderer()
        axis.get_tightbbox(renderer)
        tallest = max((t.get_window_extent(renderer).height for t in axis.get_ticklabels() if t.get_text()), default=0)
        fig.set_figheight(fig.get_figheight() + tallest / fig.dpi)
        fig.tight_layout()
        if not _overlapping(fig, axis):
            return
    for step in (2, 3, 4, 6, 8, 12, 16, 24, 32):
        axis.set_ticks(locs[::step], texts[::step])
        if not _overlapping(fig, axis):
            return


def _date_formatter(lang: str, dates: list[date]):
    from babel.dates import format_skeleton
    from matplotlib.dates import num2date
    from matplotlib.ticker import FuncFormatter

    span = (max(dates) - min(dates)).days if dates else 0
    skeleton = "yMMMd" if span > 300 or (dates and min(dates).year != max(dates).year) else "MMMd"
    return FuncFormatter(lambda value, _pos: format_skeleton(skeleton, num2date(value).date(), locale=lang))


def render_svg(spec: dict, *, width: float = 7.5, height: float = 2.8, lang: str = "en") -> str:
    """One chart spec as an ``<svg>`` element (no XML prologue), ready to inline (categorical
    charts cut to :data:`MAX_CATEGORIES` bars by :func:`capped`), its labels in ``lang``."""
    spec = capped(spec, lang)
    import logging
    import warnings

    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.dates import AutoDateLocator
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    # A variable font's default weight and Hangul measured in DejaVu before the fallback:
    # matplotlib's notices about them are noise.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    with warnings.catch_warnings(), matplotlib.rc_context({**_RC, "font.family": list(font_family(_has_hangul(spec, lang)))}):
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        # A chart whose points share one x (one audit date, one day of logins): matplotlib
        # widens the axis itself and says so on the console; the widening is what we want.
        warnings.filterwarnings("ignore", message="Attempting to set identical low and high")
        kind = spec["kind"]
        palette = [str(c) for c in spec.get("colors") or []] + PALETTE
        x = list(spec.get("x") or [])
        series = {chart_text(k, lang, lookup=False): list(v) for k, v in (spec.get("series") or {}).items()}
        values_all = [v for values in series.values() for v in values]
        if kind == "barh":
            height = max(1.6, 0.28 * len(x) + 0.8)
        if kind == "heatmap":
            height = max(1.8, 0.4 * len(spec.get("y") or []) + 1.2)
        fig = Figure(figsize=(width, height), dpi=96)
        FigureCanvasAgg(fig)  # measures the labels (_declutter); savefig still writes SVG
        ax = fig.add_subplot(1, 1, 1)
        categories = None  # the x labels, when they are categories that may stand upright
        if kind == "line":
            dates = _as_dates(x)
            xs = dates if dates else list(range(len(x)))
            for i, (name, values) in enumerate(series.items()):
                ax.plot(xs, values, label=_short(name), color=palette[i % len(palette)], linewidth=1.2)
            if dates:
                ax.xaxis.set_major_locator(AutoDateLocator(minticks=2, maxticks=MAX_DATE_TICKS))
                ax.xaxis.set_major_formatter(_date_formatter(lang, dates))
            elif x:
                step = max(1, -(-len(x) // MAX_DATE_TICKS))
                ax.set_xticks(xs[::step], [_short(chart_text(v, lang, lookup=False), 12) for v in x[::step]])
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
            categories = [chart_text(v, lang, lookup=False) for v in x]
            ax.set_xticks(positions, [_wrapped(v) for v in categories])
        elif kind == "barh":
            [(name, values)] = list(series.items())[:1] or [("", [])]
            positions = list(range(len(x)))
            ax.barh(positions, [float(v or 0) for v in values], color=palette[0])
            ax.set_yticks(positions, [_short(chart_text(v, lang, lookup=False)) for v in x])
            ax.invert_yaxis()
        elif kind == "heatmap":
            from babel.numbers import format_decimal, format_percent

            rows = [[float(v) if v is not None else float("nan") for v in row] for row in spec["values"]]
            image = ax.imshow(rows, aspect="auto", cmap="RdYlGn", vmin=spec.get("vmin", 0), vmax=spec.get("vmax", 1))
            categories = [chart_text(v, lang, lookup=False) for v in x]
            ax.set_xticks(range(len(x)), [_wrapped(v) for v in categories])
            ax.set_yticks(range(len(spec.get("y") or [])), [_short(chart_text(v, lang, lookup=False), 16) for v in spec.get("y") or []])
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    if v == v:  # not NaN
                        text = (format_percent(v, format="#,##0%", locale=lang) if spec.get("vmax", 1) == 1
                                else format_decimal(v, format="#,##0.##", locale=lang))
                        ax.text(c, r, text, ha="center", va="center", fontsize=7)
            fig.colorbar(image, ax=ax, fraction=0.025)
        if kind in ("line", "bar", "stacked-bar") and _integral(values_all) and kind != "heatmap":
            ax.yaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        if kind == "barh" and _integral(values_all):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        if spec.get("x_label"):
            ax.set_xlabel(_short(chart_text(spec["x_label"], lang), 60))
        if spec.get("y_label"):
            ax.set_ylabel(_short(chart_text(spec["y_label"], lang), 40))
        if kind in ("line", "bar", "stacked-bar") and len(series) > 1:
            ax.legend(loc="upper left", fontsize=7, frameon=False, ncols=min(4, len(series)))
        fig.tight_layout()
        _declutter(fig, ax.xaxis, categories=categories)
        if kind in ("barh", "heatmap"):  # category rows; a value axis's numbers never collide
            _declutter(fig, ax.yaxis)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    # Responsive: let CSS size it.
    svg = re.sub(r'<svg([^>]*?) width="[^"]+" height="[^"]+"', r'<svg\1', svg, count=1)
    return _unique_ids(svg)


def _unique_ids(svg: str) -> str:
    """The SVG's ids (glyphs, clip paths, groups) prefixed by a hash of the chart, so many
    charts inlined in one page never share an id."""
    prefix = "c" + hashlib.sha1(svg.encode("utf-8")).hexdigest()[:8] + "-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'(xlink:href|href)="#([^"]+)"', lambda m: f'{m.group(1)}="#{prefix}{m.group(2)}"', svg)
    return re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)


def score_by_area_spec(score: dict, lang: str = "en") -> dict | None:
    from ..i18n import tr

    areas = (score or {}).get("areas") or {}
    if not areas:
        return None
    names = {"usage": tr(lang, "usage"), "security": tr(lang, "security"), "data": tr(lang, "data")}
    return {"id": "score-by-area", "title": tr(lang, "Score by area"), "kind": "barh", "x": [names.get(a, a) for a in areas],
            "series": {tr(lang, "score"): list(areas.values())}, "x_label": tr(lang, "score (0-100)")}


def score_trend_spec(history: list[dict], lang: str = "en") -> dict | None:
    from ..i18n import tr

    points = [h for h in history if h.get("score") is not None]
    if len(points) < 2:
        return None
    return {"id": "score-trend", "title": tr(lang, "Score over past audits"), "kind": "line",
            "x": [str(h.get("as_of") or h["id"])[:10] for h in points],
            "series": {tr(lang, "overall"): [h["score"] for h in points]}, "y_label": tr(lang, "score")}
