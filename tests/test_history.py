"""Continuous evaluation: archive, history, diff, accepted risks, re-rendering."""

from __future__ import annotations

import json

from click.testing import CliRunner

from crm_audit_core.cli import main

CONTACTS_V2 = """\
id,first_name,last_name,email,phone
10,Siti,Rahayu,siti@contoh.co.id,
11,지우,이,jiwoo@example.kr,
12,Sam,Smith,,
14,Ayu,Lestari,,
"""


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_history_and_diff(small_folder, tmp_path, folder_writer, sample_tables):
    out = tmp_path / "audits"
    assert cli("run", "--files", str(small_folder), "--tenant", "acme", "--out", str(out), "--as-of", "2026-10-01", "--no-progress").exit_code == 0
    second = folder_writer(tmp_path / "v2", users=sample_tables["users"], contacts=CONTACTS_V2)
    assert cli("run", "--files", str(second), "--tenant", "acme", "--out", str(out), "--as-of", "2026-11-01", "--no-progress").exit_code == 0
    history = json.loads(cli("history", "--out", str(out), "--json").output)
    assert [h["as_of"][:10] for h in history] == ["2026-10-01", "2026-11-01"]
    assert all(h["tenants"] == ["acme"] for h in history)
    result = json.loads(cli("diff", "previous", "latest", "--out", str(out), "--json").output)
    [changed] = [c for c in result["changed"] if c["check_id"] == "data.unreachable-contacts"]
    # v1: 11 and 12 unreachable; v2: 12 and 14 -> one added, one removed
    assert (changed["from"], changed["to"], changed["added"], changed["removed"]) == (2, 2, 1, 1)
    text = cli("diff", "previous", "latest", "--out", str(out)).output
    assert "Changed" in text and "data.unreachable-contacts" in text
    # re-render the archived audit
    rerender = cli("report", "latest", "--format", "md", "--out", str(out))
    assert rerender.exit_code == 0 and rerender.output.strip().endswith("report.md")


def test_fail_on_drop(small_folder, tmp_path, folder_writer, sample_tables):
    out = tmp_path / "audits"
    clean = folder_writer(tmp_path / "clean", contacts="id,email,phone\n1,a@example.com,\n")
    cli("run", "--files", str(clean), "--tenant", "acme", "--out", str(out), "--no-progress")
    cli("run", "--files", str(small_folder), "--tenant", "acme", "--out", str(out), "--no-progress")
    dropped = cli("diff", "previous", "latest", "--out", str(out), "--fail-on-drop", "5")
    assert dropped.exit_code == 1 and "score dropped" in dropped.output


def test_accepted_risks_stay_visible_leave_the_score_and_expire(small_folder, tmp_path):
    def run(expires):
        cfg = tmp_path / "crm-audit.toml"
        cfg.write_text(
            f'[audit]\nout = "{tmp_path / "o"}"\n[tenants.t]\nconnector = "files"\npath = "{small_folder}"\n'
            '[[accepted_risks]]\ncheck = "security.dormant-users"\nreason = "contractors, access ends in Q1"\n'
            f'owner = "it@acme.example"\nexpires = "{expires}"\n', encoding="utf-8")
        result = cli("run", "-c", str(cfg), "--as-of", "2026-11-24", "--check", "security.dormant-users")
        assert result.exit_code == 0, result.output
        folder = sorted((tmp_path / "o").iterdir())[-1]
        return json.loads((folder / "report.json").read_text()), folder

    report, folder = run("2027-03-31")
    [dormant] = [r for r in report["results"] if r["check_id"] == "security.dormant-users"]
    assert dormant["status"] == "fail" and dormant["accepted"] is True
    assert "contractors" in dormant["metrics"]["accepted_risk"]
    assert "security" not in report["score"]["areas"]  # the only security finding is accepted: nothing counts
    assert "[accepted risk]" in (folder / "fixlists" / "security.dormant-users.csv").read_text()
    expired, _ = run("2026-01-01")
    [dormant] = [r for r in expired["results"] if r["check_id"] == "security.dormant-users"]
    assert dormant["accepted"] is False and expired["score"]["areas"]["security"] < 100


def test_accepted_risk_needs_reason_and_owner(small_folder, tmp_path):
    cfg = tmp_path / "crm-audit.toml"
    cfg.write_text(f'[tenants.t]\nconnector = "files"\npath = "{small_folder}"\n'
                   '[[accepted_risks]]\ncheck = "security.dormant-users"\n', encoding="utf-8")
    result = cli("run", "-c", str(cfg))
    assert result.exit_code == 2 and "needs a 'reason'" in result.output
