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
from crm_audit_core.reports.markdown import md_escape

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


def test_secrets_never_reach_outputs(small_folder, tmp_path, crm_audit_plugin):
    from crm_audit_core import hookimpl
    from crm_audit_core.connector import ConnectorInfo
    from crm_audit_core.files_connector import FilesConnector

    class TokenFiles:  # the files connector takes no secret: this one declares one
        @hookimpl
        def crm_audit_register_connectors(self, register):
            register(ConnectorInfo("tokenfiles", lambda o, c: FilesConnector(Path(o["path"])),
                                   options={"path": "folder", "api_token": "a secret"}))

    crm_audit_plugin(TokenFiles())
    secret = "pat-na1-SUPERSECRET-123456"
    cfg = tmp_path / "crm-audit.toml"
    cfg.write_text(f'[audit]\nout = "{tmp_path / "o"}"\n[tenants.t]\nconnector = "tokenfiles"\npath = "{small_folder}"\n'
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


def _no_audit_archived(out: Path) -> bool:
    return not out.exists() or not [p for p in out.iterdir() if p.is_dir()]


def test_check_pattern_matching_nothing_is_a_usage_error(small_folder, tmp_path):
    out = tmp_path / "o"
    result = run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress", "--check", "nosuch.*")
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert errors == ["error: --check 'nosuch.*' matches no installed check (see `crm-audit checks list`)"]
    assert "Score" not in result.output and _no_audit_archived(out)


def test_check_patterns_name_only_those_matching_nothing(small_folder, tmp_path):
    out = tmp_path / "o"
    result = run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress",
                     "--check", "security.*", "--check", "security.dormant-user", "--check", "zzz")
    assert result.exit_code == 2 and _no_audit_archived(out)
    [line] = result.output.splitlines()
    assert line.startswith("error: --check 'security.dormant-user', 'zzz' matches no installed check")
    assert "did you mean 'security.dormant-users'?" in line and "crm-audit checks list" in line


def test_check_pattern_naming_a_refused_check_says_why(small_folder, tmp_path, crm_audit_plugin):
    from crm_audit_core import check, hookimpl

    @check(id="test.refused", title="Refused", step="nowhere", area="data", severity="low",
           needs={"contacts": ["id"]}, description="d", remediation="r")
    def refused(ctx):
        return ctx.result()

    class Refusing:
        @hookimpl
        def crm_audit_register_checks(self, register):
            register(refused)

    crm_audit_plugin(Refusing())
    result = run_cli("run", "--files", str(small_folder), "--out", str(tmp_path / "o"), "--no-progress", "--check", "test.refused")
    assert result.exit_code == 2
    assert "--check 'test.refused' matches no installed check (plugin 'Refusing': check 'test.refused' refused: step 'nowhere'" in result.output


class _BadCheckAndReporter:
    """A plugin whose second check has bad metadata; its first check and its reporter are fine."""

    def __init__(self):
        from crm_audit_core import check

        meta = dict(title="T", area="data", needs={"contacts": ["id"]}, description="d", remediation="r")
        self.good = check(id="test.good", step="missing-data", severity="low", **meta)(lambda ctx: ctx.result(ids=["10"]))
        self.bad = check(id="test.bad", step="missing-data", severity="urgent", **meta)(lambda ctx: ctx.result())

    from crm_audit_core import hookimpl

    @hookimpl
    def crm_audit_register_checks(self, register):
        register(self.bad)
        register(self.good)

    @hookimpl
    def crm_audit_register_reporters(self, register):
        from crm_audit_core import Reporter

        def write(audit, context):
            path = context.folder / "report.txt"
            path.write_text(f"{len(audit.results)} results\n", encoding="utf-8")
            return [path]

        register(Reporter("txt", write, "plain text"))


def test_refused_check_is_reported_and_the_rest_of_its_plugin_runs(small_folder, tmp_path, crm_audit_plugin):
    crm_audit_plugin(_BadCheckAndReporter())
    out = tmp_path / "o"
    result = run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress", env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    line = "plugin '_BadCheckAndReporter': check 'test.bad' refused: severity 'urgent' is not one of critical, high, medium, low, info"
    assert [x for x in result.output.splitlines() if x.startswith("warning")] == [f"warning {line}"]
    folder = only_audit(out)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, SCHEMA)
    assert report["audit"]["plugin_errors"] == [line]
    assert next(r for r in report["results"] if r["check_id"] == "test.good")["status"] == "fail"
    assert (folder / "report.txt").read_text() == f"{len(report['results'])} results\n"
    assert line.replace("'", "&#39;") in (folder / "report.html").read_text(encoding="utf-8")
    assert f"- {md_escape(line)}" in (folder / "report.md").read_text(encoding="utf-8")


def test_strict_exits_2_before_running(small_folder, tmp_path, crm_audit_plugin):
    crm_audit_plugin(_BadCheckAndReporter())
    out = tmp_path / "o"
    result = run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress", "--strict")
    assert result.exit_code == 2 and _no_audit_archived(out)
    [line] = result.output.splitlines()
    assert line.startswith("error: --strict: 1 plugin failure, nothing was run: plugin '_BadCheckAndReporter': check 'test.bad' refused")
    assert "CRM_AUDIT_DISABLE_PLUGINS" in line


def test_strict_counts_an_entry_point_that_fails_to_import(small_folder, tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    dist = site / "crm_audit_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: crm-audit-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[crm_audit]\nbroken = crm_audit_broken_plugin\n")
    (site / "crm_audit_broken_plugin.py").write_text("raise ImportError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(site))
    out = tmp_path / "o"
    strict = run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress", "--strict")
    assert strict.exit_code == 2 and _no_audit_archived(out)
    assert "plugin 'broken' failed to load: ImportError: broken on purpose" in strict.output
    lenient = run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress")
    assert lenient.exit_code == 0
    assert "warning plugin 'broken' failed to load: ImportError: broken on purpose" in lenient.output


def test_strict_runs_when_every_plugin_loaded(small_folder, tmp_path):
    result = run_cli("run", "--files", str(small_folder), "--out", str(tmp_path / "o"), "--no-progress", "--strict",
                     "--check", "security.*")
    assert result.exit_code == 0, result.output
    report = json.loads((only_audit(tmp_path / "o") / "report.json").read_text())
    assert report["audit"]["plugin_errors"] == []
    assert {r["check_id"].split(".")[0] for r in report["results"]} == {"security"}
