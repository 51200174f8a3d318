"""Pipedrive specifics of resumable and incremental audits, end to end through `crm-audit run`
against the sandbox: the pages read before a connection lost for good are committed and
never read again; a resume after the vendor cursor expired continues by keyset; an
audit cut by kill -9 reads no committed page again; --incremental reads only what changed
(every kind of deletion, notes from /recents) in a bounded number of calls. Losing nothing
on resume and incremental equals full are the acceptance suite's (test_acceptance.py)."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_audit_core.cli import main
from crm_audit_core.store import Store
from crm_audit_core.testing import option_args
from crm_audit_pipedrive.sandbox import start_sandbox


PAGE = 100
FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "rate_limit": 1000}
RECORD_TABLES = ("contacts", "companies", "deals", "activities")
ALL_TABLES = ("users", "stages", "fields", "activities", "companies", "contacts", "deals", "integrations", "platform")


@pytest.fixture(scope="module")
def big_tenant(make_tenant):
    return make_tenant(contacts=2000, companies=240, deals=510, activities=620, seed=11)


def cli_options(handle, **extra) -> list[str]:
    return option_args({**handle.options, **FAST, "page_limit": PAGE, **extra})


def run(handle, out: Path, *args, **extra):
    return CliRunner().invoke(main, ["run", "--connector", "pipedrive", "--tenant", "acme", "--no-progress",
                                     "--check", "data.unreachable-contacts", "--out", str(out),
                                     *cli_options(handle, **extra), *args], catch_exceptions=False)


def folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir())


def snapshot(folder: Path, table: str, columns: str = "id") -> list[tuple]:
    store = Store(folder / "snapshot.duckdb", read_only=True)
    try:
        return store.execute(f"SELECT {columns} FROM canonical.{table} WHERE tenant = 'acme' ORDER BY id").fetchall()
    finally:
        store.close()


def statuses(folder: Path) -> dict[str, str]:
    store = Store(folder / "snapshot.duckdb", read_only=True)
    try:
        return store.table_status("acme")
    finally:
        store.close()


def expected_ids(handle) -> dict[str, list[str]]:
    e = handle.app.data.entities
    return {
        "contacts": sorted(str(r["id"]) for r in e["persons"]),
        "companies": sorted(str(r["id"]) for r in e["organizations"]),
        "deals": sorted(str(r["id"]) for r in e["deals"]),
        "activities": sorted([str(r["id"]) for r in e["activities"]] + [f"note-{r['id']}" for r in e["notes"]]),
    }


def assert_complete_and_exact(folder: Path, handle) -> None:
    assert all(statuses(folder).get(t) == "complete" for t in ALL_TABLES), statuses(folder)
    for table, ids in expected_ids(handle).items():
        got = [r[0] for r in snapshot(folder, table)]
        assert len(got) == len(set(got)), f"duplicates in {table}"
        assert sorted(got) == ids, f"{table}: missing {set(ids) - set(got)}, extra {set(got) - set(ids)}"


def persons_requests(handle, since: int = 0) -> list[dict]:
    return [r for r in handle.requests[since:] if r["path"] == "/api/v2/persons" and r["status"] == 200]


# ---------------------------------------------------------------------------------
# resumable
# ---------------------------------------------------------------------------------


def test_connection_lost_for_good_mid_table_then_resume(tmp_path, big_tenant):
    handle = start_sandbox(big_tenant)
    try:
        pages = math.ceil(len(big_tenant["contacts"]) / PAGE)
        handle.inject("500", times=50, path_contains="/api/v2/persons", after=7)  # 8th persons page fails for good
        out = tmp_path / "audits"
        first = run(handle, out)
        assert first.exit_code == 3, first.output
        [folder] = folders(out)
        assert json.loads((folder / "state.json").read_text())["status"] == "interrupted"
        report = json.loads((folder / "report.json").read_text())
        assert "contacts" in report["audit"]["tenants"][0]["partial_tables"]
        assert len(snapshot(folder, "contacts")) == 7 * PAGE  # the committed pages, no more
        handle.app.faults.clear()
        mark = len(handle.requests)
        second = run(handle, out, "--resume")
        assert second.exit_code == 0, second.output
        assert folders(out) == [folder]
        assert_complete_and_exact(folder, handle)
        resumed = persons_requests(handle, mark)
        assert len(resumed) == pages - 7  # only the pages not committed
        assert "cursor" in resumed[0]["query"]  # continued where it stopped
        # tables completed by the first run were not read again
        again = {r["path"] for r in handle.requests[mark:]}
        assert "/api/v2/activities" not in again and "/api/v1/notes" not in again and "/api/v2/organizations" not in again
    finally:
        handle.stop()


def test_resume_after_the_vendor_cursor_expired_continues_by_keyset(tmp_path, big_tenant):
    handle = start_sandbox(big_tenant)
    try:
        pages = math.ceil(len(big_tenant["contacts"]) / PAGE)
        handle.inject("503", times=50, path_contains="/api/v2/persons", after=5)
        out = tmp_path / "audits"
        assert run(handle, out).exit_code == 3
        app = handle.app
        app.faults.clear()
        app.records.expire_cursors()  # every cursor handed out so far is refused now
        mark = len(handle.requests)
        assert run(handle, out, "--resume").exit_code == 0
        [folder] = folders(out)
        assert_complete_and_exact(folder, handle)
        persons = [r for r in handle.requests[mark:] if r["path"] == "/api/v2/persons"]
        assert persons[0]["status"] == 400  # the stale cursor ...
        assert "updated_since" in persons[1]["query"]  # ... then the keyset position
        # hand_tenant gives many persons the same update_time: a few pages of that time may be read again
        assert len(persons) - 1 < pages
    finally:
        handle.stop()


def _config(tmp_path: Path, handle, out: Path) -> Path:
    opts = {**handle.options, **FAST, "page_limit": PAGE, "rate_limit": 4, "rate_window": 0.4}
    lines = [f'[audit]\nout = "{out}"\n', "[tenants.acme]", 'connector = "pipedrive"']
    for key, value in opts.items():
        lines.append(f"{key} = {json.dumps(value)}")
    cfg = tmp_path / "crm-audit.toml"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def _cli(cfg: Path, *args) -> list[str]:
    return [sys.executable, "-m", "crm_audit_core.cli", "run", "-c", str(cfg), "--no-progress",
            "--check", "data.unreachable-contacts", *args]


def test_killed_process_resumes_without_rereading_committed_pages(tmp_path, big_tenant):
    handle = start_sandbox(big_tenant)
    try:
        out = tmp_path / "audits"
        cfg = _config(tmp_path, handle, out)
        env = {**os.environ, "COLUMNS": "200"}
        proc = subprocess.Popen(_cli(cfg), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        try:
            while len(persons_requests(handle)) < 6:  # mid-contacts
                assert proc.poll() is None, "the audit ended before it could be killed"
                assert time.monotonic() < deadline, "the audit never reached contacts"
                time.sleep(0.02)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        [folder] = folders(out)
        committed = len(snapshot(folder, "contacts"))
        assert committed % PAGE == 0 and committed >= 5 * PAGE
        mark = len(handle.requests)
        resumed = subprocess.run(_cli(cfg, "--resume"), capture_output=True, text=True, env=env, timeout=120)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert folders(out) == [folder]
        assert_complete_and_exact(folder, handle)
        pages = math.ceil(len(big_tenant["contacts"]) / PAGE)
        again = persons_requests(handle, mark)
        assert len(again) == pages - committed // PAGE  # no committed page read again
    finally:
        handle.stop()


# ---------------------------------------------------------------------------------
# incremental
# ---------------------------------------------------------------------------------

COMPARED = {
    "contacts": "id, first_name, last_name, email, phone, title, company_id, company_name, segments, owner_id, "
                "city, created_at, updated_at, last_activity_at",
    "companies": "id, name, domain, industry, phone, owner_id, city, country, created_at, updated_at",
    "deals": "id, name, amount, currency, pipeline, stage, is_closed, is_won, owner_id, contact_id, company_id, "
             "created_at, updated_at, last_activity_at",
    "activities": "id, type, subject, owner_id, contact_id, company_id, deal_id, due_at, is_done, completed_at, created_at",
}


def custom_values(folder: Path) -> list[tuple]:
    store = Store(folder / "snapshot.duckdb", read_only=True)
    try:
        return store.execute("SELECT object, record_id, field, value FROM canonical.custom_values "
                             "WHERE tenant = 'acme' ORDER BY ALL").fetchall()
    finally:
        store.close()


def mutate(app, n_updates=10, n_adds=5, n_deletes=3):
    persons = app.data.entities["persons"]
    for p in persons[:n_updates]:
        app.records.update("persons", p["id"], emails=[{"value": f"changed{p['id']}@example.org", "primary": True, "label": "work"}],
                   job_title="Changed")
    template = persons[-1]
    top = max(max(r["id"] for r in app.data.entities[e]) for e in ("persons", "organizations", "deals", "activities"))
    for i in range(n_adds):
        app.records.add("persons", dict(template, id=top + 1 + i, first_name=f"New{i}", name=f"New{i} Person"))
    for p in persons[n_updates:n_updates + n_deletes]:
        app.records.delete("persons", p["id"])
    app.records.update("deals", app.data.entities["deals"][0]["id"], title="Renamed deal", value=4242)
    app.records.delete("deals", app.data.entities["deals"][1]["id"])
    org = app.data.entities["organizations"][5]
    app.records.update("organizations", org["id"], owner_id=org["owner_id"], address=None)
    app.records.delete("activities", app.data.entities["activities"][3]["id"])
    app.records.update("activities", app.data.entities["activities"][4]["id"], subject="Rescheduled call")
    app.records.delete("notes", app.data.entities["notes"][0]["id"])
    app.records.update("notes", app.data.entities["notes"][1]["id"], content="Edited note")


def test_incremental_audit_reads_changes_and_equals_the_mutated_tenant(tmp_path, big_tenant):
    handle = start_sandbox(big_tenant)
    try:
        out = tmp_path / "audits"
        assert run(handle, out).exit_code == 0
        full_calls = len(handle.requests)
        mutate(handle.app)
        mark = len(handle.requests)
        second = run(handle, out, "--incremental")
        assert second.exit_code == 0, second.output
        incremental_calls = len(handle.requests) - mark
        # small tables in full (users, roles, pipelines, stages, 4 field lists, webhooks = 9),
        # the deleted-deals list and /recents (1 page each for < 100 changes), and one page
        # of changes per part of the record tables (activities, notes from recents, orgs, persons, deals),
        # and the leads (open and archived, read in full: they give persons and organizations their source),
        # and the permission sets (the list and the contents of each set users hold, read in full: issue 16)
        sets = 1 + len(handle.app.data.held_sets())
        assert incremental_calls <= 9 + 2 + 4 + 2 + sets, [(r["path"], r["query"]) for r in handle.requests[mark:]]
        leads = 2 + sets  # read in full by both audits
        assert full_calls - leads >= 3 * (incremental_calls - leads)
        incremental = folders(out)[-1]
        report = json.loads((incremental / "report.json").read_text())
        assert any("incremental" in n for n in report["audit"]["tenants"][0]["notes"])
        assert_complete_and_exact(incremental, handle)
        # the same tenant read in full: every mapped column and custom value agrees
        assert run(handle, out).exit_code == 0
        full = folders(out)[-1]
        for table, columns in COMPARED.items():
            assert snapshot(incremental, table, columns) == snapshot(full, table, columns), table
        assert custom_values(incremental) == custom_values(full)
        changed = dict(snapshot(incremental, "contacts", "id, email"))
        first = str(handle.app.data.entities["persons"][0]["id"])
        assert changed[first].startswith("changed")
    finally:
        handle.stop()
