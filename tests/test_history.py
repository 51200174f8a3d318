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


# email_bounced: one more check judged keeps the clean audit above the 25% coverage a
# score needs now that the catalogue holds the security checks of issue 16.
CLEAN_CONTACTS = """\
id,first_name,last_name,email,phone,company_name,lifecycle_stage,segments,created_at,updated_at,email_bounced
1,Ann,Lee,ann@example.com,,Acme,customer,vip,2025-05-01,2026-11-01,false
"""


def test_fail_on_drop(small_folder, tmp_path, folder_writer, sample_tables):
    # The clean audit needs enough coverage to have a score at all: a lone contacts.csv
    # with three columns judges about a tenth of the checks, which is n/a (docs/scoring.md).
    out = tmp_path / "audits"
    clean = folder_writer(tmp_path / "clean", users=sample_tables["users"], contacts=CLEAN_CONTACTS)
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


def config_with(tmp_path, name, out, tenants: dict):
    cfg = tmp_path / name
    cfg.write_text(f'[audit]\nout = "{out}"\n' + "".join(
        f'[tenants.{t}]\nconnector = "files"\npath = "{folder}"\n' for t, folder in tenants.items()), encoding="utf-8")
    return str(cfg)


def test_diff_of_different_tenant_sets_says_not_audited(small_folder, tmp_path, folder_writer, sample_tables):
    out = tmp_path / "audits"
    three = config_with(tmp_path, "three.toml", out, {"acme": small_folder, "beta": small_folder, "gamma": small_folder})
    assert cli("run", "-c", three, "--as-of", "2026-10-01", "--no-progress").exit_code == 0
    better = folder_writer(tmp_path / "v2", users=sample_tables["users"], contacts=CONTACTS_V2)
    one = config_with(tmp_path, "one.toml", out, {"acme": better})
    assert cli("run", "-c", one, "--as-of", "2026-11-01", "--no-progress").exit_code == 0

    result = json.loads(cli("diff", "previous", "latest", "--out", str(out), "--json").output)
    assert result["not_audited"] == {"from": [], "to": ["beta", "gamma"]}
    assert result["not_audited_findings"]["beta"] > 0
    assert result["score"]["comparable"] is False
    assert [t["tenant"] for t in result["tenants"]] == ["acme"]
    # beta's and gamma's findings are neither resolved nor re-checked: only acme is compared
    assert {r["tenant"] for k in ("new", "resolved", "not_rechecked", "changed", "metric_deltas") for r in result[k]} <= {"acme"}

    text = cli("diff", "previous", "latest", "--out", str(out)).output
    assert "Not audited in" in text and "beta" in text and "gamma" in text
    assert "Overall score not compared" in text and "tenant acme:" in text
    assert "None" not in text
    assert "Resolved" not in text  # no acme finding was resolved: the empty section is not printed
    # the other way round: the tenants only the newer audit read are not "new"
    back = json.loads(cli("diff", "latest", "previous", "--out", str(out), "--json").output)
    assert back["not_audited"] == {"from": ["beta", "gamma"], "to": []}
    assert {r["tenant"] for r in back["new"]} <= {"acme"}


def test_fail_on_drop_across_different_tenant_sets_compares_the_shared_tenants(small_folder, tmp_path, folder_writer,
                                                                                 sample_tables):
    out = tmp_path / "audits"
    clean = folder_writer(tmp_path / "clean", users=sample_tables["users"], contacts=CLEAN_CONTACTS)
    cli("run", "-c", config_with(tmp_path, "a.toml", out, {"acme": clean, "beta": small_folder}), "--no-progress")
    cli("run", "-c", config_with(tmp_path, "b.toml", out, {"acme": small_folder}), "--no-progress")
    dropped = cli("diff", "previous", "latest", "--out", str(out), "--fail-on-drop", "5")
    assert dropped.exit_code == 1 and "score of tenant 'acme' dropped" in dropped.output


def test_a_finding_the_newer_audit_did_not_judge_is_not_resolved(small_folder, tmp_path):
    out = tmp_path / "audits"
    cli("run", "--files", str(small_folder), "--tenant", "acme", "--out", str(out), "--no-progress")
    cli("run", "--files", str(small_folder), "--tenant", "acme", "--out", str(out), "--no-progress",
        "--check", "data.unreachable-contacts")
    result = json.loads(cli("diff", "previous", "latest", "--out", str(out), "--json").output)
    assert result["resolved"] == [] and result["not_audited"] == {"from": [], "to": []}
    assert {r["now"] for r in result["not_rechecked"]} == {"not run"}
    assert "security.dormant-users" in {r["check_id"] for r in result["not_rechecked"]}
    text = cli("diff", "previous", "latest", "--out", str(out)).output
    assert "Not re-checked" in text and "Resolved" not in text and "None" not in text


def test_history_shows_coverage_next_to_the_score(small_folder, tmp_path, folder_writer):
    out = tmp_path / "audits"
    cli("run", "--files", str(small_folder), "--tenant", "acme", "--out", str(out), "--no-progress")
    odd = folder_writer(tmp_path / "odd", contacts="id,First Name,Email\n1,Ann,ann@example.com\n")
    cli("run", "--files", str(odd), "--tenant", "odd", "--out", str(out), "--no-progress")
    rows = json.loads(cli("history", "--out", str(out), "--json").output)
    assert rows[0]["score"] is not None and rows[0]["coverage"]["checks_run"] > 0
    assert rows[1]["score"] is None and rows[1]["coverage"]["checks_run"] == 0
    text = CliRunner().invoke(main, ["history", "--out", str(out)], env={"COLUMNS": "200"}).output
    assert "checks judged" in text and "n/a" in text and "None" not in text


def test_diff_and_history_read_audits_archived_before_coverage(small_folder, tmp_path):
    out = tmp_path / "audits"
    for _ in range(2):
        cli("run", "--files", str(small_folder), "--tenant", "acme", "--out", str(out), "--no-progress")
    for report in out.glob("*/report.json"):  # as an older crm-audit wrote them
        data = json.loads(report.read_text(encoding="utf-8"))
        data["score"] = {"overall": data["score"]["overall"], "areas": data["score"]["areas"]}
        report.write_text(json.dumps(data), encoding="utf-8")
    text = CliRunner().invoke(main, ["history", "--out", str(out)], env={"COLUMNS": "200"}).output
    assert "not recorded" in text and "None" not in text
    result = cli("diff", "previous", "latest", "--out", str(out))
    assert result.exit_code == 0 and "None" not in result.output and "No finding changed" in result.output
