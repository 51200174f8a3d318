"""Issue 19: the usage, updates, integrations, value, open-work and feedback checks speak Korean and Indonesian.

Every check of those modules runs on a generated tenant with planted defects, on a clean
one and on one stripped of the tables and columns the checks lean on (so their skip
reasons run too); each pass, fail and skipped result, rendered in Korean, has Hangul in
every text field (title, message, remediation, reason, every fix-list problem) and no
placeholder left unfilled; so do the chart specs' titles, axis labels, legends and
category labels. In Indonesian every text differs from the English one.
"""

from __future__ import annotations

import csv
import re
from types import SimpleNamespace

import pytest

from crm_audit_checks.feedback import COLUMNS, read_answers, write_questionnaire
from crm_audit_core import Message
from crm_audit_core.testing import registry_with, result_texts, run_check

MODULES = ("usage", "updates", "updates_depth", "integrations", "integrations_counts", "value", "open_work", "feedback")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
PLACEHOLDER = re.compile(r"\{\w*\}")
SIZE = dict(contacts=600, seed=3)


def _check_ids() -> list[str]:
    registry = registry_with()
    return sorted(c.id for c in registry.checks.values()
                  if c.func.__module__.startswith("crm_audit_checks.") and c.func.__module__.rsplit(".", 1)[1] in MODULES)


CHECK_IDS = _check_ids()


def _config(tmp_path, tenant) -> dict:
    """[survey] answers (half the active users, in three languages) and [value] cost and gain."""
    users = [u for u in tenant.rows("users") if u["is_active"] and u["role"] not in ("integration", "guest")]
    path = tmp_path / "answers.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for i, u in enumerate(users[::2]):
            often = ("daily", "setiap hari", "매일")[i % 3]
            w.writerow([u["id"], u["name"], u["email"], often, "pipeline overview", "double data entry",
                        "mobile app", "slow reports", 2])
    return {"survey": {"answers": str(path)}, "value": {"cost": 24000, "gain": 18000, "currency": "IDR"}}


def _bare(tenant):
    """The tenant without the tables and columns most of these checks need: their skip reasons run."""
    tables = {k: v for k, v in tenant.tables.items() if k not in ("platform", "packages", "login_events", "campaigns")}
    for name in ("contacts", "companies", "deals"):
        tables[name] = tables[name].drop_columns([c for c in ("source_detail",) if c in tables[name].column_names])
    tables["integrations"] = tables["integrations"].drop_columns(
        [c for c in ("last_sync_at", "records_reported") if c in tables["integrations"].column_names])
    return SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of)


def _ours(result) -> set[str]:
    """The text fields whose template is the standard checks' own (the runner's skip reasons,
    "needs the platform table, ...", are the core's: translated and tested there)."""
    return {where for where, text in result_texts(result).items() if getattr(text, "domain", "crm_audit_checks") != "crm_audit_core"}


def _chart_texts(result, lang: str) -> dict[str, str]:
    """The chart specs' words in ``lang`` (ISO dates and CRM data, not templates, are left out)."""
    out = {}
    for spec in result.metrics.get("charts") or []:
        for key in ("title", "x_label", "y_label"):
            if spec.get(key) is not None:
                out[f"{spec['id']}.{key}"] = spec[key]
        out.update({f"{spec['id']}.series[{name}]": name for name in spec.get("series") or {} if isinstance(name, Message)})
        out.update({f"{spec['id']}.x[{x}]": x for x in spec.get("x") or [] if isinstance(x, Message)})
    for where, text in out.items():
        assert isinstance(text, Message), f"{result.check_id} {where}: {text!r} is plain text, not a template"
    return {where: text.render(lang) for where, text in out.items()}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    from crm_audit_core.sandbox import generate_tenant
    from datetime import datetime, timezone

    as_of = datetime(2026, 12, 31, tzinfo=timezone.utc)
    planted = generate_tenant(**SIZE, defects=True, as_of=as_of)
    clean = generate_tenant(**SIZE, defects=False, as_of=as_of)
    config = _config(tmp_path_factory.mktemp("i18n"), planted)
    registry = registry_with()
    out = []
    for label, tenant, cfg in (("planted", planted, config), ("clean", clean, None), ("bare", _bare(clean), None)):
        for check_id in CHECK_IDS:
            out.append((label, run_check(check_id, tenant, config=cfg, registry=registry)))
    return out


def test_every_check_of_these_modules_ran(results):
    assert len(CHECK_IDS) == 24
    statuses = {r.status for _label, r in results}
    assert {"pass", "fail", "skipped"} <= statuses, statuses
    assert not [r for _label, r in results if r.status == "error"], [(r.check_id, r.reason) for _l, r in results
                                                                       if r.status == "error"]


def test_korean_everywhere(results):
    problems = []
    for label, result in results:
        if result.status not in ("pass", "fail", "skipped"):
            continue
        ours = _ours(result)
        korean = {where: text for where, text in result_texts(result.localised("ko")).items() if where in ours}
        for where, text in {**korean, **_chart_texts(result, "ko")}.items():
            if not HANGUL.search(text):
                problems.append(f"{label} {result.check_id} {where}: no Hangul: {text!r}")
            if PLACEHOLDER.search(text):
                problems.append(f"{label} {result.check_id} {where}: unfilled placeholder: {text!r}")
    assert not problems, "\n".join(problems[:30])


def test_indonesian_everywhere(results):
    problems = []
    for label, result in results:
        if result.status not in ("pass", "fail", "skipped"):
            continue
        ours = _ours(result)
        english, indonesian = result_texts(result), result_texts(result.localised("id"))
        for where, text in indonesian.items():
            if where not in ours:
                continue
            if text == str(english[where]) or PLACEHOLDER.search(text):
                problems.append(f"{label} {result.check_id} {where}: {text!r}")
        for where, text in _chart_texts(result, "id").items():
            if text == _chart_texts(result, "en")[where] and not text.isdigit() and text not in ("SMS",):
                problems.append(f"{label} {result.check_id} chart {where}: {text!r}")
    assert not problems, "\n".join(problems[:30])


def test_numbers_and_dates_are_the_language_s(results):
    """Counts group and dates read as each language writes them."""
    by_id = {(label, r.check_id): r for label, r in results}
    stale = by_id[("planted", "integrations.stale-syncs")]
    [detail] = stale.details.values()
    assert re.search(r"\d{4}\. \d{1,2}\. \d{1,2}\.", detail.render("ko")), detail.render("ko")  # 2026. 12. 20.
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4}", detail.render("id")), detail.render("id")  # 20 Des 2026
    roi = by_id[("planted", "value.crm-roi")]
    assert roi.status == "fail" and "Rp" in roi.message.render("id") and "18.000" in roi.message.render("id")
    adoption = by_id[("planted", "usage.login-adoption")].message
    assert "%" in adoption.render("ko") and "명" in adoption.render("ko")


def test_report_json_round_trip_keeps_the_templates(results):
    """An archived result renders again in another language (details included)."""
    from crm_audit_core.findings import Result

    [result] = [r for label, r in results if label == "planted" and r.check_id == "open-work.overdue-tasks"]
    archived = Result.from_json(result.localised("ko").to_json())
    again = archived.localised("id")
    assert again.message.startswith("3 dari") and all("tenggat" in d for d in again.details.values())


def test_questionnaire_in_korean_and_answers_read_in_any_language(tmp_path, crm_audit_tenant):
    tenant = crm_audit_tenant(**SIZE, defects=False)
    users = tenant.rows("users")
    csv_path, html_path = write_questionnaire(users, tmp_path, "acme", "ko")
    page = html_path.read_text(encoding="utf-8")
    assert 'lang="ko"' in page and "CRM을 얼마나 자주 사용하십니까?" in page and "한 번도 없음" in page
    assert "사용자 ID" in page and "CRM 사용자 설문: acme" in page
    assert not PLACEHOLDER.search(page)
    # the CSV keeps the column names `run --survey` reads, whatever the language
    assert read_answers(csv_path) and csv_path.read_text(encoding="utf-8-sig").splitlines()[0] == ",".join(COLUMNS)


def test_how_often_is_read_in_every_language(results):
    """"daily", "setiap hari" and "매일" are the same answer."""
    [survey] = [r for label, r in results if label == "planted" and r.check_id == "feedback.user-survey"]
    assert survey.metrics["how_often"] == {"daily": survey.metrics["respondents"]} and survey.metrics["respondents"] >= 3
