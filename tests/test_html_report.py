"""report.html: self-contained, escaped, charts present; checked in a real headless Chromium."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest

from crm_audit_core.findings import Affected, AuditResult, Result, TenantInfo
from crm_audit_core.reports import ReportContext
from crm_audit_core.reports.html import format_number, page_script, render_html, write_html

HOSTILE = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "javascript:alert(document.cookie)",
    '"><svg onload=alert(2)>',
    "=HYPERLINK(\"http://evil.example\")",
    "PT Maju Jaya Tbk $x^2$",
    "주식회사 한빛 (김민준)",
]
# Screenshots for a person to look at: a temporary folder unless CRM_AUDIT_ARTIFACTS names
# one (tests write nothing into the working tree).
ARTIFACTS = Path(os.environ.get("CRM_AUDIT_ARTIFACTS") or tempfile.gettempdir()) / "crm-audit-artifacts"


def hostile_audit() -> AuditResult:
    ids = [f"id-{i}-{s}" for i, s in enumerate(HOSTILE)]
    timeline = {"id": "activity-timeline", "title": "Daily activity <b>by</b> type", "kind": "line",
                "x": [f"2026-11-{d:02d}" for d in range(1, 25)],
                "series": {"call": list(range(24)), HOSTILE[0]: [d % 5 for d in range(24)]}}
    by_source = {"id": "duplicates-by-source", "title": "Duplicates by source", "kind": "barh",
                 "x": HOSTILE[:4], "series": {"duplicates": [5, 3, 2, 1]}}
    heat = {"id": "completeness", "title": "Completeness", "kind": "heatmap", "x": ["email", "phone", HOSTILE[1]],
            "y": ["contacts", "companies"], "values": [[0.9, 0.5, 0.2], [1.0, None, 0.4]]}
    results = [
        Result(check_id="data.duplicate-contacts", title="Duplicate contacts " + HOSTILE[0], step="duplicates", area="data",
               severity="high", tenant=HOSTILE[1], status="fail", message="Found " + HOSTILE[3] + " at 주식회사 한빛",
               metrics={"charts": [by_source], "clusters": 3, "note": HOSTILE[2], "records_scanned": 10000.0, "share": 0.1234,
                        "by_source": {HOSTILE[0]: 10000.0, "web": 3}, "top": [{"name": HOSTILE[1], "count": 1234567}],
                        "tags": [HOSTILE[3], "b"]},
               affected=Affected("contacts", ids, 100), groups=[ids[:2]], remediation="Merge " + HOSTILE[1],
               details={i: "duplicate of " + HOSTILE[0] for i in ids}),
        Result(check_id="usage.activity-timeline", title="Activity timeline", step="usage-review", area="usage",
               severity="info", tenant="acme", status="pass", message="ok", metrics={"charts": [timeline]},
               remediation="Keep logging."),
        Result(check_id="data.key-field-completeness", title="Completeness", step="missing-data", area="data",
               severity="low", tenant="acme", status="pass", message="ok", metrics={"charts": [heat]}, remediation="r"),
        Result(check_id="data.sparse-custom-fields", title="Sparse custom fields", step="unused-data", area="data",
               severity="low", tenant="acme", status="pass", message="ok", remediation="r",
               metrics={"fields": {"contacts": ["fav_color", HOSTILE[4]]}, "deep": {"a": {"b": {"c": {"d": 1}}}},
                        "many": list(range(100)), "empty": {}}),
        Result(check_id="security.users-without-mfa", title="Users without MFA", step="security", area="security",
               severity="high", tenant="acme", status="skipped", reason="needs users.mfa_enabled " + HOSTILE[0],
               message="skipped", remediation="r"),
    ]
    tenant = TenantInfo(name=HOSTILE[1], connector="files", api_calls=3, records={"contacts": 100},
                        notes=["note " + HOSTILE[0]])
    return AuditResult(id="20261124T000000Z", as_of="2026-11-24T00:00:00+00:00", started_at="2026-11-24T00:00:00+00:00",
                       tool_version="0.1.0", tenants=[tenant], results=results,
                       score={"overall": 71.5, "areas": {"usage": 100.0, "security": 80.0, "data": 60.1}})


def link(tenant, obj, rid):
    if rid.startswith("id-0"):
        return "javascript:alert(1)"
    if rid.startswith("id-1"):
        return "https://crm.example/record/" + rid
    return None


def render(tmp_path) -> tuple[Path, str]:
    context = ReportContext(folder=tmp_path, link=link,
                            history=[{"id": "a", "as_of": "2026-09-01", "score": 60.0}, {"id": "b", "as_of": "2026-10-01", "score": 65.0},
                                     {"id": "20261124T000000Z", "as_of": "2026-11-24", "score": 71.5}])
    [path] = write_html(hostile_audit(), context)
    return path, path.read_text(encoding="utf-8")


def test_every_value_is_escaped(tmp_path):
    _, page = render(tmp_path)
    # one script: the page's own (filter, sections), allowed by its hash and nothing else
    script, source = page_script()
    assert page.lower().count("<script") == 1 and f"<script>{script}</script>" in page
    assert f"script-src '{source}';" in page and "unsafe-eval" not in page
    # no real tag carries an event handler: every '<' from the data arrives as '&lt;'
    assert not re.search(r"<[a-zA-Z][^<>]*\son[a-z]+\s*=", page)
    assert 'href="javascript:' not in page
    assert "&lt;script&gt;" in page
    assert "주식회사 한빛" in page
    assert 'href="https://crm.example/record/id-1-%3Cimg%20src=x%20onerror=%22alert(1)%22%3E"' in page
    assert 'href="fixlists/data.duplicate-contacts.csv"' in page
    assert "Content-Security-Policy" in page


def test_self_contained(tmp_path):
    _, page = render(tmp_path)
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page.replace('href="https://crm.example', ""))
    assert "<link" not in page
    assert page.count("<svg") >= 5  # timeline, source bars, heatmap, score by area, trend


@pytest.mark.parametrize("value, text", [
    (10000.0, "10,000"), (0.1234, "0.12"), (1234567, "1,234,567"), (12.5, "12.5"), (0.5, "0.5"), (-3.0, "-3"),
    (1500.4, "1,500"), (0.001234, "0.0012"), (0.0, "0"), (True, "yes"), (float("nan"), "nan"),
])
def test_numbers_are_readable(value, text):
    assert format_number(value) == text


def _metrics_of(page: str, check_id: str) -> str:
    """The HTML of one check's Metrics block."""
    start = page.index(f'data-check="{check_id}"')
    block = page[page.index("<summary>Metrics</summary>", start):]
    return block[:block.index("</details>")]


def test_every_metric_is_shown_escaped_and_readable(tmp_path):
    _, page = render(tmp_path)
    failed = _metrics_of(page, "data.duplicate-contacts")
    assert "<th>records_scanned</th><td>10,000</td>" in failed
    assert "<th>share</th><td>0.12</td>" in failed
    assert "<th>clusters</th><td>3</td>" in failed
    # a dict becomes a small table, its keys escaped
    assert "<tr><th>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;</th><td>10,000</td></tr><tr><th>web</th><td>3</td></tr>" in failed
    # a list of records becomes a table with a header row
    assert ('<table class="metric"><tr><th>name</th><th>count</th></tr><tr><td>&lt;img src=x onerror=&#34;alert(1)&#34;&gt;</td>'
            '<td class="num">1,234,567</td></tr></table>') in failed
    assert "<th>tags</th><td>&#34;&gt;&lt;svg onload=alert(2)&gt;, b</td>" in failed
    assert "e+0" not in page and "charts" not in failed
    # a check that passed keeps its metrics too (in the table of quiet checks)
    passed = _metrics_of(page, "data.sparse-custom-fields")
    assert "<th>contacts</th><td>fav_color, =HYPERLINK(&#34;http://evil.example&#34;)</td>" in passed
    assert "<th>c</th><td>{&#34;d&#34;: 1}</td>" in passed  # deeper than three levels: short JSON text
    assert "0, 1, 2" in passed and "and 60 more in report.json" in passed
    assert "<th>empty</th><td><span class=\"muted\">(empty)</span></td>" in passed


@pytest.fixture
def browser(chromium):
    with chromium() as browser:
        yield browser
        browser.close()


def test_in_a_real_browser_nothing_runs_and_nothing_loads(tmp_path, browser):
    path, _ = render(tmp_path)
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    console_errors, page_errors, requests, dialogs = [], [], [], []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert console_errors == [] and page_errors == [] and dialogs == []
    assert requests == [path.as_uri()], requests
    assert page.locator("[data-chart] svg").count() >= 5
    assert page.locator("script").count() == 1  # the page's own, allowed by the CSP's sha256
    assert page.evaluate("window.__pwned === undefined")
    text = page.inner_text("body")
    assert "<script>alert('x')</script>" in text  # shown as text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report-hostile.png"), full_page=True)
    page.close()


def test_charts_of_many_categories_draw_the_largest_and_sum_the_rest():
    from crm_audit_core.reports.charts import MAX_CATEGORIES, capped, render_svg

    x = [f"source {i}" for i in range(400)]
    spec = {"id": "s", "title": "t", "kind": "stacked-bar", "x": x,
            "series": {"contacts": [i % 97 for i in range(400)], "companies": [1] * 399}}
    cut = capped(spec)
    assert len(cut["x"]) == MAX_CATEGORIES and cut["x"][-1] == f"{400 - MAX_CATEGORIES + 1} others"
    for name, values in spec["series"].items():
        assert sum(cut["series"][name]) == sum(values)  # nothing lost: the rest is in the last bar
    totals = {x[i]: spec["series"]["contacts"][i] + (1 if i < 399 else 0) for i in range(400)}
    kept = cut["x"][:-1]
    assert min(totals[k] for k in kept) >= max(t for k, t in totals.items() if k not in kept)
    assert kept == [k for k in x if k in kept]  # in their order
    dates = {"id": "d", "title": "t", "kind": "bar", "x": [f"2026-01-{d:02d}" for d in range(1, 32)],
             "series": {"n": list(range(31))}}
    assert capped(dates) is dates and capped({**spec, "x": x[:30], "series": {"n": [1] * 30}})["x"] == x[:30]
    assert f"{400 - MAX_CATEGORIES + 1} others" in render_svg(spec)


def _consultant_audit() -> AuditResult:
    def result(check_id, tenant, severity, status, ids=0, population=None, **kw):
        return Result(check_id=check_id, title=f"Title of {check_id}", step=kw.pop("step", "duplicates"), area="data",
                      severity=severity, tenant=tenant, status=status, message=f"message of {check_id}",
                      affected=Affected("contacts", [f"{tenant}-{i}" for i in range(ids)], population),
                      remediation=f"Fix {check_id} by hand.", **kw)

    results = [
        result("a.minor-share", "north", "high", "fail", 1, 100),
        result("a.minor-share", "south", "high", "fail", 90, 100),
        result("b.critical", "north", "critical", "fail", 1, 10, step="security"),
        result("c.half", "north", "high", "fail", 50, 100),
        result("d.passes", "north", "low", "pass", 0, 1234),
        result("d.passes", "south", "low", "skipped", reason="needs contacts.email"),
        result("e.other-crm", "north", "low", "not-applicable"),
    ]
    tenants = [TenantInfo(name="north", connector="files", records={"contacts": 1234}),
               TenantInfo(name="south", connector="files", records={"contacts": 100})]
    return AuditResult(id="20261124T000000Z", as_of="2026-11-24T00:00:00+00:00", started_at="2026-11-24T00:00:00+00:00",
                       tenants=tenants, results=results, score={"overall": 55.0, "areas": {"data": 55.0}})


def test_overview_ranks_the_fixes_and_carries_the_matrix(tmp_path):
    page = render_html(_consultant_audit(), ReportContext(folder=tmp_path))
    # by severity, then the largest share of records affected (south's 90%, not north's 1%)
    assert re.findall(r'data-fix="([^"]+)"', page) == ["b.critical", "a.minor-share", "c.half"]
    fixes = page[page.index('id="top-fixes"'):page.index('id="matrix"')]
    assert fixes.index("south</a>: 90 of 100 (90%)") < fixes.index("north</a>: 1 of 100 (1%)")
    # one matrix row per check that applies somewhere, one cell per tenant linking to its section
    assert re.findall(r'data-matrix-check="([^"]+)"', page) == ["b.critical", "a.minor-share", "c.half", "d.passes"]
    assert 'href="#tenant-2-a.minor-share" title="Affected contacts: 90 of 100 (90%).">90</a>' in page
    assert 'class="cell pass" href="#tenant-1-d.passes"' in page and 'class="cell skipped" href="#tenant-2-d.passes"' in page
    assert 'id="tenant-1-e.other-crm"' not in page and "e.other-crm" in page  # named in north's not-applicable line
    # a check that passed never says how to fix it; one that failed does, in its tenant's section only
    assert "Fix d.passes by hand." not in page
    assert page.count("Fix a.minor-share by hand.") == 2 and page.count('<details class="tenant"') == 2


def test_report_in_korean_and_indonesian(tmp_path):
    ko = render_html(_consultant_audit(), ReportContext(folder=tmp_path, lang="ko"))
    assert '<html lang="ko">' in ko and "가장 중요한 수정 10가지" in ko and "해결 방법:" in ko
    assert "2026. 11. 24." in ko and "4. 끝나지 않은 작업과 거래" not in ko and "6. 안전과 보안" in ko
    indonesian = render_html(_consultant_audit(), ReportContext(folder=tmp_path, lang="id"))
    assert '<html lang="id">' in indonesian and "Sepuluh perbaikan terpenting" in indonesian
    assert "24 Nov 2026" in indonesian and "55,0" in indonesian  # Babel's dates and decimals for Indonesian
    assert "1.234" in indonesian  # records grouped the Indonesian way
    assert "{" not in re.sub(r"<style[^>]*>.*?</style>|<script>.*?</script>", "", indonesian, flags=re.S)  # no unfilled placeholder
