"""Honest scores end to end: a file whose headers were not recognised gets one warning and
a score of n/a, and every report shows the coverage next to the score (issue 14, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from rich.console import Console

from crm_audit_core import model
from crm_audit_core.cli import main
from crm_audit_core.extract import MemorySink
from crm_audit_core.files_connector import FilesConnector
from crm_audit_core.findings import AuditResult, Result, TenantInfo
from crm_audit_core.headers import suggestion, unrecognised_header
from crm_audit_core.reports.terminal import print_summary
from crm_audit_core.scoring import score

SCHEMA = json.loads((Path(__file__).parent.parent / "crm_audit_core" / "schemas" / "report.schema.json").read_text())

UNRECOGNISED = """\
id,First Name,Last Name,Email,Created Date
1,Ann,Lee,ann@example.com,2024-01-01
2,Bob,Ray,bob@example.org,2024-02-01
3,Cy,Do,,2024-03-01
"""


def cli(*args):
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "400"}, catch_exceptions=False)


def test_headers_not_recognised_warn_once_and_score_na(tmp_path, folder_writer):
    folder = folder_writer(tmp_path / "export", contacts=UNRECOGNISED)
    out = tmp_path / "audits"
    result = cli("run", "--files", str(folder), "--out", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "warning:" in line]
    assert len(warnings) == 1
    [warning] = warnings
    for column in ("'First Name'", "'Last Name'", "'Email'", "'Created Date'", "contacts.csv"):
        assert column in warning
    assert "'First Name' to first_name" in warning and "'Created Date' to created_at" in warning
    assert "100.0" not in result.output
    assert "Score: n/a (0 of " in result.output and "checks judged, 0 records" in result.output

    [folder_out] = [p for p in out.iterdir() if p.is_dir()]
    report = json.loads((folder_out / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, SCHEMA)
    assert report["schema_version"] == 1
    assert report["score"]["overall"] is None and report["score"]["areas"] == {}
    cov = report["score"]["coverage"]
    assert cov["checks_run"] == 0 and cov["checks_applicable"] > 40 and cov["records_judged"] == 0
    assert cov["threshold"] == 0.25
    [tenant] = report["audit"]["tenants"]
    assert tenant["notes"] and tenant["notes"][0].startswith("warning: contacts.csv")

    md = (folder_out / "report.md").read_text(encoding="utf-8")
    assert "Overall score: **n/a** (0 of" in md and "**warning:** contacts.csv" in md
    page = (folder_out / "report.html").read_text(encoding="utf-8")
    assert '<div class="big">n/a</div>' in page and 'class="coverage"' in page
    assert '<div class="warning">' in page and "First Name" in page


def test_a_well_formed_export_has_a_score_with_its_coverage(small_folder, tmp_path):
    out = tmp_path / "audits"
    result = cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress", "--as-of", "2026-11-24")
    assert result.exit_code == 0 and "warning:" not in result.output
    [folder] = [p for p in out.iterdir() if p.is_dir()]
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, SCHEMA)
    overall, cov = report["score"]["overall"], report["score"]["coverage"]
    assert overall is not None
    assert f"Score: {overall:.1f} / 100 ({cov['checks_run']} of {cov['checks_applicable']} checks judged" in result.output
    assert cov["records_judged"] >= 4  # at least the contacts file's rows
    assert report["score"]["tenants"][report["audit"]["tenants"][0]["name"]]["overall"] == overall
    # an area that judged too little is shown as n/a with its coverage, never left out silently
    usage = cov["areas"]["usage"]
    assert "usage" not in report["score"]["areas"] and usage["checks_run"] / usage["checks_applicable"] < 0.25
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert f"| usage | n/a | {usage['checks_run']} of {usage['checks_applicable']} |" in md


def test_only_a_header_with_no_canonical_column_but_the_key_warns():
    contacts = model.TABLES["contacts"]
    assert unrecognised_header(contacts, ["id", "first_name", "Favourite Colour"], "contacts.csv") is None
    assert unrecognised_header(contacts, ["id"], "contacts.csv") is None  # nothing unrecognised
    users = unrecognised_header(model.TABLES["users"], ["id", "Full Name", "Mail", "x", "y", "z", "w", "v"], "users.csv")
    assert users.startswith("warning: users.csv: no users column was recognised besides the key 'id'")
    assert "were ignored" in users and "and 1 more" in users  # users carry no custom fields
    assert "'Mail' to email" in users
    bare = unrecognised_header(contacts, ["id", "zzz"], "contacts.csv")
    assert "canonical columns: first_name, last_name, email" in bare
    assert suggestion("Lifecycle Stage", contacts) == "lifecycle_stage" and suggestion("zzz", contacts) is None


def test_the_files_connector_notes_the_warning_for_parquet_too(tmp_path):
    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(pa.table({"id": ["1", "2"], "E-Mail": ["a@x.com", None]}), folder / "contacts.parquet")
    (folder / "users.csv").write_text("id,name,email\n1,Ann,ann@example.com\n", encoding="utf-8")
    sink = MemorySink("t")
    FilesConnector(folder).extract(sink)
    assert len(sink.notes) == 1 and sink.notes[0].startswith("warning: contacts.parquet:")
    assert "'E-Mail' to email" in sink.notes[0]


def test_terminal_summary_scores_each_tenant_of_a_multi_tenant_audit():
    def r(tenant, status, check):
        return Result(check_id=check, title="t", step="security", area="security", severity="high", tenant=tenant,
                      status=status)

    results = [r("a", "pass", "x.1"), r("a", "pass", "x.2"), r("b", "skipped", "x.1"), r("b", "skipped", "x.2")]
    audit = AuditResult(id="A1", as_of="2026-11-24", started_at="2026-11-24",
                        tenants=[TenantInfo("a", "files", notes=["plain note"]),
                                 TenantInfo("b", "files", notes=["warning: b.csv: nothing recognised"])],
                        results=results, score=score(results))
    console = Console(record=True, width=300)
    print_summary(audit, console)
    text = console.export_text()
    assert "Score: 100.0 / 100 (2 of 4 checks judged, 0 records)" in text
    assert "tenant a (files)" in text and "score 100.0 (2 of 2 checks judged" in text
    assert "score n/a (0 of 2 checks judged" in text
    assert "warning: b.csv: nothing recognised" in text and "plain note" not in text
    assert "None" not in text


def test_fail_under_is_not_met_by_a_score_of_na(tmp_path, folder_writer):
    """A CI gate never passes on an audit that judged too little to be scored."""
    folder = folder_writer(tmp_path / "export", contacts=UNRECOGNISED)
    result = cli("run", "--files", str(folder), "--out", str(tmp_path / "audits"), "--no-progress",
                 "--fail-under", "10")
    assert result.exit_code == 1, result.output
    assert "score n/a (too little of the audit was judged) cannot meet --fail-under 10" in result.output


def test_terminal_findings_are_cut_at_a_word_not_mid_word():
    from crm_audit_core.reports.terminal import _shorten

    text = "twelve contacts were created by the Mailchimp integration without any owner and without a lifecycle stage"
    short = _shorten(text, 60)
    assert len(short) <= 60 and short.endswith("…")
    assert text.startswith(short[:-1]) and text[len(short) - 1] == " "
    assert _shorten("short", 60) == "short"
