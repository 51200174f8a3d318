"""Messy files (issue 18, item 4): encodings, delimiters, numbers, summary lines, duplicate
headers and date shapes, each read correctly or refused with one line naming file, line
and column; and the same tenant saved as CP949 with semicolons audits like its UTF-8 original."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest

from crm_audit_core.errors import ConfigError, DataError
from crm_audit_core.files_connector import FilesConnector
from crm_audit_core.extract import MemorySink

CONTACTS = "id,first_name,last_name,city,created_at\n1,José,Müller,Köln,2024-03-05T10:22:33Z\n2,지민,김,서울,2024-03-06 08:00\n"


def read(folder: Path, **kw):
    sink = MemorySink("t")
    FilesConnector(folder, **kw).extract(sink)
    return sink


def folder_with(tmp_path: Path, name: str, data: bytes) -> Path:
    folder = tmp_path / "f"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(data)
    return folder


def names(sink):
    return [(r["first_name"], r["last_name"], r["city"]) for r in sink.rows["contacts"]]


@pytest.mark.parametrize("encoding, text", [
    ("utf-8", CONTACTS),
    ("utf-8-sig", CONTACTS),
    ("utf-16", CONTACTS),  # with a byte-order mark
    ("utf-16-le", CONTACTS),  # without one
    ("cp949", CONTACTS.replace("José", "Jose").replace("Müller", "Muller").replace("Köln", "Koln")),
    ("cp1252", CONTACTS.split("\n2,")[0] + "\n"),
])
def test_encodings_are_detected(tmp_path, encoding, text):
    sink = read(folder_with(tmp_path, "contacts.csv", text.encode(encoding)))
    expected = [tuple(line.split(",")[1:4]) for line in text.strip().splitlines()[1:]]
    assert names(sink) == expected
    assert sink.rows["contacts"][0]["created_at"] == datetime(2024, 3, 5, 10, 22, 33)


def test_named_encoding_and_a_wrong_one(tmp_path):
    data = "id,first_name\n1,지민\n".encode("euc-kr")
    folder = folder_with(tmp_path, "contacts.csv", data)
    assert read(folder, encoding="cp949").rows["contacts"][0]["first_name"] == "지민"
    with pytest.raises(DataError) as info:
        read(folder, encoding="utf-8")
    message = info.value.one_line()
    assert "contacts.csv:2" in message and "--encoding" in message and "\n" not in message


def test_unknown_encoding_is_a_usage_error():
    from crm_audit_core.csv_dialect import codec_of

    with pytest.raises(ConfigError, match="unknown encoding 'klingon'"):
        codec_of("klingon")
    assert codec_of("EUC-KR") == "cp949" and codec_of("Windows-1252") == "cp1252"


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiters_are_sniffed(tmp_path, delimiter):
    text = CONTACTS.replace(",", delimiter)
    sink = read(folder_with(tmp_path, "contacts.csv", text.encode("utf-8")))
    assert names(sink)[1] == ("지민", "김", "서울")


def test_numbers_with_thousands_separators_and_decimal_commas(tmp_path):
    folder = folder_with(tmp_path, "deals.csv", b'id,amount\n1,"1,234.50"\n2,"12,000"\n3,7\n')
    assert [r["amount"] for r in read(folder).rows["deals"]] == [1234.5, 12000.0, 7.0]
    european = "id;amount\n1;1.234,50\n2;12,5\n3;7\n4;1 000\n".encode("cp1252")
    folder = folder_with(tmp_path, "deals.csv", european)
    assert [r["amount"] for r in read(folder).rows["deals"]] == [1234.5, 12.5, 7.0, 1000.0]


def test_trailing_summary_line_is_dropped_and_said(tmp_path):
    folder = folder_with(tmp_path, "deals.csv", b"id,name,amount\n1,a,10\n2,b,20\nTotal,,30\n")
    sink = read(folder)
    assert [r["id"] for r in sink.rows["deals"]] == ["1", "2"]
    assert any("trailing summary line 4" in n and "Total" in n for n in sink.notes)
    folder = folder_with(tmp_path, "deals.csv", "id;name;amount\n1;a;10\n합계;30\n".encode("cp949"))
    assert [r["id"] for r in read(folder).rows["deals"]] == ["1"]


def test_what_is_not_a_summary_line_is_kept(tmp_path):
    # a last value spanning lines, and a company called 'Total SA' with its columns filled
    folder = folder_with(tmp_path, "companies.csv", b'id,city,domain,name\n1,x,a.com,a\n2,y,b.com,"multi\nline"\n')
    assert [r["name"] for r in read(folder).rows["companies"]] == ["a", "multi\nline"]
    folder = folder_with(tmp_path, "companies.csv", b"name,id,city,domain\nAcme,1,x,a.com\nTotal SA,2,Paris,total.com\n")
    assert [r["id"] for r in read(folder).rows["companies"]] == ["1", "2"]


def test_duplicate_header_names_file_line_and_columns(tmp_path):
    folder = folder_with(tmp_path, "contacts.csv", b"id,email,first_name,email\n1,a@x,A,b@x\n")
    with pytest.raises(DataError) as info:
        read(folder)
    message = info.value.one_line()
    assert "contacts.csv:1" in message and "column 4 and column 2 are both named 'email'" in message


def test_ragged_line_names_file_and_line(tmp_path):
    folder = folder_with(tmp_path, "contacts.csv", "id;first_name\n1;a\n2;b;c\n3;d\n".encode("cp1252"))
    with pytest.raises(DataError) as info:
        read(folder)
    assert "contacts.csv:3" in info.value.one_line() and "expected 2 columns" in info.value.one_line()


@pytest.mark.parametrize("value, expected", [
    ("2024-03-05T10:22:33.000Z", datetime(2024, 3, 5, 10, 22, 33)),
    ("2024-03-05T19:22:33+09:00", datetime(2024, 3, 5, 10, 22, 33)),
    ("2024-03-05 10:22:33", datetime(2024, 3, 5, 10, 22, 33)),
    ("2024-03-05 10:22", datetime(2024, 3, 5, 10, 22)),
    ("2024-03-05", datetime(2024, 3, 5)),
    ("45356", datetime(2024, 3, 5)),  # Excel serial date
    ("45356.5", datetime(2024, 3, 5, 12)),
    ("1709634153000", datetime(2024, 3, 5, 10, 22, 33)),  # epoch milliseconds
    ("2024/03/05 10:22", datetime(2024, 3, 5, 10, 22)),
])
def test_date_shapes(tmp_path, value, expected):
    folder = folder_with(tmp_path, "deals.csv", f"id,close_date\n1,{value}\n".encode())
    assert read(folder).rows["deals"][0]["close_date"] == expected


def test_day_first_or_month_first_only_when_the_file_proves_it(tmp_path):
    day_first = b"id,close_date,created_at\n1,05/03/2024,05/03/2024 10:22\n2,25/03/2024,\n"
    rows = read(folder_with(tmp_path, "deals.csv", day_first)).rows["deals"]
    assert rows[0]["close_date"] == datetime(2024, 3, 5) and rows[1]["close_date"] == datetime(2024, 3, 25)
    assert rows[0]["created_at"] == datetime(2024, 3, 5, 10, 22)
    month_first = b"id,close_date\n1,03/05/2024\n2,03/25/2024 3:04 PM\n"
    rows = read(folder_with(tmp_path, "deals.csv", month_first)).rows["deals"]
    assert rows[0]["close_date"] == datetime(2024, 3, 5) and rows[1]["close_date"] == datetime(2024, 3, 25, 15, 4)
    ambiguous = folder_with(tmp_path, "deals.csv", b"id,close_date\n1,05/03/2024\n2,04/03/2024\n")
    with pytest.raises(DataError) as info:
        read(ambiguous)
    message = info.value.one_line()
    assert "'close_date'" in message and "--date-order" in message and "deals.csv" in message
    assert read(ambiguous, date_order="month-first").rows["deals"][0]["close_date"] == datetime(2024, 5, 3)
    both = folder_with(tmp_path, "deals.csv", b"id,close_date\n1,25/03/2024\n2,03/25/2024\n")
    with pytest.raises(DataError, match="both day-first"):
        read(both)


def _findings(folder: Path, tmp_path: Path, as_of) -> dict:
    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.plugins import build_plugin_manager
    from crm_audit_core.runner import run_audit

    config = AuditConfig(out=tmp_path / f"out-{folder.name}", tenants=[TenantConfig("t", "files", {"path": str(folder)})])
    config.as_of = as_of
    audit, _ = run_audit(config, registry=build_plugin_manager(), progress=False)
    return {r.check_id: (r.status, sorted(r.affected.ids), r.affected.population) for r in audit.results}


def test_cp949_semicolon_copy_gives_the_same_findings(tmp_path):
    from crm_audit_core.sandbox import generate_tenant

    tenant = generate_tenant(contacts=300, seed=7)
    original = tmp_path / "utf8"
    tenant.write(original)
    korean = tmp_path / "cp949"
    korean.mkdir()
    for path in original.glob("*.csv"):
        # what CP949 cannot hold (é, ö) Korean Excel cannot save either: both copies hold the same
        # text, with Korean names in the contacts so the encoding matters
        text = "".join(_cp949_safe(c) for c in path.read_text(encoding="utf-8"))
        if path.name == "contacts.csv":
            text = text.replace(",Smith,", ",김민준,")
        path.write_text(text, encoding="utf-8")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        out = io.StringIO(newline="")
        csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(rows)
        (korean / path.name).write_bytes(out.getvalue().encode("cp949"))
    assert (korean / "contacts.csv").read_bytes() != (original / "contacts.csv").read_bytes()
    expected = _findings(original, tmp_path, tenant.as_of)
    got = _findings(korean, tmp_path, tenant.as_of)
    assert sum(1 for s, _, _ in expected.values() if s == "fail") >= 5  # the tenant has planted defects
    assert got == expected


def _cp949_safe(char: str) -> str:
    for candidate in (char, unicodedata.normalize("NFKD", char)[:1]):
        try:
            candidate.encode("cp949")
            return candidate
        except UnicodeEncodeError:
            continue
    return "-"


def test_boolean_words_in_a_semicolon_file(tmp_path):
    text = "id;is_active;is_admin;mfa_enabled\n1;TRUE;No;y\n2;false;Yes;N\n3;1;0;\n"
    rows = read(folder_with(tmp_path, "users.csv", text.encode("cp1252"))).rows["users"]
    assert [(r["is_active"], r["is_admin"], r["mfa_enabled"]) for r in rows] == [
        (True, False, True), (False, True, False), (True, False, None)]


def test_integration_status_synonyms_in_a_cp949_tab_file(tmp_path):
    """'connected' / 'disconnected' arrive as they are; the store's vocabulary maps them (issue 18, item 2)."""
    text = "id\tname\tstatus\tlast_sync_at\n1\t메일침프\tconnected\t2026-09-01 10:00\n2\tZapier\tdisconnected\t45356\n"
    rows = read(folder_with(tmp_path, "integrations.csv", text.encode("cp949"))).rows["integrations"]
    assert [(r["name"], r["status"]) for r in rows] == [("메일침프", "connected"), ("Zapier", "disconnected")]
    assert rows[1]["last_sync_at"] == datetime(2024, 3, 5)
