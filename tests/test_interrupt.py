"""Ctrl-C stops the audit wherever it lands, also inside a DuckDB query.

DuckDB's Python client consumes a KeyboardInterrupt that arrives while a query runs and
raises ``RuntimeError('Query interrupted')`` instead. Caught by the runner's broad handlers
it would become "connector failed" or "the check raised an error; the audit went on", and
the user's Ctrl-C would be lost. The tests press Ctrl-C (``_thread.interrupt_main``, as the
terminal's SIGINT does) while a query runs, through the CLI. Whether DuckDB stops the query
(an error) or lets it finish (the KeyboardInterrupt is raised after it) depends on where its
threads are, so those tests hold the user's side of both; the ``*_error_*`` tests give the
error form itself, every time.
"""

from __future__ import annotations

import _thread
import json
import signal
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_audit_core import ConnectorInfo, check, hookimpl
from crm_audit_core.cli import main
from crm_audit_core.errors import interrupted
from crm_audit_core.extract import MemorySink
from crm_audit_core.runner import find_interrupted

LONG = "SELECT count(md5(CAST(range AS VARCHAR))) AS n FROM range(30000000)"  # 5 s, unless stopped


def ctrl_c_soon():
    threading.Timer(0.3, _thread.interrupt_main).start()


@pytest.fixture(autouse=True)
def sigint_raises():
    """Ctrl-C as Python handles it by default (a test runner may have set its own)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class SlowConnector:
    def __init__(self, context):
        self.context = context

    def api_calls(self):
        return 0

    def extract(self, sink):
        sink.write("users", [{"id": "u1", "name": "A"}])
        sink.complete("users")
        ctrl_c_soon()
        sink.write_query("contacts", f"SELECT CAST(n AS VARCHAR) AS id FROM ({LONG})", ["id"], total=1)
        sink.complete("contacts")


class FastConnector(SlowConnector):
    def extract(self, sink):
        sink.write("contacts", [{"id": "c1", "email": "a@example.com"}])
        sink.complete("contacts")


class InterruptedConnector(SlowConnector):
    def extract(self, sink):
        sink.write("contacts", [{"id": "c1", "email": "a@example.com"}])
        raise RuntimeError("Query interrupted")  # what DuckDB raises for a Ctrl-C during a query


@check(id="test.slow-query", title="A check whose query is long", step="missing-data", area="data",
       severity="low", needs={"contacts": ["id"]}, description="-", remediation="-")
def slow_query(ctx):
    ctrl_c_soon()
    n = ctx.scalar(LONG)
    return ctx.result(ids=[], population=int(n))


@check(id="test.interrupted-query", title="A check whose query DuckDB stopped for a Ctrl-C", step="missing-data",
       area="data", severity="low", needs={"contacts": ["id"]}, description="-", remediation="-")
def interrupted_query(ctx):
    raise RuntimeError("Query interrupted")


class Plugin:
    @hookimpl
    def crm_audit_register_connectors(self, register):
        register(ConnectorInfo(name="slow", factory=lambda options, context: SlowConnector(context)))
        register(ConnectorInfo(name="fast", factory=lambda options, context: FastConnector(context)))
        register(ConnectorInfo(name="interrupted", factory=lambda options, context: InterruptedConnector(context)))

    @hookimpl
    def crm_audit_register_checks(self, register):
        register(slow_query)
        register(interrupted_query)


def run(connector: str, out, check_id: str):
    return CliRunner().invoke(main, ["run", "--connector", connector, "--tenant", "acme", "--no-progress",
                                     "--out", str(out), "--check", check_id], catch_exceptions=False)


def test_duckdb_gives_ctrl_c_in_forms_that_are_recognised():
    import duckdb

    con = duckdb.connect()
    ctrl_c_soon()
    with pytest.raises(BaseException) as raised:  # noqa: PT011 - RuntimeError, or KeyboardInterrupt after the query
        con.execute(LONG).fetchall()
    assert interrupted(raised.value), repr(raised.value)
    cursor = con.cursor()
    threading.Timer(0.3, cursor.interrupt).start()
    with pytest.raises(duckdb.Error) as stopped:
        cursor.execute(LONG).fetchall()
    assert interrupted(stopped.value), repr(stopped.value)
    assert not interrupted(RuntimeError("a bug")) and not interrupted(ValueError("Query interrupted"))


def assert_stopped(tmp_path, connector: str, check_id: str) -> Path:
    """Run the audit through the CLI; it must stop as on any Ctrl-C, never report the
    Ctrl-C as a failed connector or check. Returns the audit's folder."""
    result = run(connector, tmp_path / "audits", check_id)
    assert result.exit_code == 130, result.output
    assert "error: interrupted" in result.output
    for wrong in ("Query interrupted", "raised an error", "failed"):
        assert wrong not in result.output, result.output
    [folder] = (tmp_path / "audits").iterdir()
    return folder


def test_ctrl_c_in_a_checks_query_stops_the_audit(tmp_path, crm_audit_plugin):
    crm_audit_plugin(Plugin())
    assert_stopped(tmp_path, "fast", "test.slow-query")


def test_ctrl_c_while_the_store_inserts_stops_the_audit(tmp_path, crm_audit_plugin):
    crm_audit_plugin(Plugin())
    folder = assert_stopped(tmp_path, "slow", "data.unreachable-contacts")
    # left for --resume, not marked complete
    assert json.loads((folder / "state.json").read_text())["status"] == "extracting"
    assert find_interrupted(tmp_path / "audits") == folder


def test_ctrl_c_while_a_memory_sink_runs_a_query_stops():
    ctrl_c_soon()
    with pytest.raises(KeyboardInterrupt):
        MemorySink("t").write_query("contacts", f"SELECT CAST(n AS VARCHAR) AS id FROM ({LONG})", ["id"], total=1)


def test_duckdbs_interrupt_error_in_a_check_stops_the_audit(tmp_path, crm_audit_plugin):
    """Before: "the check raised an error; the audit went on", exit 0."""
    crm_audit_plugin(Plugin())
    assert_stopped(tmp_path, "fast", "test.interrupted-query")


def test_duckdbs_interrupt_error_in_a_connector_stops_the_audit(tmp_path, crm_audit_plugin):
    """Before: "connector 'interrupted' failed: RuntimeError: Query interrupted", and the checks ran."""
    crm_audit_plugin(Plugin())
    assert_stopped(tmp_path, "interrupted", "data.unreachable-contacts")
