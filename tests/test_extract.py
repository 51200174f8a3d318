"""Extraction into the store: batches, custom fields, UTC, partial tables kept and marked."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from crm_audit_core import ConnectorInfo, ConnectorError, hookimpl
from crm_audit_core.cli import main
from crm_audit_core.extract import StoreSink, run_connector
from crm_audit_core.store import Store

WIB = timezone(timedelta(hours=7))


class FlakyConnector:
    """Writes 12,001 contacts in batches, completes users, then fails mid-deals."""

    def __init__(self, fail: bool):
        self.fail = fail

    def api_calls(self):
        return 42

    def extract(self, sink):
        sink.write("users", [{"id": "u1", "name": "Dewi", "is_active": True, "last_login_at": datetime(2026, 11, 1, 9, tzinfo=WIB),
                              "raw": {"id": "u1", "vendor": "x"}}])
        sink.complete("users")
        for start in range(0, 12001, 1000):
            sink.write("contacts", [
                {"id": str(i), "first_name": "이" if i % 2 else "Budi", "email": f"p{i}@example.com", "phone": None,
                 "segments": ["a", "b"] if i % 3 == 0 else None, "created_at": "2026-01-01T00:00:00Z",
                 "custom": {"score": i % 7, "note": None}, "raw": {"id": i}}
                for i in range(start, min(start + 1000, 12001))
            ])
        sink.complete("contacts")
        sink.write("deals", [{"id": "d1", "amount": 10.0}])
        if self.fail:
            raise ConnectorError("HubSpot answered 500 five times on /crm/v3/objects/deals", hint="try again later")
        sink.complete("deals")


def test_rows_batches_custom_and_utc(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t", batch_rows=5000)
    FlakyConnector(fail=False).extract(sink)
    assert store.counts("t") == {"users": 1, "contacts": 12001, "deals": 1}
    assert store.table_status("t") == {"users": "complete", "contacts": "complete", "deals": "complete"}
    [user] = store.table_rows("t", "users")
    assert user["last_login_at"] == datetime(2026, 11, 1, 2, 0)  # 09:00 WIB is 02:00 UTC
    assert json.loads(user["raw"]) == {"id": "u1", "vendor": "x"}
    assert store.execute("SELECT count(*), count(DISTINCT record_id) FROM canonical.custom_values WHERE field='score'").fetchone() == (12001, 12001)
    assert store.execute("SELECT count(*) FROM canonical.custom_values WHERE field='note'").fetchone() == (0,)
    assert store.execute("SELECT segments FROM canonical.contacts WHERE id='3'").fetchone() == (["a", "b"],)
    assert "email" in store.supplied("t")["contacts"] and "title" not in store.supplied("t")["contacts"]
    store.close()


def test_failure_keeps_partial_rows(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    info = ConnectorInfo(name="flaky", factory=lambda options, context: FlakyConnector(fail=True))
    outcome = run_connector(info, {}, "t", store, datetime.now(timezone.utc))
    assert outcome.error is not None and "500 five times" in outcome.error.one_line()
    assert outcome.partial_tables == ["deals"] and outcome.api_calls == 42
    assert store.counts("t")["deals"] == 1
    assert store.table_status("t")["deals"] == "partial"
    store.close()


def test_connector_failure_in_an_audit_is_exit_3_with_partial_marks(tmp_path, crm_audit_plugin):
    class Plugin:
        @hookimpl
        def crm_audit_register_connectors(self, register):
            register(ConnectorInfo(name="flaky", factory=lambda options, context: FlakyConnector(fail=True)))

    crm_audit_plugin(Plugin())
    result = CliRunner().invoke(main, ["run", "--connector", "flaky", "--out", str(tmp_path / "o"), "--no-progress"])
    assert result.exit_code == 3, result.output
    assert "error: flaky: HubSpot answered 500 five times" in result.output
    [folder] = list((tmp_path / "o").iterdir())
    report = json.loads((folder / "report.json").read_text())
    [tenant] = report["audit"]["tenants"]
    assert tenant["partial_tables"] == ["deals"] and tenant["records"]["contacts"] == 12001
    assert tenant["api_calls"] == 42
    unreachable = next(r for r in report["results"] if r["check_id"] == "data.unreachable-contacts")
    assert unreachable["status"] == "pass"  # contacts were complete: not marked partial
    never_read = [r for r in report["results"] if r["status"] == "skipped" and "companies" in (r["reason"] or "")]
    assert never_read and all("extraction stopped" in r["reason"] for r in never_read)


def test_unexpected_connector_exception_is_one_line(tmp_path):
    class Buggy:
        def api_calls(self):
            return 0

        def extract(self, sink):
            raise KeyError("results")

    store = Store(tmp_path / "s.duckdb")
    outcome = run_connector(ConnectorInfo(name="buggy", factory=lambda o, c: Buggy()), {}, "t", store, datetime.now(timezone.utc))
    assert "connector 'buggy' failed: KeyError" in outcome.error.one_line()
    assert "--debug" in outcome.error.one_line()
    store.close()


def test_read_back_committed_rows_and_previous_snapshot_rows(tmp_path):
    from crm_audit_core.connector import PreviousSnapshot

    store = Store(tmp_path / "s.duckdb")
    sink = StoreSink(store, "t")
    sink.write("companies", [{"id": "c1", "name": "PT Maju Jaya Tbk"}, {"id": "c2", "name": "주식회사 한빛"}])
    sink.checkpoint("companies", {"after": "c2"})
    assert sorted(sink.stored("companies", ("id", "name"))) == [("c1", "PT Maju Jaya Tbk"), ("c2", "주식회사 한빛")]
    assert sink.stored("deals", ("id",)) == []
    sink.complete("companies")
    store.close()
    previous = PreviousSnapshot(audit_id="a", path=tmp_path / "s.duckdb", since=None, tenant="t")
    assert sorted(previous.rows("companies", ("id",))) == [("c1",), ("c2",)]
    assert previous.rows("deals", ("id",)) == []  # not supplied then
    import pytest

    with pytest.raises(ValueError, match="no column 'nope'"):
        previous.rows("companies", ("id", "nope"))
