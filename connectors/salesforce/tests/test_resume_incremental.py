"""Resumable and incremental audits against the Salesforce sandbox, through the CLI.

* the process killed (``kill -9``) mid-table: ``--resume`` completes it at the last
  checkpoint (keyset ``Id > last``), reading none of the committed pages again;
* a Bulk read interrupted between result pages continues the same job at its locator;
* ``--incremental`` after changes in the org reads what changed (SystemModstamp),
  getDeleted for deletions, and carries the rest forward.

The generic cases (a run failing mid-way then ``--resume``, incremental equals full) are
the acceptance suite's (test_acceptance.py).

Each checks: every table complete, no duplicate and no missing id, and the resumed run
did not read again the pages already committed (the sandbox's request log counts the
records each page served).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from crm_audit_core.cli import main
from crm_audit_core.connector import ExtractContext
from crm_audit_core.extract import MemorySink
from crm_audit_core.sandbox import generate_tenant
from crm_audit_core.store import Store

from crm_audit_salesforce import mapping as m
from crm_audit_salesforce.connector import SalesforceConnector
from crm_audit_salesforce.sandbox import start_sandbox
from sf_testkit import FAST, actual_rows

UTC = timezone.utc
CHECK = "data.unreachable-contacts"
RECORD_TABLES = ("companies", "contacts", "deals", "activities")


@pytest.fixture(scope="module")
def tenant():
    # timestamps up to yesterday: the incremental window (since the first audit) holds only the changes
    return generate_tenant(contacts=2000, seed=5, as_of=datetime.now(UTC) - timedelta(days=1))


def write_config(tmp_path, handle, **options):
    lines = ["[tenants.acme]", 'connector = "salesforce"']
    values = {**handle.options, **FAST, "retry_attempts": 3, **options}
    for key, value in values.items():
        lines.append(f"{key} = {json.dumps(value)}")
    path = tmp_path / "crm-audit.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(config, out, *args):
    return CliRunner().invoke(main, ["run", "-c", str(config), "--out", str(out), "--no-progress",
                                     "--check", CHECK, *args], catch_exceptions=False)


def ids_in(folder, table: str) -> list[str]:
    store = Store(folder / "snapshot.duckdb", read_only=True)
    try:
        return [r[0] for r in store.execute(f"SELECT id FROM canonical.{table} WHERE tenant = 'acme'").fetchall()]
    finally:
        store.close()


def served(requests, sobject: str) -> int:
    """Records of ``sobject`` the sandbox served (query, queryMore and Bulk result pages)."""
    return sum(r.get("records", 0) for r in requests if r.get("object") == sobject and r["status"] == 200)


def expected_ids(handle, tenant, table: str) -> set[str]:
    ids = handle.extra["ids"]
    return {ids[str(r["id"])] for r in tenant.rows(table)}


def folder_of(out):
    [folder] = [p for p in out.iterdir() if p.is_dir()]
    return folder


def assert_complete(folder, handle, tenant):
    state = json.loads((folder / "state.json").read_text())
    assert state["status"] == "complete"
    info = json.loads((folder / "report.json").read_text())["audit"]["tenants"][0]
    assert info["error"] is None and info["partial_tables"] == []
    for table in RECORD_TABLES + ("users", "login_events"):
        got = ids_in(folder, table)
        assert len(got) == len(set(got)), f"{table}: duplicates"
        if table in ("contacts", "companies", "deals", "users"):
            assert set(got) == expected_ids(handle, tenant, table), f"{table}: ids differ"


def test_killed_mid_table_then_resume(tmp_path, tenant):
    # the sandbox answers Contact pages slowly, so the audit is surely killed mid-table
    handle = start_sandbox(tenant, slow_seconds=0.25)
    try:
        config = write_config(tmp_path, handle, batch_size=200, timeout=10)
        out = tmp_path / "audits"
        handle.inject("slow", times=10_000, match=handle.app.reads("Contact"))
        command = [sys.executable, "-m", "crm_audit_core.cli", "run", "-c", str(config), "--out", str(out),
                   "--no-progress", "--check", CHECK]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            deadline = time.monotonic() + 40
            while sum(1 for r in list(handle.requests) if r.get("object") == "Contact") < 4:
                assert process.poll() is None, "the audit ended before it was killed"
                assert time.monotonic() < deadline, "the audit never reached the Contact pages"
                time.sleep(0.02)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
        handle.app.faults.clear()
        folder = folder_of(out)
        assert json.loads((folder / "state.json").read_text())["status"] == "extracting"
        committed = len(ids_in(folder, "contacts"))
        assert committed % 200 == 0 and committed >= 600
        mark = len(handle.requests)
        result = subprocess.run(command + ["--resume"], capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert_complete(folder, handle, tenant)
        contacts = sum(1 for r in tenant.rows("contacts") if r.get("lifecycle_stage") != "lead")
        assert served(handle.requests[mark:], "Contact") == contacts - committed
    finally:
        handle.stop()


def full_read(handle) -> MemorySink:
    sink = MemorySink("acme")
    SalesforceConnector({**handle.options, **FAST}, ExtractContext(tenant="acme", as_of=datetime.now(UTC))).extract(sink)
    return sink


def snapshot_rows(folder, table: str) -> list[dict]:
    store = Store(folder / "snapshot.duckdb", read_only=True)
    try:
        return store.table_rows("acme", table)
    finally:
        store.close()


def test_incremental_audit_reads_the_changes_and_carries_the_rest(tmp_path, tenant):
    handle = start_sandbox(tenant)
    app = handle.app
    try:
        config = write_config(tmp_path, handle, batch_size=200)
        out = tmp_path / "audits"
        first = run_cli(config, out)
        assert first.exit_code == 0, first.output
        full_calls = json.loads((sorted(out.iterdir())[-1] / "report.json").read_text())["audit"]["tenants"][0]["api_calls"]

        # the org changes: 10 updates, 5 additions, 3 deletions of contacts, plus a
        # converted lead, a deal update, a deleted task and an account rename
        org = handle.extra["org"]
        contacts = [r["Id"] for r in org.records["Contact"]]
        for i, sf_id in enumerate(contacts[:10]):
            app.changes.update_sobject(sf_id, Email=None if i % 2 else f"changed{i}@example.org", Title="Changed")
        account = org.records["Account"][0]["Id"]
        added = [app.changes.add_sobject("Contact", FirstName="New", LastName=f"Person {i}", Email=f"new{i}@example.org",
                                AccountId=account, IsEmailBounced=False) for i in range(5)]
        deleted = [app.changes.delete_sobject(sf_id) for sf_id in contacts[20:23]]
        lead = org.records["Lead"][0]["Id"]
        app.changes.update_sobject(lead, IsConverted=True)
        deal = org.records["Opportunity"][0]["Id"]
        app.changes.update_sobject(deal, Amount=123456.0)
        task = app.changes.delete_sobject(org.records["Task"][0]["Id"])
        app.changes.update_sobject(account, Name="Renamed Account")

        mark = len(handle.requests)
        second = run_cli(config, out, "--incremental")
        assert second.exit_code == 0, second.output
        latest = sorted(p for p in out.iterdir() if p.is_dir())[-1]
        report = json.loads((latest / "report.json").read_text())
        info = report["audit"]["tenants"][0]
        assert info["partial_tables"] == [] and info["error"] is None
        assert any("incremental" in n for n in info["notes"])
        incremental_calls = info["api_calls"]
        reads = list(handle.requests[mark:])

        # the snapshot equals a full read of the changed org on every mapped column
        truth = full_read(handle)
        for table in RECORD_TABLES:
            want = actual_rows(truth.rows[table], table, {})
            got = actual_rows(snapshot_rows(latest, table), table, {})
            assert set(got) == set(want), f"{table}: ids differ"
            diffs = [(k, c) for k in want for c in want[k] if want[k][c] != got[k][c]]
            assert not diffs, f"{table}: {diffs[:5]}"
        ids = set(ids_in(latest, "contacts"))
        assert set(added) <= ids and not (set(deleted) | {lead}) & ids
        assert task not in set(ids_in(latest, "activities"))

        # calls grow with the changes, not the tenant: one page per changed object, one
        # getDeleted per object, and the small tables (read in full) as before
        changed = set(contacts[:10]) | set(added)
        of_account = sum(1 for r in org.records["Contact"] if r.get("AccountId") == account and r["Id"] not in changed)
        # the changed contacts, and those of the renamed account (company_name)
        assert served(reads, "Contact") == 10 + 5 + of_account and served(reads, "Account") == 1
        assert served(reads, "Opportunity") == 1 and served(reads, "Task") == 0
        record_pages_full = sum(-(-n // 200) for n in (len(org.records[o]) for o in
                                                        ("Account", "Contact", "Lead", "Opportunity", "Task", "Event")))
        assert record_pages_full >= 25
        getdeleted = [r for r in reads if r["path"].rstrip("/").endswith("/deleted")]
        assert len(getdeleted) == 6  # Account, Contact, Lead, Opportunity, Task, Event
        record_calls = sum(1 for r in reads if r.get("object") in ("Account", "Contact", "Lead", "Opportunity",
                                                                   "Task", "Event"))
        assert record_calls <= 10  # one query per source (+ the converted-lead query)
        assert incremental_calls <= full_calls - record_pages_full + record_calls + len(getdeleted)
        # the record tables: 14 calls instead of one per page (~38 at 200 records a page); the
        # rest (users, login history, describes, stages, campaigns) is read in full both times
        assert record_calls + len(getdeleted) < record_pages_full / 2
        assert incremental_calls < full_calls, (full_calls, incremental_calls)
    finally:
        handle.stop()


def test_incremental_without_a_delete_log_compares_ids(tmp_path, tenant):
    """The Recycle Bin was emptied: getDeleted cannot cover the window, so deletions are
    found by reading all ids (a note says so) -- still exact."""
    handle = start_sandbox(tenant)
    app = handle.app
    try:
        config = write_config(tmp_path, handle)
        out = tmp_path / "audits"
        assert run_cli(config, out).exit_code == 0
        gone = app.changes.delete_sobject(handle.extra["org"].records["Contact"][5]["Id"])
        app.changes.purge_delete_log()
        result = run_cli(config, out, "--incremental")
        assert result.exit_code == 0, result.output
        latest = sorted(p for p in out.iterdir() if p.is_dir())[-1]
        info = json.loads((latest / "report.json").read_text())["audit"]["tenants"][0]
        assert any("comparing all ids" in n for n in info["notes"])
        ids = ids_in(latest, "contacts")
        assert gone not in ids and len(ids) == len(set(ids)) == len(expected_ids(handle, tenant, "contacts")) - 1
    finally:
        handle.stop()


def test_bulk_read_resumes_from_its_job_locator(tmp_path, tenant):
    """A Bulk 2.0 read interrupted between result pages continues the same job at the saved locator."""
    handle = start_sandbox(tenant)
    try:
        config = write_config(tmp_path, handle, bulk_threshold=100, bulk_page_size=300)
        out = tmp_path / "audits"
        handle.inject("500", times=50, path_contains="/results", match=handle.app.reads("Contact"), after=2)
        assert run_cli(config, out).exit_code == 3
        folder = folder_of(out)
        assert len(ids_in(folder, "contacts")) == 600
        handle.app.faults.clear()
        mark = len(handle.requests)
        assert run_cli(config, out, "--resume").exit_code == 0
        assert_complete(folder, handle, tenant)
        resumed = handle.requests[mark:]
        assert not [r for r in resumed if r["method"] == "POST" and "FROM Contact" in (r.get("soql") or "")]
        contacts = sum(1 for r in tenant.rows("contacts") if r.get("lifecycle_stage") != "lead")
        assert served([r for r in resumed if r["path"].endswith("/results")], "Contact") == contacts - 600
    finally:
        handle.stop()
