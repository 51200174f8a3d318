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


# -- DuckDB's CSV reader against pyarrow's ------------------------------------------------
# Plain CSV files whose cells all fit are read by DuckDB's parallel reader, straight from
# the file; any other file by csv_dialect and pyarrow (the reader before). Both must give
# the very same rows, custom values and notes on any file.

TRICKY = {
    "quoted newlines, quotes and commas": 'id,first_name,last_name,segments,nickname\n'
                                          '1,"Ann\nMarie","O""Neil, Jr",a;b,"x, y"\n2,Bo,,;;c;,""\n',
    "CRLF line ends and a BOM": '\ufeffid,first_name,created_at,nickname\r\n1,Zoë,2026-01-02T03:04:05+07:00,z\r\n'
                                '2,지우,2026-01-02,\r\n',
    "blank lines and spaces": 'id,first_name,email_bounced,nps\n1, padded ,yes, 7 \n\n2,,N,\n\n',
    "bad cells read as empty": 'id,created_at,email_bounced,nickname\n1,31/12/2026,maybe,a\n2,2026-01-01,1,\n',
    "header only": 'id,first_name,nickname\n',
    "no trailing newline": 'id,first_name\n1,a\n2,b',
}


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_duckdb_and_pyarrow_read_the_same(name, tmp_path, monkeypatch):
    from crm_audit_core import files_connector

    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "contacts.csv").write_text(TRICKY[name], encoding="utf-8", newline="")
    sinks = []
    for use_duckdb in (True, False):
        monkeypatch.setattr(files_connector, "DUCKDB_CSV", use_duckdb)
        sink = MemorySink("t")
        FilesConnector(folder, max_bad_cells="100%").extract(sink)
        sinks.append(sink)
    duck, arrow = sinks
    assert duck.rows == arrow.rows and duck.notes == arrow.notes
    assert duck.completed == arrow.completed == {"contacts"}


def test_a_plain_file_goes_straight_into_the_store(tmp_path, monkeypatch):
    """A plain CSV file is read by DuckDB into the snapshot in one query: no row goes through
    Python (Arrow batches), and the rows, their order and the custom values are all there."""
    from crm_audit_core.extract import StoreSink

    folder = tmp_path / "f"
    folder.mkdir()
    rows = "".join(f"{i},name {i},{'v' if i % 3 == 0 else ''},{i % 2}\n" for i in range(2500))
    (folder / "contacts.csv").write_text("id,first_name,nickname,email_bounced\n" + rows, encoding="utf-8")

    def no_batches(*args, **kwargs):
        raise AssertionError("a plain file must not go through Arrow batches")

    monkeypatch.setattr(Store, "_insert_arrow", no_batches)
    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t")
    FilesConnector(folder).extract(sink)
    assert sink.written["contacts"] == 2500 and sink.completed == {"contacts"}
    assert store.counts("t") == {"contacts": 2500}
    assert store.supplied("t")["contacts"] == {"id", "first_name", "email_bounced"}
    stored = store.execute("SELECT id, first_name, email_bounced FROM canonical.contacts").fetchall()
    assert [r[0] for r in stored] == [str(i) for i in range(2500)]  # the file's order
    assert stored[3] == ("3", "name 3", True) and stored[4][2] is False
    custom = store.execute("SELECT object, record_id, field, value FROM canonical.custom_values "
                           "ORDER BY CAST(record_id AS INT)").fetchall()
    assert len(custom) == 834 and custom[1] == ("contacts", "3", "nickname", "v")
    store.close()


def test_other_files_go_to_the_sink_in_batches(tmp_path, monkeypatch):
    from crm_audit_core import files_connector

    monkeypatch.setattr(files_connector, "BATCH_ROWS", 1000)
    folder = tmp_path / "f"
    folder.mkdir()
    rows = "".join(f"{i};name {i};{'v' if i % 3 == 0 else ''}\n" for i in range(2500))
    # semicolons: read by csv_dialect and pyarrow, then handed to the sink batch by batch
    (folder / "contacts.csv").write_text("id;first_name;nickname\n" + rows, encoding="utf-8")
    written = []

    class Counting(MemorySink):
        def write_arrow(self, table, typed, custom=None):
            written.append((typed.num_rows, 0 if custom is None else custom.num_rows))
            return super().write_arrow(table, typed, custom)

    sink = Counting("t")
    FilesConnector(folder).extract(sink)
    assert len(written) >= 3 and max(n for n, _ in written) <= 1000
    assert sum(n for n, _ in written) == 2500 and sum(c for _, c in written) == 834
    assert [r["id"] for r in sink.rows["contacts"]] == [str(i) for i in range(2500)]
    assert sink.rows["contacts"][3]["custom"] == {"nickname": "v"} and "custom" not in sink.rows["contacts"][1]


def test_a_query_the_store_cannot_insert_rolls_the_table_back(tmp_path):
    from crm_audit_core.extract import StoreSink

    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t")
    good = "SELECT 'c1' AS id, 'x' AS first_name"
    sink.write_query("contacts", good, ["id", "first_name"], total=1)
    custom = "SELECT 'c1' AS record_id, 'f' AS field, 'v' AS value"
    bad = "SELECT 'c2' AS id, CAST('not a number' AS INTEGER) AS nps_score"
    with pytest.raises(DataError) as raised:
        sink.write_query("contacts", bad, ["id", "nps_score"], custom, total=1)
    assert "cannot store the rows of contacts" in str(raised.value.message) and raised.value.where == "t/contacts"
    assert store.execute("SELECT id FROM canonical.contacts").fetchall() == [("c1",)]
    assert store.execute("SELECT count(*) FROM canonical.custom_values").fetchall() == [(0,)]
    assert store.counts("t") == {"contacts": 1} and sink.partial_tables == ["contacts"]
    store.close()


def test_ctrl_c_during_a_query_insert_rolls_back_and_stops_the_poller(tmp_path):
    """Ctrl-C while the store inserts a query's rows: the KeyboardInterrupt goes on up (the
    audit stops), the table is rolled back, the progress poller has stopped, and the store
    still takes the next insert."""
    import _thread
    import signal
    import threading

    store = Store(tmp_path / "s.duckdb")
    store.insert_query("t", "contacts", "SELECT 'c0' AS id", ["id"])
    slow = "SELECT md5(CAST(range AS VARCHAR)) AS id, md5(md5(CAST(range AS VARCHAR))) AS first_name FROM range(20000000)"
    custom = "SELECT 'c1' AS record_id, 'f' AS field, 'v' AS value"
    calls = []

    def on_progress(done):
        calls.append(done)
        if len(calls) == 1:
            _thread.interrupt_main()  # as a Ctrl-C would, while the insert runs

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            store.insert_query("t", "contacts", slow, ["id", "first_name"], custom, on_progress=on_progress)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert calls and calls[-1] < 1.0  # stopped part way, never reported done
    assert not [t for t in threading.enumerate() if t.name == "crm-audit-load-progress"]
    assert store.execute("SELECT id FROM canonical.contacts").fetchall() == [("c0",)]
    assert store.execute("SELECT count(*) FROM canonical.custom_values").fetchall() == [(0,)]
    assert store.insert_query("t", "contacts", "SELECT 'c2' AS id", ["id"]) == 1
    assert store.counts("t") == {"contacts": 2}
    store.close()


def test_the_progress_of_a_query_reaches_its_total(tmp_path):
    """The bar follows DuckDB's progress of the insert and ends on the rows written, also when
    its total was an estimate (the files connector's, from the file's size)."""
    from crm_audit_core.extract import StoreSink

    store = Store(tmp_path / "s.duckdb")
    seen, totals = [], []

    class Board:
        def task(self, tenant, table, total):
            totals.append(total)

            class Handle:
                def advance(self, records=0, calls=0):
                    seen.append(records)

                def set_total(self, total):
                    totals.append(total)

                def discard(self):
                    totals.append("discarded")
            return Handle()

    sink = StoreSink(store, "t", board=Board())
    rows = sink.write_query("contacts", "SELECT CAST(range AS VARCHAR) AS id FROM range(300000)", ["id"], total=250000)
    assert rows == 300000 and sum(seen) == 300000 and totals == [250000, 300000]
    with pytest.raises(DataError):
        sink.write_query("deals", "SELECT CAST('x' AS INTEGER) AS amount", ["amount"], total=1)
    assert totals[-1] == "discarded"
    store.close()


def test_a_plain_file_with_a_bad_cell_is_rolled_back_and_read_again(tmp_path, monkeypatch):
    """DuckDB's strict insert meets a cell that does not fit (line 3): that table is rolled
    back and read by the dialect path, which notes the cell; no row is stored twice."""
    from crm_audit_core.extract import StoreSink

    folder = tmp_path / "f"
    folder.mkdir()
    rows = "".join(f"c{i},2026-01-{1 + i % 28:02d},{'yes' if i % 2 else 'no'},v{i}\n" for i in range(1, 2001))
    rows = rows.replace("c2,2026-01-03,no,", "c2,2026-01-03,maybe,", 1)
    (folder / "contacts.csv").write_text("id,created_at,email_bounced,nickname\n" + rows, encoding="utf-8")
    (folder / "users.csv").write_text("id,name,is_active\nu1,Ann,true\n", encoding="utf-8")
    from crm_audit_core import files_connector

    validated = []
    validate = files_connector._Reading.validate
    monkeypatch.setattr(files_connector._Reading, "validate", lambda self: validated.append(self.table.name) or validate(self))
    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t")
    FilesConnector(folder).extract(sink)
    assert validated == ["contacts"]  # refused by the straight insert once, then read by the dialect path alone
    assert store.counts("t") == {"users": 1, "contacts": 2000}
    assert store.execute("SELECT count(*), count(DISTINCT record_id) FROM canonical.custom_values").fetchall() == [(2000, 2000)]
    assert store.execute("SELECT email_bounced FROM canonical.contacts WHERE id = 'c2'").fetchall() == [(None,)]
    assert any("1 bad cell read as empty" in str(n) and "line 3 'maybe'" in str(n) for n in sink.notes)
    assert [u[:3] for u in sink.unreadable_cells] == [("contacts", "email_bounced", 1)]
    assert sink.completed == {"users", "contacts"} and not sink.partial_tables
    store.close()


def test_a_plain_file_duckdb_refuses_half_way_is_rolled_back_and_named(tmp_path):
    """A line with a field too many, far down a plain file: DuckDB's insert into the store
    fails, the rows before it are rolled back, and the dialect path names the file and line."""
    from crm_audit_core.extract import StoreSink

    folder = tmp_path / "f"
    folder.mkdir()
    rows = [f"d{i},deal {i},{i}.5" for i in range(1, 50001)]
    rows[39999] += ",extra"  # line 40001 of the file
    (folder / "deals.csv").write_text("id,name,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t")
    with pytest.raises(DataError) as info:
        FilesConnector(folder).extract(sink)
    assert "deals.csv:40001" in info.value.one_line() and "expected 3 columns" in info.value.one_line()
    assert store.execute("SELECT count(*) FROM canonical.deals").fetchall() == [(0,)]
    assert sink.partial_tables == ["deals"]
    store.close()


def test_custom_columns_named_like_the_custom_values_columns_go_straight_in(tmp_path, monkeypatch):
    from crm_audit_core.extract import StoreSink

    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "contacts.csv").write_text("id,first_name,record_id,field,value\n1,a,r1,f1,v1\n2,b,,f2,\n", encoding="utf-8")

    def no_other_way(*args):
        raise AssertionError("a plain file must go straight into the store")

    monkeypatch.setattr(FilesConnector, "_open", no_other_way)
    store = Store(tmp_path / "s.duckdb")
    FilesConnector(folder).extract(StoreSink(store, "t"))
    assert store.execute("SELECT record_id, field, value FROM canonical.custom_values ORDER BY 1, 2").fetchall() == [
        ("1", "field", "f1"), ("1", "record_id", "r1"), ("1", "value", "v1"), ("2", "field", "f2")]
    store.close()
