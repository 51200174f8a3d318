"""feedback.user-survey and `crm-audit survey init`."""

import csv
import re

import pytest
from click.testing import CliRunner

from crm_audit_checks.feedback import COLUMNS, themes, write_questionnaire
from crm_audit_core.testing import assert_findings

SIZE = dict(contacts=800, seed=11)
CHECK = "feedback.user-survey"


def active_users(tenant):
    """Active human users: not integrations, not the public guest user (issue 16)."""
    return [u for u in tenant.rows("users") if u["is_active"] and u["role"] not in ("integration", "guest")]


def write_answers(path, users, answer_every=2):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for i, u in enumerate(users):
            if i % answer_every:
                w.writerow([u["id"], u["name"], u["email"], "", "", "", "", "", ""])  # left blank
                continue
            harder = "double data entry for every call" if i % 4 == 0 else "검색 기능이 느림, double data entry"
            w.writerow([u["id"], u["name"], u["email"], "daily", "pipeline overview in one place", harder,
                        "the mobile app", "reports are slow to load", 4 if i % 3 else 2])


def test_skipped_without_answers(crm_audit_tenant, crm_audit_run_check):
    result = crm_audit_run_check(CHECK, crm_audit_tenant(**SIZE))
    assert result.status == "skipped" and "--survey" in result.reason


def test_answers_folded_in(tmp_path, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    users = active_users(tenant)
    path = tmp_path / "answers.csv"
    write_answers(path, users)
    result = crm_audit_run_check(CHECK, tenant, config={"survey": {"answers": str(path)}})
    silent = [u["id"] for i, u in enumerate(users) if i % 2]
    assert_findings(result, silent)  # half answered: below the 80% response rate
    m = result.metrics
    assert m["respondents"] == len(users) - len(silent) and m["active_users"] == len(users)
    assert 2 <= m["average_rating"] <= 4 and m["how_often"] == {"daily": m["respondents"]}
    assert {"double data", "data entry"} <= {t["theme"] for t in m["themes"]["harder"]}
    assert "mobile app" in [t["theme"] for t in m["themes"]["favourite_feature"]]
    lenient = crm_audit_run_check(CHECK, tenant, config={"survey": {"answers": str(path)}},
                                  settings={"min_response_rate": 0.4, "min_rating": 1.0})
    assert lenient.status == "pass"


def test_everyone_answered(tmp_path, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE, defects=False)
    path = tmp_path / "answers.csv"
    write_answers(path, active_users(tenant), answer_every=1)
    result = crm_audit_run_check(CHECK, tenant, config={"survey": {"answers": str(path)}})
    assert_findings(result, [])


def test_bad_answers_file_is_an_error_naming_the_line(tmp_path, crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(**SIZE)
    path = tmp_path / "answers.csv"
    u = active_users(tenant)[0]
    path.write_text(",".join(COLUMNS) + "\n" + f"{u['id']},x,y,daily,a,b,c,d,4\n" + f"{u['id']},x,y,daily,a,b,c,d,great\n",
                    encoding="utf-8")
    result = crm_audit_run_check(CHECK, tenant, config={"survey": {"answers": str(path)}})
    assert result.status == "error" and f"{path}:3" in result.reason and "rating" in result.reason
    missing = crm_audit_run_check(CHECK, tenant, config={"survey": {"answers": str(tmp_path / "nope.csv")}})
    assert missing.status == "error" and "not found" in missing.reason


def test_themes_multilingual():
    found = themes(["Die Suche ist langsam", "die suche ist zu langsam!", "검색 느림", "검색 느림 정말"])
    names = [t["theme"] for t in found]
    assert "suche ist" not in names and "langsam" in names or "suche langsam" in names
    assert "검색 느림" in names


def test_questionnaire_escapes_and_quotes(tmp_path):
    users = [{"id": "1", "name": "<script>alert(1)</script>", "email": "=HYPERLINK(\"x\")", "is_active": True, "role": "sales_rep"},
             {"id": "2", "name": "김민준", "email": "m@example.kr", "is_active": True, "role": "admin"},
             {"id": "3", "name": "api", "email": None, "is_active": True, "role": "integration"},
             {"id": "4", "name": "gone", "email": None, "is_active": False, "role": "sales_rep"}]
    csv_path, html_path = write_questionnaire(users, tmp_path, "acme")
    page = html_path.read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page and "김민준" in page
    rows = list(csv.DictReader(open(csv_path, encoding="utf-8-sig")))
    assert [r["user_id"] for r in rows] == ["1", "2"]
    assert rows[0]["email"].startswith("'=")
    assert page.count('class="page"') == 2 and "favourite feature" in page


def test_survey_init_command(tmp_path, monkeypatch, crm_audit_tenant):
    from crm_audit_checks.feedback import register_commands
    from crm_audit_core.cli import main

    if "survey" not in main.commands:  # the console script adds plugin commands at start
        register_commands(main)
    tenant = crm_audit_tenant(**SIZE)
    folder = tmp_path / "export"
    tenant.write(folder)
    out = tmp_path / "survey"
    result = CliRunner().invoke(main, ["survey", "init", "--files", str(folder), "--tenant", "acme", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(out / "survey-acme.csv", encoding="utf-8-sig")))
    assert {r["user_id"] for r in rows} == {str(u["id"]) for u in active_users(tenant)}
    assert (out / "survey-acme.html").exists()
    monkeypatch.chdir(tmp_path)  # no crm-audit.toml here
    bad = CliRunner().invoke(main, ["survey", "init", "--out", str(out)])
    assert bad.exit_code == 2 and "crm-audit.toml" in bad.output


def test_message_names_whole_themes_only(tmp_path, crm_audit_tenant, crm_audit_run_check):
    from crm_audit_checks.feedback import MESSAGE_WIDTH

    tenant = crm_audit_tenant(**SIZE)
    users = active_users(tenant)
    path = tmp_path / "answers.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for u in users:
            w.writerow([u["id"], u["name"], u["email"], "daily", "", "slow search, forecasting spreadsheets, "
                        "duplicate reminders", "", "synchronisation failures, notification overload", 3])
    result = crm_audit_run_check(CHECK, tenant, config={"survey": {"answers": str(path)}})
    message = result.message
    assert len(message) <= MESSAGE_WIDTH, message  # the terminal shows 100 characters: nothing is cut
    # themes are listed as the language lists ("a, b, and c")
    named = [re.split(r",? and |, ", part.split(": ", 1)[1]) for part in message.split("; ")
             if part.startswith(("harder:", "lets down:"))]
    assert named, message  # at least the first theme fits
    every = {t["theme"] for q in ("harder", "lets_down") for t in result.metrics["themes"][q]}
    assert all(theme in every for themes_named in named for theme in themes_named), message
