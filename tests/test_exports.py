"""The core side of vendor exports in --files (issue 18, item 1): the .zip as delivered,
--files-format, detection against canonical files, the summary table. The readers
themselves are tested with each connector (connectors/*/tests/test_export.py)."""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone

import pytest

from crm_audit_core.connector import ExtractContext
from crm_audit_core.errors import ConfigError, DataError
from crm_audit_core.exports import ExportResult, choose, read_xlsx, summary_table
from crm_audit_core.files_connector import FilesConnector, _factory
from crm_audit_core.plugins import build_plugin_manager

CONTEXT = ExtractContext(tenant="t", as_of=datetime(2026, 12, 6, tzinfo=timezone.utc))
HUBSPOT_CONTACTS = "Record ID,First Name,Last Name,Lifecycle Stage,Contact owner\n1,Ana,Lim,Lead,Jane Doe\n"


@pytest.fixture(autouse=True, scope="module")
def registry():
    return build_plugin_manager()  # hands the connectors' export readers to --files


def test_zip_without_an_export_is_a_usage_error(tmp_path):
    archive = tmp_path / "backup.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("contacts.csv", "id,first_name\n1,a\n")
    with pytest.raises(ConfigError, match="holds no export the installed connectors read"):
        _factory({"path": str(archive)}, CONTEXT)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="is a file, not a folder"):
        _factory({"path": str(tmp_path / "notes.txt")}, CONTEXT)


def test_hubspot_zip_is_read_and_canonical_wins_when_asked(tmp_path):
    archive = tmp_path / "hubspot-crm-exports-all-contacts.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hubspot-crm-exports-all-contacts-2026-12-05.csv", HUBSPOT_CONTACTS)
    assert _factory({"path": str(archive)}, CONTEXT).format.name == "hubspot-export"
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "contacts.csv").write_text(HUBSPOT_CONTACTS)
    assert choose(folder, None, None, "t").name == "hubspot-export"  # labels, not canonical columns
    assert isinstance(_factory({"path": str(folder), "format": "canonical"}, CONTEXT), FilesConnector)
    (folder / "contacts.csv").write_text("id,first_name\n1,a\n")
    assert choose(folder, None, None, "t") is None
    with pytest.raises(ConfigError, match="unknown files format 'sap-export'"):
        choose(folder, "sap-export", None, "t")


def test_summary_table_names_files_tables_and_missing_columns():
    result = ExportResult()
    rows = [{"id": "1", "first_name": "Ana", "owner_id": "Jane Doe"}]
    result.add("contacts", rows)
    result.report("contacts.csv", "contacts", ["Record ID", "First Name", "Contact owner", "Fax"],
                  {"Record ID", "First Name", "Contact owner"}, rows)
    text = summary_table("hubspot-export", result)
    assert "Detected a hubspot-export" in text
    line = next(l for l in text.splitlines() if l.strip().startswith("contacts.csv"))
    assert line.split()[1:5] == ["contacts", "1", "3", "1"]  # table, records, mapped, dropped
    assert "last_name" in line and "not in the export: users" in text
    korean = summary_table("hubspot-export", result, "ko")  # crm-audit run --lang ko
    assert korean.startswith("폴더에서 hubspot-export 형식을 감지했습니다:") and "내보내기에 없음: users" in korean


def test_xlsx_duplicate_header_is_refused(tmp_path):
    book = tmp_path / "x.xlsx"
    with zipfile.ZipFile(book, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml",
                   '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                   '<row r="1"><c r="A1" t="inlineStr"><is><t>Email</t></is></c>'
                   '<c r="B1" t="inlineStr"><is><t>Email</t></is></c></row></sheetData></worksheet>')
    with pytest.raises(DataError, match="column 2 and column 1 are both named 'Email'"):
        read_xlsx(book)
