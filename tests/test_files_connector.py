"""The files connector: canonical folders in, clear errors for bad files."""

from __future__ import annotations

import pytest

from crm_audit_core.errors import DataError
from crm_audit_core.extract import MemorySink
from crm_audit_core.files_connector import FilesConnector
from crm_audit_core.store import Store



def extract(folder):
    sink = MemorySink("t")
    FilesConnector(folder).extract(sink)
    return sink


def test_reads_types_custom_fields_and_unicode(small_folder):
    sink = extract(small_folder)
    assert sink.completed == {"users", "contacts"}
    contacts = {r["id"]: r for r in sink.rows["contacts"]}
    assert contacts["10"]["segments"] == ["newsletter", "vip"]
    assert contacts["10"]["custom"] == {"fav_color": "blue"}
    assert "custom" not in contacts["11"]
    assert contacts["11"]["first_name"] == "지우"
    assert contacts["13"]["last_name"] == "Álvarez"
    # +07:00 offset normalised to UTC
    assert contacts["10"]["updated_at"].hour == 1
    users = {r["id"]: r for r in sink.rows["users"]}
    assert users["1"]["is_active"] is True and users["2"]["last_login_at"] is None
    assert users["4"]["mfa_enabled"] is None


def test_missing_table_is_not_supplied(small_folder, tmp_path):
    store = Store(tmp_path / "s.duckdb")
    from crm_audit_core.extract import StoreSink

    sink = StoreSink(store, "t")
    FilesConnector(small_folder).extract(sink)
    supplied = store.supplied("t")
    assert "deals" not in supplied and "contacts" in supplied
    assert "mfa_enabled" in supplied["users"] and "mfa_enabled" not in supplied.get("contacts", set())
    assert store.counts("t") == {"users": 4, "contacts": 4}
    assert store.execute("SELECT field, value FROM canonical.custom_values ORDER BY record_id").fetchall() == [
        ("fav_color", "blue"), ("fav_color", "red")]
    store.close()


@pytest.mark.parametrize(
    "text, where, words",
    [
        ("id,amount,close_date\n1,12.5,2026-01-01\n2,abc,2026-01-01\n", "deals.csv:3", "'amount': 'abc' is not a number"),
        ("id,amount,close_date\n1,12.5,2026-01-01\n2,3,2026-02-30\n", "deals.csv:3", "'close_date'"),
        ("id,is_won\n1,true\n2,maybe\n", "deals.csv:3", "'is_won': 'maybe' is not true or false"),
        ("id,name\n1,a\n2,b,c\n", "deals.csv:3", "expected 2 columns"),
        ("name,amount\nx,1\n", "deals.csv:1", "missing the key column 'id'"),
        ("", "deals.csv:1", "empty"),
    ],
)
def test_bad_file_names_file_line_and_column(tmp_path, text, where, words):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "deals.csv").write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        extract(folder)
    message = info.value.one_line()
    assert where in message and words in message
    assert "\n" not in message


def test_windows_1252_is_read(tmp_path):
    """Not UTF-8 is no longer refused: Windows-1252 is detected (tests/test_csv_dialect.py has the rest)."""
    folder = tmp_path / "latin"
    folder.mkdir()
    (folder / "contacts.csv").write_bytes("id,first_name\n1,Jos\xe9\n".encode("latin-1"))
    sink = extract(folder)
    assert sink.rows["contacts"][0]["first_name"] == "Jos\xe9"


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="no canonical table files"):
        extract(tmp_path)


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "pq"
    folder.mkdir()
    pq.write_table(pa.table({"id": ["1", "2"], "amount": [1.5, None], "is_won": [True, False], "extra": ["x", None]}),
                   folder / "deals.parquet")
    sink = extract(folder)
    rows = sink.rows["deals"]
    assert rows[0]["amount"] == 1.5 and rows[1]["is_won"] is False
    assert rows[0]["custom"] == {"extra": "x"}
