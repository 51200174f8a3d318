"""Usage errors are usage errors: exit 2, one line, nothing archived (issue 14, points 2 and 3).

A missing folder, a folder without table files, a file that cannot be opened and an
option the connector does not have stop the run before anything is read or archived;
bad cells are counted, noted and read as empty until ``max_bad_cells`` says too many.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_audit_core.cli import main
from crm_audit_core.errors import ConfigError, DataError
from crm_audit_core.extract import MemorySink
from crm_audit_core.files_connector import BadCellLimit, FilesConnector


def run_cli(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def audits(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.fixture
def archive(small_folder, tmp_path) -> Path:
    """An archive that already holds one complete audit (so `latest` exists)."""
    out = tmp_path / "audits"
    first = run_cli("run", "--files", str(small_folder), "--out", str(out), "--no-progress")
    assert first.exit_code == 0, first.output
    return out


def test_missing_folder_exits_2_and_archives_nothing(archive, tmp_path):
    before = audits(archive)
    result = run_cli("run", "--files", str(tmp_path / "no-such-export"), "--out", str(archive), "--no-progress")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "no-such-export" in line and "does not exist" in line
    assert audits(archive) == before  # `latest` is still the earlier audit
    fresh = tmp_path / "fresh"
    result = run_cli("run", "--files", str(tmp_path / "no-such-export"), "--out", str(fresh), "--no-progress")
    assert result.exit_code == 2 and not fresh.exists()


def test_folder_without_table_files_exits_2(archive, tmp_path):
    empty = tmp_path / "empty"
    (empty / "notes.txt").parent.mkdir()
    (empty / "notes.txt").write_text("hello")
    before = audits(archive)
    result = run_cli("run", "--files", str(empty), "--out", str(archive), "--no-progress")
    assert result.exit_code == 2
    assert "holds no table files" in one_error_line(result) and "contacts.csv" in result.output
    assert audits(archive) == before


def test_unreadable_file_exits_2(archive, small_folder, tmp_path, folder_writer):
    folder = folder_writer(tmp_path / "export", users="id,name\n1,Ann\n")
    (folder / "contacts.csv").mkdir()  # cannot be opened as a file, even by root
    before = audits(archive)
    result = run_cli("run", "--files", str(folder), "--out", str(archive), "--no-progress")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "cannot read" in line and "contacts.csv" in line
    assert audits(archive) == before
    if os.geteuid() != 0:  # permissions do not stop root
        (folder / "contacts.csv").rmdir()
        (folder / "contacts.csv").write_text("id\n1\n")
        (folder / "contacts.csv").chmod(0)
        result = run_cli("run", "--files", str(folder), "--out", str(archive), "--no-progress")
        assert result.exit_code == 2 and "Permission denied" in result.output


def test_typo_in_an_option_on_the_command_line_suggests_the_option(archive, small_folder):
    before = audits(archive)
    result = run_cli("run", "--connector", "hubspot", "--option", "acces_token=x", "--out", str(archive), "--no-progress")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "'acces_token' is not an option of the hubspot connector" in line
    assert "did you mean 'access_token'?" in line and "base_url" in line  # the options it has
    result = run_cli("run", "--files", str(small_folder), "--option", "max_bad_cell=3", "--out", str(archive),
                     "--no-progress")
    assert result.exit_code == 2 and "did you mean 'max_bad_cells'?" in one_error_line(result)
    assert audits(archive) == before


def test_typo_under_a_tenant_section_is_refused(archive, small_folder, tmp_path):
    cfg = tmp_path / "crm-audit.toml"
    cfg.write_text(f'[audit]\nout = "{archive}"\n[tenants.acme]\nconnector = "files"\npath = "{small_folder}"\n'
                   "typo_option = 1\n")
    before = audits(archive)
    result = run_cli("run", "-c", str(cfg), "--no-progress")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "tenant 'acme': 'typo_option' is not an option of the files connector" in line
    assert "its options: date_order, encoding, folder, format, max_bad_cells, path" in line and "did you mean" not in line
    assert audits(archive) == before


def test_bad_option_value_and_missing_credential_are_usage_errors(archive, small_folder, monkeypatch):
    before = audits(archive)
    result = run_cli("run", "--files", str(small_folder), "--option", "max_bad_cells=lots", "--out", str(archive),
                     "--no-progress")
    assert result.exit_code == 2 and "max_bad_cells" in one_error_line(result)
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)
    result = run_cli("run", "--connector", "hubspot", "--out", str(archive), "--no-progress")
    assert result.exit_code == 2 and "access_token" in one_error_line(result)
    assert audits(archive) == before


# -- bad cells ---------------------------------------------------------------------------

DEALS = "id,amount,is_won,close_date\n" + "".join(f"{i},{i}.5,true,2026-01-01\n" for i in range(1, 201))


def _deals(bad: dict[int, str]) -> str:
    """DEALS with some lines (2 = first data line) replaced."""
    lines = DEALS.splitlines()
    for line, text in bad.items():
        lines[line - 1] = text
    return "\n".join(lines) + "\n"


def test_a_few_bad_cells_are_counted_noted_and_the_rest_is_read(tmp_path, folder_writer):
    folder = folder_writer(tmp_path / "x", deals=_deals({5: "4,abc,true,2026-01-01", 9: "8,n/a,maybe,2026-01-01"}))
    sink = MemorySink("t")
    FilesConnector(folder).extract(sink)
    rows = {r["id"]: r for r in sink.rows["deals"]}
    assert len(rows) == 200  # the table is read, not dropped
    assert rows["4"]["amount"] is None and rows["8"]["is_won"] is None and rows["9"]["amount"] == 9.5
    [note] = sink.notes
    assert note == ("deals.csv: 3 bad cells read as empty (max_bad_cells = 1%): column 'amount': 2 are not a number: "
                    "line 5 'abc', line 9 'n/a'; column 'is_won': 1 is not true or false: line 9 'maybe'")


def test_too_many_bad_cells_fail_with_the_first_one(tmp_path, folder_writer):
    folder = folder_writer(tmp_path / "x", deals=_deals({5: "4,abc,true,2026-01-01", 9: "8,n/a,maybe,2026-01-01"}))
    with pytest.raises(DataError) as info:
        FilesConnector(folder, max_bad_cells=2).extract(MemorySink("t"))
    message = info.value.one_line()
    assert "deals.csv:5: column 'amount': 'abc' is not a number" in message
    assert "3 bad cells of 600 typed cells" in message and "max_bad_cells = 2" in message
    FilesConnector(folder, max_bad_cells="0.5%").extract(MemorySink("t"))  # 3 <= 0.5% of 600
    many = folder_writer(tmp_path / "y", deals=_deals({n: f"{n - 1},x{n},true,2026-01-01" for n in range(2, 7)}))
    sink = MemorySink("t")
    FilesConnector(many, max_bad_cells=10).extract(sink)
    assert sink.notes[0].endswith("column 'amount': 5 are not a number, first: line 2 'x2', line 3 'x3', line 4 'x4'")
    with pytest.raises(DataError):
        FilesConnector(folder, max_bad_cells="0.4%").extract(MemorySink("t"))


def test_bad_cells_through_the_cli(tmp_path, folder_writer):
    folder = folder_writer(tmp_path / "x", deals=_deals({5: "4,abc,true,2026-01-01"}))
    out = tmp_path / "o"
    ok = run_cli("run", "--files", str(folder), "--out", str(out), "--no-progress")
    assert ok.exit_code == 0, ok.output
    assert "note: x: deals.csv: 1 bad cell read as empty" in ok.output and "line 5 'abc'" in ok.output
    [folder_out] = [p for p in out.iterdir() if p.is_dir()]
    report = json.loads((folder_out / "report.json").read_text(encoding="utf-8"))
    assert any("line 5 'abc'" in n for t in report["audit"]["tenants"] for n in t["notes"])
    strict = run_cli("run", "--files", str(folder), "--option", "max_bad_cells=0", "--out", str(out), "--no-progress")
    assert strict.exit_code == 3 and "deals.csv:5: column 'amount': 'abc' is not a number" in strict.output


@pytest.mark.parametrize("value", ["lots", "-1", "2.5", "150%", True])
def test_max_bad_cells_values(value):
    with pytest.raises(ConfigError, match="max_bad_cells"):
        BadCellLimit(value)


def test_a_bad_accepted_risk_archives_nothing(small_folder, tmp_path):
    out = tmp_path / "o"
    cfg = tmp_path / "crm-audit.toml"
    cfg.write_text(f'[audit]\nout = "{out}"\n[tenants.t]\nconnector = "files"\npath = "{small_folder}"\n'
                   '[[accepted_risks]]\ncheck = "security.dormant-users"\n', encoding="utf-8")
    result = run_cli("run", "-c", str(cfg), "--no-progress")
    assert result.exit_code == 2 and "needs a 'reason'" in one_error_line(result)
    assert not out.exists()
