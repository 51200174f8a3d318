"""Reports in Indonesian and Korean (issue 19): templates, their rendering per language,
report.json keeping them, the CLI's --lang, and the translation tools.

The checks' own text (messages, titles, remediation, fix-list cells) is translated by
the standard checks' domain: every pass, fail and skipped result of a Korean run is
Korean.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import date, datetime
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from crm_audit_core.cli import main
from crm_audit_core.errors import ConfigError
from crm_audit_core.findings import WARNING_PREFIX, AuditResult, TenantInfo, warning_note
from crm_audit_core.i18n import CORE, Domain, Message, Money, Percent, message_from_json, render

HANGUL = re.compile(r"[\uac00-\ud7a3]")
ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def only_audit(out: Path) -> Path:
    [folder] = [p for p in out.iterdir() if p.is_dir()]
    return folder


# ---------------------------------------------------------------------------
# Message rendering
# ---------------------------------------------------------------------------


def test_plural_form_follows_the_count_in_each_language():
    one = CORE.ngettext("{n} row was not judged: {problems}", "{n} rows were not judged: {problems}", 1, problems="x")
    many = CORE.ngettext("{n} row was not judged: {problems}", "{n} rows were not judged: {problems}", 1234, problems="x")
    assert str(one) == "1 row was not judged: x" and str(many) == "1,234 rows were not judged: x"
    assert many.render("id") == "1.234 baris tidak dinilai: x"
    assert many.render("ko") == "1,234개 행은 평가하지 않았습니다: x"
    assert one.render("ko") == "1개 행은 평가하지 않았습니다: x"


def test_a_missing_translation_falls_back_to_english_for_that_string_only():
    inner = CORE.gettext("the {table} table", table="contacts")  # translated in the core's catalogues
    outer = CORE.gettext("a sentence no catalogue holds about {what}", what=inner)
    assert outer.render("ko") == "a sentence no catalogue holds about contacts 테이블"
    assert outer.render("id") == "a sentence no catalogue holds about tabel contacts"
    assert str(outer) == "a sentence no catalogue holds about the contacts table"


def test_nested_and_joined_messages_render_in_the_same_language():
    tables = Message.join([CORE.gettext("{table} ({why})", table="deals", why=CORE.gettext("extraction did not complete")),
                           CORE.gettext("the {table} table", table="users")])
    note = CORE.gettext("based on partial data: {tables}", tables=tables)
    assert str(note) == "based on partial data: deals (extraction did not complete); the users table"
    assert note.render("id") == "berdasarkan data sebagian: deals (ekstraksi tidak selesai); tabel users"
    assert note.render("ko") == "일부 데이터 기준: deals (추출이 완료되지 않았습니다); users 테이블"
    again = message_from_json(json.loads(json.dumps(note.to_json())))
    assert again.render("ko") == note.render("ko") and str(again) == str(note)


def test_values_are_formatted_for_each_language(tmp_path):
    domain = Domain("test_i18n_values", tmp_path)  # no catalogue: the English template, values per language
    text = domain.gettext("{share} | {amount} | {day} | {names} | {count} | {ratio}", share=Percent(0.256),
                          amount=Money(1500000, "IDR"), day=date(2026, 12, 31), names=["a", "b", "c"], count=1234567,
                          ratio=2.5)
    assert str(text) == "25.6% | IDR1,500,000 | Dec 31, 2026 | a, b, and c | 1,234,567 | 2.5"
    assert text.render("id") == "25,6% | Rp1.500.000 | 31 Des 2026 | a, b, dan c | 1.234.567 | 2,5"
    assert text.render("ko") == "25.6% | IDR1,500,000 | 2026. 12. 31. | a, b 및 c | 1,234,567 | 2.5"
    when = domain.gettext("{when}", when=datetime(2026, 1, 2, 3, 4))
    assert when.render("id") == "2 Jan 2026" and when.render("ko") == "2026. 1. 2."


def test_config_and_cli_errors_are_worded_in_the_language():
    error = ConfigError(CORE.gettext("unknown key {key}", key="audit.colour"), where="crm-audit.toml",
                        hint=CORE.gettext("known keys: {keys}", keys="as_of, lang"))
    assert str(error) == "crm-audit.toml: unknown key audit.colour (known keys: as_of, lang)"
    assert error.render("ko") == "crm-audit.toml: 알 수 없는 키 audit.colour (사용할 수 있는 키: as_of, lang)"
    assert error.render("id") == "crm-audit.toml: kunci tidak dikenal audit.colour (kunci yang dikenal: as_of, lang)"


def test_tenant_notes_keep_their_templates_and_warnings_their_marker():
    note = CORE.gettext("the {table} table", table="deals")
    warning = warning_note(CORE.gettext("extraction did not complete"))
    info = TenantInfo("acme", "files", notes=[note, warning, "a plain note"])
    assert info.warnings == ["extraction did not complete"]
    ko = info.localised("ko")
    assert ko.notes == ["deals 테이블", WARNING_PREFIX + "추출이 완료되지 않았습니다", "a plain note"]
    assert ko.warnings == ["추출이 완료되지 않았습니다"]
    # report.json keeps the text of the language and the templates, so another language can be rendered later
    back = TenantInfo.from_json(json.loads(json.dumps(ko.to_json())))
    assert back.localised("id").notes == ["tabel deals", WARNING_PREFIX + "ekstraksi tidak selesai", "a plain note"]
    plain = TenantInfo.from_json({"name": "old", "connector": "files", "notes": ["warning: archived"]})
    assert plain.warnings == ["archived"] and plain.localised("ko").notes == ["warning: archived"]


# ---------------------------------------------------------------------------
# an audit run in Korean, rendered again in Indonesian
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def korean_audit(tmp_path_factory):
    """A generated tenant (plus a file whose header nothing recognises: a warning note),
    audited with --lang ko."""
    from crm_audit_core.sandbox import generate_tenant

    base = tmp_path_factory.mktemp("ko")
    folder = base / "tenant"
    generate_tenant(contacts=300, seed=5).write(folder)
    (folder / "sync_counts.csv").write_text("id,Gezählt,Quelle\n1,3,x\n", encoding="utf-8")
    out = base / "audits"
    result = run_cli("run", "--files", str(folder), "--out", str(out), "--lang", "ko", "--no-progress")
    assert result.exit_code == 0, result.output
    return result, only_audit(out)


def test_run_in_korean_writes_korean_reports_and_cli_lines(korean_audit):
    result, folder = korean_audit
    assert "보고서: " in result.output and "다음 단계: " in result.output
    assert "점수: " in result.output and "감사 단계" in result.output
    md = (folder / "report.md").read_text(encoding="utf-8")
    for heading in ("# CRM 감사 ", "## 테넌트", "## 단계", "## 발견 사항", "| 단계 | 상태 | 점검 항목 | 발견 사항 |",
                    "1. 업데이트", "6. 안전과 보안", "**해결 방법:** ", "**경고:** sync\\_counts.csv: "):
        assert heading in md, heading
    assert "{" not in md.replace("{{", "")  # no placeholder left unfilled
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, json.loads((ROOT / "crm_audit_core" / "schemas" / "report.schema.json").read_text()))
    assert report["audit"]["lang"] == "ko"
    [tenant] = report["audit"]["tenants"]
    [warning] = [n for n in tenant["notes"] if n.startswith(WARNING_PREFIX)]
    assert HANGUL.search(warning) and "sync_counts.csv" in warning
    assert tenant["templates"]["notes"][0]["values"]["warning"]["$msg"]["msgid"].startswith("{file}: no {table} column")
    checks = {r["check_id"] for r in report["results"]}
    for path in sorted((folder / "fixlists").glob("*.csv")):
        if path.stem not in checks:  # an attachment (merge-plan-*.csv): columns for merge tools, English keys
            continue
        with open(path, encoding="utf-8") as fh:
            header = next(csv.reader(fh))
        assert header == ["테넌트", "개체", "ID", "링크", "문제", "권장 조치"], path.name


def test_every_result_and_fixlist_cell_is_korean(korean_audit):
    _result, folder = korean_audit
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    untranslated = []
    for r in report["results"]:
        if r["status"] not in ("pass", "fail", "skipped"):
            continue
        if r["check_id"].startswith("example."):
            # the test-only example plugin ships no translations: English, string by string
            assert r["title"] == r["templates"]["title"]["msgid"]
            continue
        for name in ("title", "message", "remediation") + (("reason",) if r["status"] == "skipped" else ()):
            if not HANGUL.search(r.get(name) or ""):
                untranslated.append(f"{r['check_id']}.{name}: {r.get(name)}")
    assert untranslated == []
    checks = {r["check_id"] for r in report["results"]}
    for path in sorted((folder / "fixlists").glob("*.csv")):
        if path.name.startswith("example.") or path.stem not in checks:  # the untranslated test plugin; attachments
            continue
        with open(path, encoding="utf-8") as fh:
            rows = list(csv.reader(fh))[1:]
        assert rows and all(HANGUL.search(row[4]) and HANGUL.search(row[5]) for row in rows), path.name


def test_report_renders_an_archived_korean_audit_in_indonesian(korean_audit):
    _result, folder = korean_audit
    ko = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    for fmt in ("md", "json"):
        result = run_cli("report", folder.name, "--out", str(folder.parent), "--format", fmt, "--lang", "id")
        assert result.exit_code == 0, result.output
    md = (folder / "report.md").read_text(encoding="utf-8")
    for text in ("# Audit CRM ", "## Langkah", "## Temuan", "1. Pembaruan", "**Cara memperbaiki:** ",
                 "**peringatan:** sync\\_counts.csv: tidak ada kolom sync\\_counts yang dikenali"):
        assert text in md, text
    assert not HANGUL.search(md)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["audit"]["lang"] == "id"
    [tenant] = report["audit"]["tenants"]
    assert any(n.startswith(WARNING_PREFIX + "sync_counts.csv: tidak ada kolom") for n in tenant["notes"])
    # every text field is rendered again from its template (kept from the Korean run)
    assert len(report["results"]) == len(ko["results"])
    for before, after in zip(ko["results"], report["results"]):
        assert before["templates"] == after["templates"]
        for name in ("title", "message", "remediation", "reason"):
            template = after["templates"].get(name)
            if template:
                assert after[name] == render(message_from_json(template), "id"), (after["check_id"], name)
    archived = AuditResult.from_json(report)
    assert archived.localised("ko").tenants[0].warnings[0].startswith("sync_counts.csv: ")


def test_diff_speaks_the_language_it_is_asked(korean_audit):
    _result, folder = korean_audit
    result = run_cli("diff", folder.name, folder.name, "--out", str(folder.parent), "--lang", "ko")
    assert result.exit_code == 0, result.output
    assert "점수: " in result.output and "두 감사가 모두 읽은 테넌트에서 바뀐 발견 사항이 없습니다." in result.output
    english = run_cli("diff", folder.name, folder.name, "--out", str(folder.parent))
    assert "Score: " in english.output and not HANGUL.search(english.output)


def test_a_language_reports_are_not_written_in_is_a_usage_error(tmp_path):
    config = tmp_path / "crm-audit.toml"
    config.write_text('[audit]\nlang = "xx"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "-c", str(config), "--no-progress"])
    assert result.exit_code == 2
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "'xx'" in lines[0] and "audit.lang" in lines[0]
    result = CliRunner().invoke(main, ["run", "--files", str(tmp_path), "--lang", "xx", "--no-progress"])
    assert result.exit_code == 2 and "'xx'" in result.output


def test_configuration_errors_follow_audit_lang(tmp_path):
    config = tmp_path / "crm-audit.toml"
    config.write_text('[audit]\nlang = "ko"\ncolour = "blue"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["run", "-c", str(config), "--no-progress"])
    assert result.exit_code == 2
    assert result.output.strip() == (f"오류: {config}: 알 수 없는 키 audit.colour (사용할 수 있는 키: "
                                      "as_of, fail_under, incremental, lang, name, out, select, skip)")
    # the next command (same process) speaks English again
    result = CliRunner().invoke(main, ["run", "--option", "a=b", "--no-progress"])
    assert result.output.strip() == "error: --option needs --connector NAME or --files DIR"


# ---------------------------------------------------------------------------
# crm-audit i18n
# ---------------------------------------------------------------------------


def test_coverage_lists_the_core_fully_translated():
    result = run_cli("i18n", "coverage")
    assert result.exit_code == 0, result.output
    [core] = [line for line in result.output.splitlines() if line.strip().startswith("crm_audit_core ")]
    cells = re.findall(r"(\d+(?:\.\d+)?)% \((\d+)/(\d+)\)", core)
    assert len(cells) == 2 and all(p == "100" and a == b for p, a, b in cells), core
    missing = run_cli("i18n", "coverage", "--missing", "--lang", "ko", "--fail-under", "100")
    assert not [line for line in missing.output.splitlines() if line.startswith("crm_audit_core ko: ")]


def test_extract_check_says_the_templates_are_current():
    """Every domain's messages.pot matches its code (run `crm-audit i18n extract` after
    changing a text)."""
    result = run_cli("i18n", "extract", "--check")
    assert result.exit_code == 0, result.output


def test_every_standard_check_speaks_indonesian(tmp_path):
    """``--lang id``: every standard check's title, message and remediation (and a skip's
    reason) is Indonesian: rendered from its template, and not the English text."""
    from crm_audit_core.sandbox import generate_tenant

    folder = tmp_path / "tenant"
    generate_tenant(contacts=200, seed=9).write(folder)
    out = tmp_path / "audits"
    result = run_cli("run", "--files", str(folder), "--out", str(out), "--lang", "id", "--no-progress")
    assert result.exit_code == 0, result.output
    report = json.loads((only_audit(out) / "report.json").read_text(encoding="utf-8"))
    assert report["audit"]["lang"] == "id"
    english = []
    for r in report["results"]:
        if r["status"] not in ("pass", "fail", "skipped") or r["check_id"].startswith("example."):
            continue
        for name in ("title", "message", "remediation") + (("reason",) if r["status"] == "skipped" else ()):
            template = r["templates"].get(name)
            assert template, (r["check_id"], name)
            if r[name] == render(message_from_json(template), "en"):
                english.append(f"{r['check_id']}.{name}: {r[name]}")
    assert english == []


def test_chart_texts_keep_their_templates_through_report_json():
    """A chart's title and axis labels (templates with values) are rendered again in another
    language from an archived report.json, like the result's own text."""
    from crm_audit_core.findings import Result
    from crm_audit_core.i18n import CORE

    chart = {"id": "weekly", "kind": "bar", "title": CORE.ngettext("{n} step", "{n} steps", 3),
             "x_label": CORE.gettext("step"), "y_label": "records"}
    result = Result(check_id="x.y", title="t", step="updates", area="data", severity="low", tenant="acme",
                    status="pass", metrics={"charts": [chart]})
    archived = Result.from_json(json.loads(json.dumps(result.localised("ko").to_json())))
    [back] = archived.metrics["charts"]
    assert render(back["title"], "en") == "3 steps" and render(back["x_label"], "en") == "step"
    assert back["y_label"] == "records"  # plain text stays as it was
    assert archived.localised("id").templates["charts"]["weekly"]["title"]["msgid"] == "{n} step"
