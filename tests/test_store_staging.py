"""Checkpointed tables stage full batches in the store (memory bounded by a batch), commit
them with the checkpoint, and never let rows past the last checkpoint into the table; and
``sink.lookup`` reads back committed rows (this run's, carried ones, resumed ones) by key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

from crm_audit_core import ConnectorError, ConnectorInfo
from crm_audit_core.connector import PreviousSnapshot
from crm_audit_core.extract import MemorySink, StoreSink, run_connector
from crm_audit_core.store import Store


def company(i: int) -> dict:
    return {"id": f"c{i}", "name": f"Company {i}", "custom": {"tier": f"t{i % 3}"}, "raw": {"id": i}}


def ids(store: Store, table: str = "companies", tenant: str = "t") -> list[str]:
    return [r[0] for r in store.execute(f"SELECT id FROM canonical.{table} WHERE tenant = ? ORDER BY id", [tenant]).fetchall()]


def staged(store: Store, table: str = "companies") -> int:
    return store.execute(f"SELECT count(*) FROM canonical._staged_{table}").fetchall()[0][0]


def custom_ids(store: Store, tenant: str = "t") -> set[str]:
    return {r[0] for r in store.execute("SELECT record_id FROM canonical.custom_values WHERE tenant = ?", [tenant]).fetchall()}


def test_checkpointed_rows_are_staged_by_batch_and_committed_with_the_checkpoint(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t", batch_rows=10)
    sink.write("companies", [company(i) for i in range(3)])
    sink.checkpoint("companies", {"page": 1})
    sink.write("companies", [company(i) for i in range(3, 38)])  # 35 rows, far from any checkpoint
    assert len(sink.buffers["companies"]) < 10  # memory: one batch at most, not the 35 rows
    assert staged(store) == 30
    assert len(ids(store)) == 3 and custom_ids(store) == {"c0", "c1", "c2"}  # not in the table yet
    sink.checkpoint("companies", {"page": 2})
    assert staged(store) == 0 and len(ids(store)) == 38
    assert len(custom_ids(store)) == 38
    assert store.checkpoint_of("t", "companies") == {"page": 2}
    sink.complete("companies")
    assert store.execute("SELECT rows FROM canonical._tables WHERE table_name = 'companies'").fetchone()[0] == 38
    store.close()


class CheckpointThenFail:
    def api_calls(self):
        return 1

    def extract(self, sink):
        sink.write("companies", [company(i) for i in range(4)])
        sink.checkpoint("companies", {"page": 1})
        sink.write("companies", [company(i) for i in range(4, 6000)])  # > BATCH_ROWS: a batch is staged
        raise ConnectorError("Pipedrive answered 500 five times on /api/v2/organizations")


def test_rows_after_the_last_checkpoint_never_reach_the_table_on_failure(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    outcome = run_connector(ConnectorInfo(name="x", factory=lambda o, c: CheckpointThenFail(), resumable=True),
                            {}, "t", store, datetime.now(timezone.utc))
    assert outcome.partial_tables == ["companies"]
    assert ids(store) == ["c0", "c1", "c2", "c3"]
    assert custom_ids(store) == {"c0", "c1", "c2", "c3"}
    assert staged(store) == 0 and store.execute("SELECT count(*) FROM canonical._staged_custom_values").fetchone()[0] == 0
    store.close()


KILLED = textwrap.dedent("""
    import os, signal, sys
    from crm_audit_core.extract import StoreSink
    from crm_audit_core.store import Store

    store = Store(sys.argv[1])
    sink = StoreSink(store, "t", batch_rows=10)
    rows = [{"id": f"c{i}", "name": f"Company {i}", "custom": {"tier": "x"}} for i in range(60)]
    sink.write("companies", rows[:20])
    sink.checkpoint("companies", {"next": 20})
    sink.write("companies", rows[20:55])  # three batches staged, five rows buffered
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_killed_run_commits_nothing_past_its_checkpoint_and_resumes_without_duplicates(tmp_path):
    path = tmp_path / "s.duckdb"
    proc = subprocess.run([sys.executable, "-c", KILLED, str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = Store(path)
    assert len(ids(store)) == 20  # the committed page, no more
    assert staged(store) == 30  # what the kill left in the staging area
    sink = StoreSink(store, "t", batch_rows=10, resuming=True)
    assert staged(store) == 0  # a resumed run starts without it
    state = sink.resume_state("companies")
    assert state == {"next": 20}
    sink.write("companies", [company(i) for i in range(state["next"], 60)])
    sink.checkpoint("companies", {"next": 60})
    sink.complete("companies")
    got = ids(store)
    assert len(got) == len(set(got)) == 60
    assert store.execute("SELECT count(*) FROM canonical.custom_values WHERE tenant = 't'").fetchone()[0] == 60
    store.close()
    assert not os.path.exists(str(path) + ".wal")


def test_keep_what_is_safe_drops_staged_rows_but_keeps_unchecked_tables(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t", batch_rows=10)
    sink.checkpoint("companies", {"page": 0})
    sink.write("companies", [company(i) for i in range(25)])
    sink.write("deals", [{"id": f"d{i}"} for i in range(25)])  # never checkpointed: written as read
    sink.keep_what_is_safe()
    assert ids(store) == [] and staged(store) == 0
    assert len(ids(store, "deals")) == 25
    store.close()


def test_lookup_reads_committed_rows_only_and_by_key(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t", batch_rows=1000)
    sink.write("companies", [company(i) for i in range(5)])
    assert sink.lookup("companies", "id", ("name",), ["c1"]) == {}  # still buffered: not committed
    sink.checkpoint("companies", {"page": 1})
    sink.write("companies", [company(5)])
    found = sink.lookup("companies", "id", ("name",), ["c1", "c4", "c5", "nope", None])
    assert found == {"c1": ("Company 1",), "c4": ("Company 4",)}
    assert sink.lookup("companies", "id", (), ["c2"]) == {"c2": ()}
    assert sink.lookup("companies", "id", ("name",), []) == {}
    sink.complete("companies")  # cached from now on
    assert sink.lookup("companies", "id", ("name", "id"), {"c5", "c0"}) == {"c5": ("Company 5", "c5"), "c0": ("Company 0", "c0")}
    other = StoreSink(store, "u")
    other.write("companies", [{"id": "c1", "name": "another tenant's"}])
    other.complete("companies")
    assert sink.lookup("companies", "id", ("name",), ["c1"]) == {"c1": ("Company 1",)}
    assert other.lookup("companies", "id", ("name",), ["c1"]) == {"c1": ("another tenant's",)}
    import pytest

    with pytest.raises(ValueError, match="no column 'nope'"):
        sink.lookup("companies", "id", ("nope",), ["c1"])
    store.close()


def test_cached_lookup_sees_rows_written_after_it(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t")
    sink.write("companies", [company(1)])
    sink.complete("companies")
    assert sink.lookup("companies", "id", ("name",), ["c1", "c2"]) == {"c1": ("Company 1",)}
    sink.write("companies", [company(2)])
    sink.complete("companies")
    assert sink.lookup("companies", "id", ("name",), ["c1", "c2"]) == {"c1": ("Company 1",), "c2": ("Company 2",)}
    store.close()


def test_lookup_finds_carried_and_resumed_rows(tmp_path):
    old = Store(tmp_path / "old.duckdb")
    sink = StoreSink(old, "t")
    sink.write("companies", [company(i) for i in range(4)])
    sink.complete("companies")
    old.close()
    previous = PreviousSnapshot(audit_id="a", path=tmp_path / "old.duckdb", since=None, tenant="t")

    store = Store(tmp_path / "new.duckdb")
    sink = StoreSink(store, "t")
    sink.write("companies", [dict(company(1), name="Renamed 1")])
    sink.checkpoint("companies", {"done": True})
    sink.carry_forward("companies", previous, deleted_ids=["c3"])
    sink.complete("companies")
    assert sink.lookup("companies", "id", ("name",), ["c0", "c1", "c2", "c3"]) == {
        "c0": ("Company 0",), "c1": ("Renamed 1",), "c2": ("Company 2",)}
    # an interrupted audit: what it committed is found by the run that resumes it
    sink.write("activities", [{"id": "a1", "subject": "call", "created_at": "2026-01-02T03:04:05Z"}])
    sink.checkpoint("activities", {"page": 1})
    store.close()
    store = Store(tmp_path / "new.duckdb")
    resumed = StoreSink(store, "t", resuming=True)
    assert resumed.lookup("activities", "id", ("created_at",), ["a1"]) == {"a1": (datetime(2026, 1, 2, 3, 4, 5),)}
    assert resumed.lookup("companies", "id", ("name",), ["c2"]) == {"c2": ("Company 2",)}
    store.close()


def test_memory_sink_lookup():
    sink = MemorySink()
    sink.write("companies", [company(1), company(2)])
    assert sink.lookup("companies", "id", ("name",), ["c2", "c9"]) == {"c2": ("Company 2",)}
