"""What a new user meets in the first hour (issue 14, points 5 to 8): the install and the
demo are quiet and ours alone, every command and option explains itself, errors read
alike, each run says where its report is and what to do next, and the docs match."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crm_audit_core.cli import _CommandGroupGuard, main
from crm_audit_core.config import config_from_dict
from crm_audit_core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def full_cli():
    """``main`` with the commands plugins add (survey, policy), as the console script has them."""
    from crm_audit_core.plugins import build_plugin_manager

    registry = build_plugin_manager()
    for impl in registry.pm.hook.crm_audit_register_commands.get_hookimpls():
        impl.function(_Adder(main, impl.plugin_name))
    return main


class _Adder(_CommandGroupGuard):
    def add_command(self, cmd, name=None):
        if (name or cmd.name) not in self._group.commands:
            super().add_command(cmd, name)


def _commands(group: click.Group, path=("crm-audit",)):
    for name, cmd in group.commands.items():
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))


# -- 5: our test fixtures stay out of the user's way ---------------------------------------

def _make_dry_run(target: str) -> str:
    return subprocess.run(["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_demo_does_not_install_the_example_plugin_and_make_test_does():
    demo = _make_dry_run("demo")
    assert "crm-audit demo" in demo
    assert "pip" in demo and "install" in demo  # the distributions a user needs ...
    assert "tests/plugins" not in demo  # ... but not the tests' example plugin
    assert "uninstall --yes crm-audit-example-plugin" in demo  # left over from make test: removed
    assert "-e ./tests/plugins/crm_audit_example_plugin" in _make_dry_run("test")


def test_install_steps_are_quiet_one_line_each():
    demo = _make_dry_run("demo")
    installs = [line for line in demo.splitlines() if "pip" in line and " install " in line]
    assert installs and all("--quiet" in line and ">>.venv/install.log 2>&1" in line for line in installs)


# -- 6: noise ---------------------------------------------------------------------------------

PYPROJECTS = ["pyproject.toml", "checks/pyproject.toml", "connectors/hubspot/pyproject.toml",
              "connectors/pipedrive/pyproject.toml", "connectors/salesforce/pyproject.toml",
              "tests/plugins/crm_audit_example_plugin/pyproject.toml"]


@pytest.mark.parametrize("path", PYPROJECTS)
def test_license_metadata_is_an_spdx_string_with_its_file(path):
    data = tomllib.loads((ROOT / path).read_text(encoding="utf-8"))
    project = data["project"]
    assert project["license"] == "Apache-2.0"  # an SPDX expression, not the deprecated table
    for name in project["license-files"]:
        license_file = (ROOT / path).parent / name
        assert license_file.is_file() and "Apache License" in license_file.read_text(encoding="utf-8")
    assert any(r.startswith("setuptools>=77") for r in data["build-system"]["requires"])


def test_click_errors_read_like_ours():
    result = run_cli("run", "--no-such-option")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: no such option '--no-such-option'. Did you mean '--option'? (see 'crm-audit run --help')"]
    result = run_cli("demo", "--contacts", "5")
    assert result.exit_code == 2 and result.output.startswith("error: invalid value for '--contacts'")
    assert "Error:" not in run_cli("nosuchcommand").output
    bare = run_cli("checks")  # a group without its command shows its help, as click does
    assert "Commands:" in bare.output and "list" in bare.output and "error:" not in bare.output


def test_plural_wording():
    # counts choose their noun through the language's plural rule (ngettext templates)
    from crm_audit_checks.i18n import ngettext

    assert ngettext("{n} group", "{n} groups", 1) == "1 group" and ngettext("{n} group", "{n} groups", 2) == "2 groups"
    assert ngettext("{n} entry", "{n} entries", 1_200) == "1,200 entries"


def test_one_duplicate_group_is_singular(tmp_path, folder_writer):
    folder = folder_writer(tmp_path / "dups", contacts=(
        "id,first_name,last_name,email\n1,Ann,Lee,ann@example.com\n2,Ann,Lee,ann@example.com\n3,Bo,Kim,bo@example.com\n"))
    out = tmp_path / "o"
    result = run_cli("run", "--files", str(folder), "--out", str(out), "--no-progress", "--check",
                     "data.duplicate-contacts")
    assert result.exit_code == 0, result.output
    assert "1 group of duplicate contacts" in result.output and "1 groups" not in result.output


def test_charts_do_not_warn_about_identical_limits(recwarn, monkeypatch):
    from matplotlib.figure import Figure

    from crm_audit_core.reports.charts import render_svg

    layout = Figure.tight_layout

    def degenerate(self, *args, **kwargs):  # what matplotlib does with a chart of one x value
        self.axes[0].set_xlim(1, 1)
        return layout(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "tight_layout", degenerate)
    render_svg({"kind": "line", "x": ["2026-12-01", "2026-12-01"], "series": {"overall": [50, 60]}})
    assert not [w for w in recwarn if "identical low and high" in str(w.message)]


# -- 7: next steps, --out, help text -----------------------------------------------------------

def test_run_files_prints_the_report_and_the_next_command(small_folder, tmp_path):
    out = tmp_path / "archive"
    first = run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress")
    assert first.exit_code == 0, first.output
    [folder] = [p for p in out.iterdir() if p.is_dir()]
    assert f"Report: {folder / 'report.html'}" in first.output
    assert f"Next: crm-audit report latest --format md --out {out}" in first.output
    second = run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress")
    assert f"Next: crm-audit diff previous latest --out {out}" in second.output


def test_every_option_has_help_text(full_cli):
    missing = []
    for path, cmd in _commands(full_cli):
        for param in cmd.params:
            if isinstance(param, click.Option) and not (param.help or "").strip():
                missing.append(f"{' '.join(path)} {param.opts[0]}")
    assert {"survey", "policy"} <= set(full_cli.commands)
    assert not missing, missing


def test_out_says_what_it_is_in_each_command(full_cli):
    helps = {}
    for path, cmd in _commands(full_cli):
        for param in cmd.params:
            if isinstance(param, click.Option) and "--out" in param.opts:
                helps[" ".join(path)] = param.help
    assert len(set(helps.values())) == len(helps), helps  # never the same words for different things
    for command in ("crm-audit run", "crm-audit demo", "crm-audit report"):
        assert "archive folder" in helps[command].lower()
    assert "csv" in helps["crm-audit sandbox generate"].lower()


def test_top_level_help_shows_whole_descriptions(full_cli):
    result = run_cli("--help")
    commands = result.output.split("Commands:", 1)[1]
    assert "..." not in commands
    flat = " ".join(commands.split())
    for name, cmd in full_cli.commands.items():
        first = " ".join(cmd.get_short_help_str(limit=10_000).split())
        assert first in flat, name


# -- 8: docs and messages that match the tool -----------------------------------------------

def test_docs_list_what_an_audit_writes_and_every_command(full_cli):
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    writes = text.split("## What an audit writes", 1)[1].split("##", 1)[0]
    for name in ("report.html", "report.json", "report.md", "fixlists/", "settings.json", "snapshot.duckdb", "state.json"):
        assert name in writes, name
    table = text.split("## Commands", 1)[1]
    for name in full_cli.commands:
        assert f"`crm-audit {name}" in table, name


def test_missing_variable_error_never_suggests_writing_the_secret_into_the_file():
    with pytest.raises(ConfigError) as info:
        config_from_dict({"tenants": {"acme": {"connector": "hubspot", "access_token": "${NOT_SET_TOKEN}"}}}, env={})
    line = info.value.one_line()
    assert "NOT_SET_TOKEN" in line and "export NOT_SET_TOKEN" in line
    assert "never write a secret" in line and not re.search(r"write the value in the file", line)
