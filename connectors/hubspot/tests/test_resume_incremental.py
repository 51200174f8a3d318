"""Resumable and incremental HubSpot audits, end to end through the CLI against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from crm_audit_core.cli import main
from crm_audit_core.store import Store
from crm_audit_hubspot.mapping import MAPPED_COLUMNS
from crm_audit_hubspot.sandbox import start_sandbox

FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "timeout": 5}
CHECK = "data.unreachable-contacts"
CONTACTS = 2000  # 20 list pages of 100, checkpointed every 1,000 (one association batch)
RECORD_PATHS = ("/crm/v3/objects/", "/crm/v4/associations/")


@pytest.fixture(scope="module")
def big_tenant(make_tenant):
    return make_tenant(contacts=CONTACTS, companies=60, deals=150, activities=300)


def cli(handle, out, *extra):
    options = [f"--option={k}={v}" for k, v in {**handle.options, **FAST}.items()]
    return CliRunner().invoke(main, ["run", "--connector", "hubspot", "--tenant", "acme", "--no-progress",
                                     "--check", CHECK, "--out", str(out), *options, *extra],
                              catch_exceptions=False)


def folders(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir())


def snapshot(folder: Path, table: str) -> list[dict]:
    store = Store(folder / "snapshot.duckdb", read_only=True)
    try:
        return store.table_rows("acme", table)
    finally:
        store.close()


def custom_values(folder: Path, table: str) -> dict[tuple[str, str], str | None]:
    store = Store(folder / "snapshot.duckdb", read_only=True)
    try:
        rows = store.execute("SELECT record_id, field, value FROM canonical.custom_values "
                             "WHERE tenant = 'acme' AND object = ?", [table]).fetchall()
    finally:
        store.close()
    return {(r[0], r[1]): r[2] for r in rows}


def contact_pages(requests) -> list[dict]:
    return [r for r in requests if r["method"] == "GET" and r["path"] == "/crm/v3/objects/contacts"
            and r["query"].get("archived", "").lower() != "true"]


def cursor_of(query: dict) -> str | None:
    return query.get("after")


def assert_complete_and_exact(folder: Path, tenant: dict) -> None:
    state = json.loads((folder / "state.json").read_text())
    assert state["status"] == "complete"
    report = json.loads((folder / "report.json").read_text())
    info = report["audit"]["tenants"][0]
    assert info["error"] is None and info["partial_tables"] == []
    for table in ("companies", "contacts", "deals", "activities"):
        ids = [r["id"] for r in snapshot(folder, table)]
        assert len(ids) == len(set(ids)), f"duplicates in {table}"
        assert set(ids) == {r["id"] for r in tenant[table]}, table


# ---------------------------------------------------------------------------- resumable


def _write_toml(path: Path, handle, out: Path) -> Path:
    lines = ["[audit]", f'out = "{out.as_posix()}"', f'select = ["{CHECK}"]', "", "[tenants.acme]",
             'connector = "hubspot"']
    for key, value in {**handle.options, **FAST}.items():
        lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _crm_audit(*args) -> list[str]:
    exe = Path(sys.executable).with_name("crm-audit")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "crm_audit_core.cli", *args]


def test_killed_audit_resumes_without_rereading_committed_pages(tmp_path, big_tenant):
    out = tmp_path / "audits"
    env = {**os.environ, "COLUMNS": "200"}
    with start_sandbox(big_tenant, slow_seconds=0.1) as handle:
        config = _write_toml(tmp_path / "crm-audit.toml", handle, out)
        handle.inject("slow", times=10_000, path_contains="/crm/v3/objects/contacts", method="GET")
        process = subprocess.Popen(_crm_audit("run", "-c", str(config), "--no-progress"), env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 40
        try:
            while time.monotonic() < deadline:
                served = [r for r in contact_pages(handle.requests) if r["status"] == 200]
                if len(served) >= 13:  # past the first checkpoint (page 10), mid-table
                    break
                assert process.poll() is None, process.stderr.read().decode()
                time.sleep(0.01)
            else:
                pytest.fail("the audit never reached contacts page 13")
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(10)
            process.stderr.close()
        assert process.returncode == -signal.SIGKILL
        [folder] = folders(out)
        assert json.loads((folder / "state.json").read_text())["status"] == "extracting"
        first_pages = contact_pages(handle.requests)
        handle.requests.clear()
        handle.app.faults.clear()

        resumed = subprocess.run(_crm_audit("run", "-c", str(config), "--resume", "--no-progress"), env=env,
                                 capture_output=True, text=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr
        assert folders(out) == [folder]
        pages = contact_pages(handle.requests)
        # the checkpoint after page 10 holds: the resumed run starts at page 11
        assert cursor_of(pages[0]["query"]) == cursor_of(first_pages[10]["query"])
        assert len(pages) == CONTACTS // 100 - 10
        committed = {cursor_of(r["query"]) for r in first_pages[:10]}
        assert not committed & {cursor_of(r["query"]) for r in pages}
    assert_complete_and_exact(folder, big_tenant)


# ---------------------------------------------------------------------------- incremental


def norm(value):
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(value.timestamp())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def mutate(handle, tenant: dict) -> dict:
    """10 updates, 5 additions and 3 deletions of contacts, and a few changes elsewhere."""
    put, delete = handle.put_record, handle.delete_record
    contacts = tenant["contacts"]
    referenced = {r.get("contact_id") for t in ("deals", "activities") for r in tenant[t]}
    changed = {"contacts": set(), "companies": set(), "deals": set(), "activities": set()}
    for i, row in enumerate(contacts[100:1900:180]):  # 10 spread over the id range
        row.update(email=None if i % 2 else f"changed{i}@example.com", city="Bandung",
                   company_id=tenant["companies"][i]["id"], company_name=tenant["companies"][i]["name"],
                   favourite_colour="green")
        put("contacts", row)
        changed["contacts"].add(row["id"])
    next_id = 90_000_000
    for i in range(5):
        row = dict(contacts[i], id=str(next_id + i), email=f"new{i}@example.com", first_name=f"New{i}",
                   created_at=datetime.now(timezone.utc), favourite_colour="red")
        contacts.append(row)
        put("contacts", row)
        changed["contacts"].add(row["id"])
    gone = [r for r in contacts[200:1800] if r["id"] not in referenced][:3]
    for row in gone:
        delete("contacts", row["id"])
        contacts.remove(row)
    company = tenant["companies"][3]
    company.update(name="Renamed Company", tier="platinum")
    put("companies", company)
    deal = tenant["deals"][7]
    deal.update(stage="closedwon", is_closed=True, is_won=True, amount=123456.0)
    put("deals", deal)
    lost = next(d for d in tenant["deals"] if d["id"] not in {a.get("deal_id") for a in tenant["activities"]})
    delete("deals", lost["id"])
    tenant["deals"].remove(lost)
    # a company some contacts, deals and activities point to: those rows are not modified in
    # HubSpot (only their association goes), so the connector must read them again
    company = tenant["companies"][5]
    delete("companies", company["id"])
    tenant["companies"].remove(company)
    relinked = 0
    for table in ("contacts", "deals", "activities"):
        for row in tenant[table]:
            if row.get("company_id") == company["id"]:
                row["company_id"] = None
                relinked += 1
    assert relinked > 10
    activity = dict(tenant["activities"][0], id=str(next_id + 100), subject="follow-up call",
                    created_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    tenant["activities"].append(activity)
    put("activities", activity)
    return {"changed": changed, "deleted": [r["id"] for r in gone] + [lost["id"], company["id"]],
            "relinked": relinked}


def test_incremental_audit_reads_only_changes_and_matches_the_tenant(tmp_path, make_tenant):
    tenant = make_tenant(contacts=CONTACTS, companies=60, deals=150, activities=300)
    out = tmp_path / "audits"
    with start_sandbox(tenant) as handle:
        assert cli(handle, out).exit_code == 0
        full_calls = len(handle.requests)
        small_calls = sum(1 for r in handle.requests if not r["path"].startswith(RECORD_PATHS))
        handle.requests.clear()
        changes = mutate(handle, tenant)
        result = cli(handle, out, "--incremental")
        assert result.exit_code == 0, result.output
        calls = list(handle.requests)
    latest = folders(out)[-1]
    report = json.loads((latest / "report.json").read_text())
    info = report["audit"]["tenants"][0]
    assert info["error"] is None and info["partial_tables"] == []
    assert any(n.startswith("incremental:") for n in info["notes"])

    # the snapshot equals the mutated tenant on every mapped column
    for table in ("companies", "contacts", "deals", "activities"):
        got = {r["id"]: r for r in snapshot(latest, table)}
        expected = {r["id"]: r for r in tenant[table]}
        assert len(got) == len(snapshot(latest, table))
        assert set(got) == set(expected), table
        for rid, row in expected.items():
            for column in MAPPED_COLUMNS[table]:
                if column in row:
                    assert norm(got[rid][column]) == norm(row[column]), (table, rid, column)
    assert not set(changes["deleted"]) & {r["id"] for r in snapshot(latest, "contacts")}
    colours = custom_values(latest, "contacts")
    for row in tenant["contacts"]:  # carried rows keep their custom values; changed ones have the new ones
        assert colours.get((row["id"], "favourite_colour")) == row.get("favourite_colour"), row["id"]

    # calls grow with the changes, not with the tenant
    searches = [r for r in calls if r["path"].startswith("/crm/v3/objects/") and r["path"].endswith("/search")]
    archived = [r for r in calls
                if r["query"].get("archived", "").lower() == "true" and r["path"].startswith("/crm/v3/objects/")]
    lists = [r for r in calls if r["method"] == "GET" and r["path"].startswith("/crm/v3/objects/")
             and r["query"].get("archived", "").lower() != "true"]
    assert not lists  # no full list of any record table
    object_types = 9  # contacts, companies, deals + six engagement types
    assert len(searches) == object_types  # each: one page of changes (< 200)
    assert len(archived) == object_types  # each: one page of deletions (< 100)
    association_calls = sum(1 for r in calls if r["path"].startswith("/crm/v4/associations/"))
    # one batch per association pair of each changed object type: contacts 1, deals 2, one engagement type 3
    assert association_calls <= 2 * (1 + 2 + 3 * 6)  # changes and relinked rows, one batch per pair
    batch_reads = [r for r in calls if r["path"].endswith("/batch/read") and r["path"].startswith("/crm/v3/")]
    assert 2 <= len(batch_reads) <= 3 + 6  # the rows linked to the deleted company: contacts, engagements
    incremental_calls = len(calls)
    assert incremental_calls == small_calls + len(searches) + len(archived) + len(batch_reads) + association_calls
    # record tables: 20 contact pages + 2 companies + 2 deals + 6 engagement lists + associations in the
    # full audit; a search and an archive page per object type (+ associations of the changes) now
    full_record_calls = full_calls - small_calls
    incremental_record_calls = incremental_calls - small_calls
    assert incremental_record_calls <= 2 * object_types + len(batch_reads) + association_calls
    assert incremental_record_calls * 1.5 < full_record_calls, (incremental_record_calls, full_record_calls)


# ---------------------------------------------------------------------------- connector level


class ResumingSink:
    """A MemorySink that says an earlier run completed some tables and checkpointed others."""

    def __new__(cls, done=(), states=None):
        from crm_audit_core.extract import MemorySink

        class _Sink(MemorySink):
            def is_complete(self, table):
                return table in done

            def resume_state(self, table):
                return (states or {}).get(table)

        return _Sink("t")


def test_activities_resume_at_their_sub_source(tenant):
    from crm_audit_hubspot.connector import HubSpotConnector

    done = ("users", "login_events", "stages", "fields", "companies", "contacts", "deals")
    sink = ResumingSink(done, {"activities": {"source": "meetings", "position": {"after": None, "done": True},
                                              "meta": {"mode": "full"}}})
    with start_sandbox(tenant) as handle:
        HubSpotConnector({**handle.options, **FAST}, None).extract(sink)
        listed = {r["path"].rsplit("/", 1)[1] for r in handle.requests
                  if r["method"] == "GET" and r["path"].startswith("/crm/v3/objects/")}
    assert listed == {"notes", "tasks", "communications"}  # calls, emails, meetings were committed
    assert {r["type"] for r in sink.rows["activities"]} == {"note", "task", "sms"}
    assert not sink.rows["contacts"] and "fields" not in sink.rows  # complete tables are not written again
    assert sink.checkpoints["activities"][-1] == {"source": "<end>", "position": None, "meta": {"mode": "full"}}


def test_incremental_pages_past_the_search_cap_by_keyset(make_tenant, monkeypatch):
    from crm_audit_core.connector import ExtractContext, PreviousSnapshot
    from crm_audit_core.extract import MemorySink
    from crm_audit_hubspot.sandbox import app as sandbox_app
    from crm_audit_hubspot.connector import HubSpotConnector

    monkeypatch.setattr(sandbox_app, "SEARCH_CAP", 250)  # HubSpot's is 10,000; same mechanism
    tenant = make_tenant(contacts=700, companies=10, deals=5, activities=12)
    with start_sandbox(tenant) as handle:
        since = datetime.now(timezone.utc) - timedelta(minutes=5)
        for row in tenant["contacts"][:450]:
            handle.put_record("contacts", row)
        previous = PreviousSnapshot(audit_id="a", path=Path("unused"), since=since, records={})
        context = ExtractContext(tenant="t", as_of=since, previous=previous)
        sink = MemorySink("t")
        HubSpotConnector({**handle.options, **FAST}, context).extract(sink)
        searches = [r for r in handle.requests if r["path"] == "/crm/v3/objects/contacts/search"]
    assert sorted(r["id"] for r in sink.rows["contacts"]) == sorted(r["id"] for r in tenant["contacts"][:450])
    assert len(searches) == 3  # 200 + 200 + 50, each a fresh query after the last id
    assert [c[0] for c in sink.carried] == ["companies", "contacts", "deals", "activities"]
    positions = [c["position"] for c in sink.checkpoints["contacts"] if c["source"] == "contacts"]
    assert positions[-1] == {"after_id": tenant["contacts"][449]["id"], "done": True}


def test_relinking_resumes_after_its_last_chunk(tmp_path, make_tenant, monkeypatch):
    """Rows linked to a deleted company are re-read in checkpointed chunks, resumable too."""
    from crm_audit_core.connector import ExtractContext, PreviousSnapshot
    from crm_audit_core.extract import MemorySink
    from crm_audit_hubspot import records
    from crm_audit_hubspot.connector import HubSpotConnector

    monkeypatch.setattr(records, "ASSOCIATION_BATCH", 5)  # chunks of 5 relinked rows
    tenant = make_tenant(contacts=300, companies=4, deals=5, activities=12)
    out = tmp_path / "audits"
    with start_sandbox(tenant) as handle:
        assert cli(handle, out).exit_code == 0
        [folder] = folders(out)
        company = tenant["companies"][1]
        linked = sorted((c["id"] for c in tenant["contacts"] if c["company_id"] == company["id"]), key=int)
        assert len(linked) > 20
        handle.delete_record("companies", company["id"])
        previous = PreviousSnapshot(audit_id="a", path=folder / "snapshot.duckdb",
                                    since=datetime.now(timezone.utc) - timedelta(minutes=5),
                                    records={"companies": 4, "contacts": 300, "deals": 5, "activities": 12})
        context = ExtractContext(tenant="acme", as_of=previous.since, previous=previous)
        states = {"contacts": {"source": "<end>", "position": None,
                               "meta": {"mode": "since", "relink_at": ["contacts", linked[9]]}}}
        sink = ResumingSink((), states)
        handle.requests.clear()
        HubSpotConnector({**handle.options, **FAST}, context).extract(sink)
    got = sorted((r["id"] for r in sink.rows["contacts"]), key=int)
    assert got == linked[10:]  # the first two chunks were committed before the interruption
    assert all(r["company_id"] is None for r in sink.rows["contacts"])
    assert sink.checkpoints["contacts"][-1]["meta"]["relinked"] is True
    assert [c for c in sink.carried if c[0] == "contacts"][0][2] == []  # no contact deleted
    assert [c for c in sink.carried if c[0] == "companies"][0][2] == [company["id"]]
