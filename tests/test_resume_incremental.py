"""Resumable and incremental audits, through the core contract (a fake CRM in memory).

The connector below pages through an in-memory CRM the way the real ones page through
their APIs: it checkpoints after each page, resumes from the checkpoint, and in
incremental mode reads only what changed since the previous audit.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner

from crm_audit_core import ConnectorError, ConnectorInfo, hookimpl
from crm_audit_core.cli import main
from crm_audit_core.store import Store

PAGE = 100


class FakeCrm:
    def __init__(self, n: int):
        now = datetime.now(timezone.utc) - timedelta(days=30)
        self.contacts = {str(i): {"id": str(i), "email": f"p{i}@example.com", "phone": None, "updated_at": now}
                         for i in range(1, n + 1)}
        self.deleted: dict[str, datetime] = {}
        self.fail_at_page: int | None = None
        self.pages_served: list[tuple[str, int]] = []

    def page(self, after: int, since=None):
        rows = sorted((c for c in self.contacts.values() if since is None or c["updated_at"] >= since), key=lambda c: int(c["id"]))
        chunk = [c for c in rows if int(c["id"]) > after][:PAGE]
        number = sum(1 for c in rows if int(c["id"]) <= after) // PAGE
        if self.fail_at_page is not None and number == self.fail_at_page:
            self.fail_at_page = None
            raise ConnectorError("connection lost (simulated)")
        self.pages_served.append(("since" if since else "all", number))
        return chunk

    def touch(self, cid: str, **values):
        self.contacts[cid].update(values, updated_at=datetime.now(timezone.utc))


class FakeConnector:
    def __init__(self, crm: FakeCrm, context, resumable: bool):
        self.crm, self.context, self.resumable, self.calls = crm, context, resumable, 0

    def api_calls(self):
        return self.calls

    def extract(self, sink):
        table = "contacts"
        if self.resumable and sink.is_complete(table):
            return
        state = sink.resume_state(table) if self.resumable else None
        after = state["after"] if state else 0
        since = self.context.previous.since if self.context.previous else None
        while True:
            rows = self.crm.page(after, since)
            self.calls += 1
            if not rows:
                break
            sink.write(table, [dict(r) for r in rows])
            after = int(rows[-1]["id"])
            if self.resumable:
                sink.checkpoint(table, {"after": after})
        if self.context.previous is not None:
            deleted = [cid for cid, at in self.crm.deleted.items() if at >= since]
            self.calls += 1
            sink.carry_forward(table, self.context.previous, deleted)
        sink.complete(table)


def plugin_for(crm: FakeCrm, *, resumable=True, incremental=True):
    class Plugin:
        @hookimpl
        def crm_audit_register_connectors(self, register):
            register(ConnectorInfo(name="fake", factory=lambda options, context: FakeConnector(crm, context, resumable),
                                   resumable=resumable, incremental=incremental))

    return Plugin()


def run(*args):
    return CliRunner().invoke(main, ["run", "--connector", "fake", "--tenant", "acme", "--no-progress",
                                     "--check", "data.unreachable-contacts", *args], catch_exceptions=False)


def contacts_in(folder) -> list[str]:
    store = Store(folder / "snapshot.duckdb", read_only=True)
    try:
        return [r[0] for r in store.execute("SELECT id FROM canonical.contacts WHERE tenant = 'acme' ORDER BY id").fetchall()]
    finally:
        store.close()


def folders(out):
    return sorted(p for p in out.iterdir() if p.is_dir())


def test_interrupted_audit_resumes_from_its_checkpoint(tmp_path, crm_audit_plugin):
    crm = FakeCrm(1050)
    crm_audit_plugin(plugin_for(crm))
    crm.fail_at_page = 7
    out = tmp_path / "audits"
    first = run("--out", str(out))
    assert first.exit_code == 3 and "connection lost" in first.output
    [folder] = folders(out)
    assert json.loads((folder / "state.json").read_text())["status"] == "interrupted"
    report = json.loads((folder / "report.json").read_text())
    assert report["audit"]["tenants"][0]["partial_tables"] == ["contacts"]
    assert len(contacts_in(folder)) == 700  # pages 0-6 were committed with their checkpoints
    crm.pages_served.clear()
    second = run("--out", str(out), "--resume")
    assert second.exit_code == 0, second.output
    assert folders(out) == [folder]  # the same audit, continued
    ids = contacts_in(folder)
    assert len(ids) == len(set(ids)) == 1050  # no duplicate, no missing record
    assert crm.pages_served[0] == ("all", 7)  # continued where it stopped
    assert json.loads((folder / "state.json").read_text())["status"] == "complete"
    report = json.loads((folder / "report.json").read_text())
    assert report["audit"]["tenants"][0]["partial_tables"] == [] and report["audit"]["tenants"][0]["error"] is None


def test_a_connector_that_cannot_resume_reads_again(tmp_path, crm_audit_plugin):
    crm = FakeCrm(450)
    crm_audit_plugin(plugin_for(crm, resumable=False))
    crm.fail_at_page = 3
    out = tmp_path / "audits"
    assert run("--out", str(out)).exit_code == 3
    crm.pages_served.clear()
    assert run("--out", str(out), "--resume").exit_code == 0
    [folder] = folders(out)
    ids = contacts_in(folder)
    assert len(ids) == len(set(ids)) == 450 and crm.pages_served[0] == ("all", 0)


def test_resume_without_an_interrupted_audit_is_a_clear_error(tmp_path, crm_audit_plugin):
    crm_audit_plugin(plugin_for(FakeCrm(10)))
    result = run("--out", str(tmp_path / "audits"), "--resume")
    assert result.exit_code == 2 and "no interrupted audit to resume" in result.output


def test_incremental_audit_reads_changes_and_carries_the_rest(tmp_path, crm_audit_plugin):
    crm = FakeCrm(1000)
    crm_audit_plugin(plugin_for(crm))
    out = tmp_path / "audits"
    assert run("--out", str(out)).exit_code == 0
    full_pages = len(crm.pages_served)
    # changes in the CRM between the audits
    crm.touch("5", email=None)                 # modified: now unreachable
    crm.touch("6", phone="+62 812 0000 0006")
    crm.contacts["1001"] = {"id": "1001", "email": None, "phone": None, "updated_at": datetime.now(timezone.utc)}
    del crm.contacts["7"]
    crm.deleted["7"] = datetime.now(timezone.utc)
    crm.pages_served.clear()
    result = run("--out", str(out), "--incremental")
    assert result.exit_code == 0, result.output
    assert len(crm.pages_served) <= 2 < full_pages  # a page of changes (and the empty end) instead of eleven
    latest = folders(out)[-1]
    ids = contacts_in(latest)
    assert sorted(ids) == sorted(crm.contacts)  # deletion seen, addition and changes in
    report = json.loads((latest / "report.json").read_text())
    [unreachable] = [r for r in report["results"] if r["check_id"] == "data.unreachable-contacts"]
    assert unreachable["affected"]["ids"] == ["1001", "5"]
    assert any("incremental" in note for note in report["audit"]["tenants"][0]["notes"])


def test_rows_after_the_last_checkpoint_are_not_kept_on_failure(tmp_path):
    """They will be read again on resume; keeping them would duplicate them."""
    from crm_audit_core.extract import run_connector

    class TwoWritesPerCheckpoint:
        def api_calls(self):
            return 0

        def extract(self, sink):
            sink.write("contacts", [{"id": "1"}, {"id": "2"}])
            sink.checkpoint("contacts", {"after": 2})
            sink.write("contacts", [{"id": "3"}])  # buffered, not yet checkpointed
            raise ConnectorError("lost")

    store = Store(tmp_path / "s.duckdb")
    info = ConnectorInfo(name="x", factory=lambda o, c: TwoWritesPerCheckpoint(), resumable=True)
    outcome = run_connector(info, {}, "t", store, datetime.now(timezone.utc))
    assert outcome.partial_tables == ["contacts"]
    assert [r[0] for r in store.execute("SELECT id FROM canonical.contacts ORDER BY id").fetchall()] == ["1", "2"]
    assert store.checkpoint_of("t", "contacts") == {"after": 2}
    store.close()
