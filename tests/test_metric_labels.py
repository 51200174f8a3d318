"""report.html's metric tables in the report's language: fixed labels translated, CRM data as it is."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from markupsafe import escape

from crm_audit_checks.metric_labels import METRIC_LABELS
from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.reports.html_metrics import metric_html, metric_label
from crm_audit_core.runner import run_audit
from crm_audit_core.sandbox import generate_tenant

AS_OF = datetime(2026, 11, 24, tzinfo=timezone.utc)
HANGUL = re.compile(r"[\uac00-\ud7a3]")
LOCALE = Path(__file__).resolve().parents[1] / "checks" / "crm_audit_checks" / "locale"


@pytest.fixture(scope="module")
def korean_report(tmp_path_factory) -> tuple[dict, str]:
    folder = tmp_path_factory.mktemp("tenant")
    generate_tenant(contacts=300, seed=3, name="acme", as_of=AS_OF).write(folder)
    config = AuditConfig(as_of=AS_OF, out=tmp_path_factory.mktemp("audits"), lang="ko")
    config.tenants.append(TenantConfig("acme", "files", {"path": str(folder)}))
    _, out = run_audit(config, progress=False)
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return report, (out / "report.html").read_text(encoding="utf-8")


def _metrics_block(page: str, check_id: str) -> str:
    start = page.index(f'data-check="{check_id}"')
    block = page[page.index("<summary>지표</summary>", start):]
    return block[:block.index("</details>")]


def _metrics(report: dict, check_id: str) -> dict:
    [result] = [r for r in report["results"] if r["check_id"] == check_id]
    return result["metrics"]


def test_fixed_labels_are_korean_and_crm_data_stays(korean_report):
    report, page = korean_report
    assert "last_login_recency" in _metrics(report, "usage.login-adoption")  # report.json keeps the key
    login = _metrics_block(page, "usage.login-adoption")
    assert "<th>최근 로그인</th>" in login and "last_login_recency" not in login
    assert "<th>7일 이내</th>" in login and "within 7 days" not in login
    first_day = next(iter(_metrics(report, "usage.login-adoption")["daily_users_logging_in"]))
    assert "<th>활성 사용자</th>" in login and f"<th>{first_day}</th>" in login  # dates stay dates

    stages = _metrics(report, "open-work.stalled-deals")["open_deals_by_stage"]
    names = [s for s in stages if s != "(no stage)"]
    assert names
    work = _metrics_block(page, "open-work.stalled-deals")
    for name in names:  # the CRM's stage names, exactly as the CRM spells them
        assert f"<th>{escape(name)}</th>" in work
    assert "<th>단계별 진행 중인 거래</th>" in work
    if "(no stage)" in stages:
        assert "<th>(단계 없음)</th>" in work


def test_every_metric_name_of_the_standard_checks_has_a_korean_label(korean_report):
    report, _ = korean_report
    untranslated = sorted({key for r in report["results"] for key in (r.get("metrics") or {})
                           if key != "charts" and not HANGUL.search(metric_label(key, "ko"))} - {"roi"})
    assert not untranslated, f"add these to checks/crm_audit_checks/metric_labels.py: {untranslated}"


def test_english_keeps_the_keys_and_unknown_keys_stay_unchanged():
    assert metric_label("last_login_recency", "en") == "last_login_recency"
    assert metric_label("last_login_recency", "id") == "login terakhir"
    assert metric_label("Closed_Won_Custom", "ko") == "Closed_Won_Custom"
    assert metric_label("005000000004C93AAE", "ko") == "005000000004C93AAE"
    html = metric_html({"last_login_recency": {"within 7 days": 3}, "Proposal Sent": 2}, "ko")
    assert "<th>최근 로그인</th>" in html and "<th>7일 이내</th>" in html and "<th>Proposal Sent</th>" in html
    assert "<th>within 7 days</th>" in metric_html({"within 7 days": 3}, "en")


@pytest.mark.parametrize("lang", ["id", "ko"])
def test_every_metric_label_is_translated(lang):
    with open(LOCALE / f"{lang}.po", "rb") as fh:
        catalog = read_po(fh, locale=lang)
    missing = [str(label) for label in METRIC_LABELS
               if catalog.get(str(label)) is None or not catalog.get(str(label)).string]
    assert not missing, missing
