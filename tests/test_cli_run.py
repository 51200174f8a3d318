"""End to end through the CLI: run --files, report.json against its schema, fix-lists, exit codes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from crm_audit_core.cli import main

SCHEMA = json.loads((Path(__file__).parent.parent / "crm_audit_core" / "schemas" / "report.schema.json").read_text())


def run_cli(*args, env=None):
    runner = CliRunner()
    return runner.invoke(main, list(args), env=env, catch_exceptions=False)


def only_audit(out: Path) -> Path:
    [folder] = [p for p in out.iterdir() if p.is_dir()]
    return folder


def test_run_files_writes_reports(small_folder, tmp_path):
    out = tmp_path / "audits"
    result = run_cli("run", "--files", str(small_folder), "--out", str(out), "--as-of", "2026-11-24", "--no-progress")
    assert result.exit_code == 0, result.output
    folder = only_audit(out)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, SCHEMA)
    assert report["schema_version"] == 1
    [tenant] = report["audit"]["tenants"]
    assert tenant["records"] == {"users": 4, "contacts": 4} and tenant["api_calls"] == 0
    by_id = {r["check_id"]: r for r in report["results"]}
    # the outside plugin (tests/plugins) is discovered, runs and is reported
    assert by_id["example.free-mail-contacts"]["status"] in ("pass", "fail")
    dormant = by_id["security.dormant-users"]
    assert dormant["status"] == "fail" and dormant["affected"]["ids"] == ["2", "3"]
    assert (folder / "report.md").exists() and (folder / "settings.json").exists()
    assert (folder / "snapshot.duckdb").exists()
    rows = list(csv.reader(open(folder / "fixlists" / "security.dormant-users.csv", encoding="utf-8")))
    assert rows[0] == ["tenant", "object", "id", "link", "problem", "suggested_fix"]
    assert [r[2] for r in rows[1:]] == ["2", "3"]


def test_skipped_checks_have_reasons(small_folder, tmp_path):
    out = tmp_path / "audits"
    run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress")
    report = json.loads((only_audit(out) / "report.json").read_text())
    skipped = [r for r in report["results"] if r["status"] == "skipped"]
    assert skipped
    for r in skipped:
        assert r["reason"].strip()
    dormant = next(r for r in report["results"] if r["check_id"] == "data.unreachable-contacts")
    assert dormant["status"] == "fail"
    needs_deals = [r for r in skipped if "deals table" in r["reason"]]
    assert all("did not supply" in r["reason"] for r in needs_deals)


def test_fail_under_exit_code(small_folder, tmp_path):
    result = run_cli("run", "--files", str(small_folder), "--out", str(tmp_path / "a"), "--fail-under", "100", "--no-progress")
    assert result.exit_code == 1
    assert "below --fail-under" in result.output


def test_bad_data_file_is_exit_3_one_line(tmp_path, folder_writer):
    folder = folder_writer(tmp_path / "bad", deals="id,amount\n1,12\n2,twelve\n")
    result = run_cli("run", "--files", str(folder), "--out", str(tmp_path / "a"), "--no-progress")
    assert result.exit_code == 3
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert any("deals.csv:3" in e and "'amount'" in e for e in errors)
    assert "Traceback" not in result.output


def test_config_errors_are_exit_2(tmp_path):
    cfg = tmp_path / "crm-audit.toml"
    cfg.write_text('[tenants.acme]\nconnector = "files"\npath = "${NOPE_NOT_SET}"\n')
    result = run_cli("run", "-c", str(cfg))
    assert result.exit_code == 2
    assert "NOPE_NOT_SET" in result.output and "Traceback" not in result.output

    cfg.write_text("[tenants.acme\nconnector = 'files'\n")
    result = run_cli("run", "-c", str(cfg))
    assert result.exit_code == 2 and "not valid TOML" in result.output and "line 1" in result.output

    cfg.write_text('[tenants.acme]\nconnector = "nosuchcrm"\n')
    result = run_cli("run", "-c", str(cfg))
    assert result.exit_code == 2 and "unknown connector 'nosuchcrm'" in result.output


def test_check_settings_are_validated(small_folder, tmp_path):
    cfg = tmp_path / "crm-audit.toml"
    cfg.write_text(f'[tenants.t]\nconnector = "files"\npath = "{small_folder}"\n[checks."security.dormant-users"]\ndayz = 3\n')
    result = run_cli("run", "-c", str(cfg))
    assert result.exit_code == 2 and "dayz is not a setting" in result.output and "days" in result.output
    cfg.write_text(f'[tenants.t]\nconnector = "files"\npath = "{small_folder}"\n[checks."security.dormant-users"]\ndays = "ninety"\n')
    result = run_cli("run", "-c", str(cfg))
    assert result.exit_code == 2 and "should be int" in result.output
    cfg.write_text(f'[audit]\nout = "{tmp_path / "o"}"\n[tenants.t]\nconnector = "files"\npath = "{small_folder}"\n'
                   '[checks."security.dormant-users"]\ndays = 10000\n')
    result = run_cli("run", "-c", str(cfg), "--as-of", "2026-11-24")
    assert result.exit_code == 0, result.output
    report = json.loads((only_audit(tmp_path / "o") / "report.json").read_text())
    dormant = next(r for r in report["results"] if r["check_id"] == "security.dormant-users")
    assert dormant["affected"]["ids"] == ["2"]  # only the never-logged-in user is older than 10000 days


def test_secrets_never_reach_outputs(small_folder, tmp_path):
    secret = "pat-na1-SUPERSECRET-123456"
    cfg = tmp_path / "crm-audit.toml"
    cfg.write_text(f'[audit]\nout = "{tmp_path / "o"}"\n[tenants.t]\nconnector = "files"\npath = "{small_folder}"\n'
                   'api_token = "${MY_TOKEN}"\n')
    result = run_cli("run", "-c", str(cfg), env={"MY_TOKEN": secret})
    assert result.exit_code == 0, result.output
    folder = only_audit(tmp_path / "o")
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            assert secret not in path.read_text(encoding="utf-8", errors="replace"), path
    assert secret not in result.output


def test_formula_cells_are_neutralised(tmp_path, folder_writer):
    contacts = 'id,first_name,email,phone\n=1+2,"=HYPERLINK(""http://x"")",,\n+44,@SUM(A1),,\n-3,\tTab,,\n'
    folder = folder_writer(tmp_path / "f", contacts=contacts)
    run_cli("run", "--files", str(folder), "--out", str(tmp_path / "o"), "--no-progress", "--check", "data.unreachable-contacts")
    path = only_audit(tmp_path / "o") / "fixlists" / "data.unreachable-contacts.csv"
    rows = list(csv.reader(open(path, encoding="utf-8")))[1:]
    ids = sorted(r[2] for r in rows)
    assert ids == ["'+44", "'-3", "'=1+2"]
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_check_that_raises_is_error_and_audit_goes_on(small_folder, tmp_path, crm_audit_plugin):
    from crm_audit_core import check, hookimpl

    @check(id="test.explodes", title="Explodes", step="data-policy", area="data", severity="low",
           needs={"contacts": ["id"]}, description="d", remediation="r")
    def explodes(ctx):
        raise ValueError("kaboom")

    class Plugin:
        @hookimpl
        def crm_audit_register_checks(self, register):
            register(explodes)

    crm_audit_plugin(Plugin())
    result = run_cli("run", "--files", str(small_folder), "--out", str(tmp_path / "o"), "--no-progress")
    assert result.exit_code == 0
    report = json.loads((only_audit(tmp_path / "o") / "report.json").read_text())
    exploded = next(r for r in report["results"] if r["check_id"] == "test.explodes")
    assert exploded["status"] == "error" and "kaboom" in exploded["reason"]
    assert any(r["status"] == "fail" for r in report["results"])


def test_console_script_help_survives_a_broken_plugin(tmp_path):
    """A plugin that fails to import is reported by name; --help and listings still work."""
    site = tmp_path / "site"
    dist = site / "crm_audit_broken-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: crm-audit-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[crm_audit]\nbroken = crm_audit_broken_plugin\n")
    (site / "crm_audit_broken_plugin.py").write_text("raise ImportError('this plugin is broken on purpose')\n")
    exe = Path(sys.executable).parent / "crm-audit"
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    help_run = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env=env)
    assert help_run.returncode == 0 and "Commands:" in help_run.stdout
    plugins_run = subprocess.run([str(exe), "plugins"], capture_output=True, text=True, env={**env, "COLUMNS": "200"})
    assert plugins_run.returncode == 0
    assert "broken" in plugins_run.stdout and "broken on purpose" in plugins_run.stdout
    disabled = subprocess.run([str(exe), "plugins"], capture_output=True, text=True,
                              env={**env, "COLUMNS": "200", "CRM_AUDIT_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert disabled.returncode == 0 and "broken" not in disabled.stdout and "example" not in disabled.stdout


def test_trace_shows_each_registration_call_once():
    """CRM_AUDIT_TRACE_PLUGINS shows the registration hooks, plugin by plugin, and the
    console script loads the plugins once (its commands reuse the registry)."""
    exe = Path(sys.executable).parent / "crm-audit"
    env = {"PATH": "/usr/bin:/bin", "CRM_AUDIT_TRACE_PLUGINS": "1"}
    run = subprocess.run([str(exe), "plugins"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    traced = [line for line in run.stderr.splitlines() if line.startswith("[crm-audit trace] crm_audit_register_")]
    assert traced.count("[crm-audit trace] crm_audit_register_checks [standard] [hook]") == 1
    assert "[crm-audit trace] crm_audit_register_checks [example] [hook]" in traced
    assert any(line.startswith("[crm-audit trace] crm_audit_register_connectors [hubspot]") for line in traced)
