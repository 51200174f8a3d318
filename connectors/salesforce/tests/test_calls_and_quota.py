"""API calls equal the minimum (REST and Bulk objects in one org), stale record counts
still read everything, and a spent daily allowance fails fast (issue #9, docs/connectors/salesforce.md).

The minimum is computed here from the sandbox's own records, independently of the
connector: each object read needs ceil(n / batch) REST calls, or, above the Bulk
threshold, one job, one status poll and ceil(n / page) result pages; the one-off calls
are the versions list, ``limits/recordCount`` and the six describes.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys

import pytest

from crm_audit_core.errors import BudgetExhausted
from crm_audit_core.testing import option_args

from crm_audit_salesforce.sandbox import parse_soql, run_soql, start_sandbox
from sf_testkit import FAST, differences, make_tenant, run, stage_calls

THRESHOLD, BATCH, PAGE = 450, 200, 250  # a Bulk page holds more than a REST batch, as in Salesforce
OPTIONS = {"bulk_threshold": THRESHOLD, "batch_size": BATCH, "bulk_page_size": PAGE}


@pytest.fixture(scope="module")
def big():
    # Contact (640) and Task (~670) over the threshold; Account, Lead, Opportunity (2 batches), Event under it
    return make_tenant(contacts=800, custom_contact_fields=1, seed=11)


def _object(soql: str | None) -> str | None:
    found = re.search(r"\bFROM\s+(\w+)", soql or "", re.I)
    return found[1] if found else None


def minimum(handle) -> tuple[int, dict[str, str]]:
    """The fewest calls for what the connector read, and REST/Bulk per object."""
    org = handle.extra["org"]
    first_query: dict[str, str] = {}
    for r in handle.requests:
        name = _object(r.get("soql"))
        if name and name not in first_query and "COUNT()" not in r["soql"]:
            first_query[name] = re.sub(r" AND Id > '\w+'|Id > '\w+' AND ", "", r["soql"])
    # versions, recordCount, describes of 6 objects, stages per pipeline
    calls, how = 1 + 1 + 6 + stage_calls(org), {}
    for name, soql in first_query.items():
        n = len(run_soql(org, parse_soql(soql.split(" ORDER BY ")[0], org)))
        if n > THRESHOLD:
            calls += 2 + max(1, math.ceil(n / PAGE))
            how[name] = "bulk"
        else:
            calls += max(1, math.ceil(n / BATCH))
            how[name] = "rest"
    return calls, how


def rest_queries(handle, sobject: str) -> list[dict]:
    return [r for r in handle.requests if r["method"] == "GET" and r.get("object") == sobject
            and "/jobs/" not in r["path"]]


def test_calls_equal_the_minimum_with_rest_and_bulk_objects(big):
    handle = start_sandbox(big)
    try:
        connector, sink = run(handle, **OPTIONS)
        for table in ("companies", "contacts", "deals", "activities", "users", "login_events"):
            assert not differences(big, sink.rows, table, handle.extra["ids"], handle.extra["stage_keys"]), table
        want, how = minimum(handle)
        assert how["Contact"] == how["Task"] == "bulk" and how["Opportunity"] == how["Account"] == "rest"
        assert len(handle.requests) == connector.api_calls() == want
        # the Bulk objects never cost a REST batch: the record count chose Bulk up front
        assert not rest_queries(handle, "Contact") and not rest_queries(handle, "Task")
        assert len(rest_queries(handle, "Opportunity")) == 2
        assert sum(1 for r in handle.requests if "limits/recordCount" in r["path"]) == 1
        assert not [r for r in handle.requests if r["path"].rstrip("/").endswith("/limits")]
    finally:
        handle.stop()


def test_stale_counts_still_read_every_record(big):
    """Contact counted small but big, Account counted big but small, a Task added since the
    counts were taken: all read exactly once; the small-counted big object keeps its first
    REST batch and reads the rest in Bulk after that batch's last Id."""
    handle = start_sandbox(big, record_counts={"Contact": 5, "Account": 1_000_000, "Task": 3})
    try:
        app = handle.app
        added = app.changes.add_sobject("Contact", LastName="Added after the count", Email="late@example.com")
        _, sink = run(handle, **OPTIONS)
        ids = handle.extra["ids"]
        for table in ("companies", "deals", "activities"):
            assert not differences(big, sink.rows, table, ids, handle.extra["stage_keys"]), table
        got = [r["id"] for r in sink.rows["contacts"]]
        assert len(got) == len(set(got))
        assert set(got) == {ids[str(r["id"])] for r in big["contacts"]} | {added}
        [batch] = rest_queries(handle, "Contact")
        assert batch["records"] == BATCH
        job = next(r for r in handle.requests if r["method"] == "POST" and _object(r.get("soql")) == "Contact")
        assert "Id > '" in job["soql"]
        # Account: a Bulk job although small; Task: REST first, then Bulk for the rest
        assert any(r["method"] == "POST" and _object(r.get("soql")) == "Account" for r in handle.requests)
        assert len(rest_queries(handle, "Task")) == 1
        # the price of the wrong counts, and only that: Account's job, poll and page instead
        # of one REST batch; Contact and Task a REST batch, then Bulk for the rest
        want, _ = minimum(handle)
        org = handle.extra["org"]
        n = {name: len(org.records[name]) for name in ("Contact", "Task")}
        extra = 2 + sum(1 + 2 + math.ceil((k - BATCH) / PAGE) - (2 + math.ceil(k / PAGE)) for k in n.values())
        assert len(handle.requests) == want + extra
    finally:
        handle.stop()


def test_without_record_counts_reads_switch_to_bulk_keeping_the_first_batch(big):
    handle = start_sandbox(big, record_count_access=False)
    try:
        _, sink = run(handle, **OPTIONS)
        assert any("record counts" in n for n in sink.notes)
        ids = handle.extra["ids"]
        for table in ("contacts", "activities"):
            assert not differences(big, sink.rows, table, ids, handle.extra["stage_keys"]), table
        # each big object: one REST batch kept, then Bulk for the rest (no record read twice)
        served = sum(r.get("records", 0) for r in handle.requests if r.get("object") == "Contact")
        assert served == sum(1 for c in big["contacts"] if c["lifecycle_stage"] != "lead")
    finally:
        handle.stop()


def test_stale_count_read_resumes_after_the_kept_batch(big, tmp_path):
    """Interrupted in the Bulk part of a small-counted big object, --resume continues the
    same job at its locator: every contact once, none read twice."""
    from test_resume_incremental import folder_of, ids_in, run_cli, served, write_config

    handle = start_sandbox(big, record_counts={"Contact": 5})
    try:
        config = write_config(tmp_path, handle, **OPTIONS)
        out = tmp_path / "audits"
        handle.inject("500", times=50, path_contains="/results", match=handle.app.reads("Contact"), after=1)
        assert run_cli(config, out).exit_code == 3
        folder = folder_of(out)
        assert len(ids_in(folder, "contacts")) == BATCH + PAGE  # the kept REST batch and one Bulk page
        handle.app.faults.clear()
        mark = len(handle.requests)
        assert run_cli(config, out, "--resume").exit_code == 0
        got = ids_in(folder, "contacts")
        ids = handle.extra["ids"]
        assert len(got) == len(set(got)) and set(got) == {ids[str(r["id"])] for r in big["contacts"]}
        resumed = handle.requests[mark:]
        assert not [r for r in resumed if r["method"] == "POST" and _object(r.get("soql")) == "Contact"]
        contacts = sum(1 for c in big["contacts"] if c["lifecycle_stage"] != "lead")
        assert served(resumed, "Contact") == contacts - BATCH - PAGE
    finally:
        handle.stop()


# ---------------------------------------------------------------- the daily allowance


@pytest.mark.parametrize("limit_info", [True, False], ids=["with-usage-header", "message-only"])
def test_spent_daily_allowance_fails_fast_without_retries(tenant, limit_info):
    handle = start_sandbox(tenant, daily_limit=100_000, daily_used=50_000, limit_info_on_refusal=limit_info)
    try:
        app = handle.app
        app.spend_daily_allowance(after=5)  # other integrations spend the rest mid-run
        with pytest.raises(BudgetExhausted) as info:
            run(handle, retry_attempts=6)
        text = str(info.value)
        assert "\n" not in text and "daily API request limit is used up" in text
        assert "rolling 24-hour window" in text
        # the usage when Salesforce sends it; else its own words
        assert ("100,000 of 100,000" if limit_info else "TotalRequests Limit exceeded") in text
        refused = [i for i, r in enumerate(handle.requests) if r["status"] == 403]
        assert refused == [len(handle.requests) - 1]  # one refusal, the last request: never retried
    finally:
        handle.stop()


def test_concurrent_request_limit_is_still_retried(tenant):
    handle = start_sandbox(tenant)
    try:
        handle.inject("429", times=3, path_contains="/query")
        _, sink = run(handle)
        assert "contacts" in sink.completed and "activities" in sink.completed
        assert sum(1 for r in handle.requests if r["status"] == 403) == 3
    finally:
        handle.stop()


def test_cli_spent_daily_allowance_is_one_line_and_exit_3(tenant, tmp_path):
    handle = start_sandbox(tenant, daily_limit=15_000, daily_used=15_000)
    try:
        options = {**handle.options, **FAST}
        args = [sys.executable, "-m", "crm_audit_core.cli", "run", "--connector", "salesforce", "--tenant", "acme",
                "--out", str(tmp_path), "--as-of", "2026-12-31", "--no-progress"]
        args += option_args(options)
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert proc.returncode == 3, proc.stderr[-2000:]
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert errors and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        # the connector's line (then the CLI's own "connector failure: ... partial" line)
        [line] = [e for e in errors if "daily API request limit" in e]
        assert "used up" in line and "15,000 of 15,000" in line and "rolling 24-hour window" in line
        counted = [r for r in handle.requests if r["path"].startswith("/services/data/v")]
        assert [r["status"] for r in counted] == [403]  # the first counted call, not retried
    finally:
        handle.stop()


# ---------------------------------------------------------------- memory


def test_bulk_pages_are_written_a_slice_at_a_time(big, monkeypatch):
    """A Bulk page is decoded, mapped and handed to the sink in slices (memory bounded by
    a slice, not by bulk_page_size), and checkpointed once, after its last slice."""
    from crm_audit_core.extract import MemorySink

    import crm_audit_salesforce.incremental as incremental_module

    monkeypatch.setattr(incremental_module, "WRITE_SLICE", 60)

    class Recording(MemorySink):
        def __init__(self):
            super().__init__("t")
            self.events: list = []

        def write(self, table, rows):
            rows = list(rows)
            self.events.append(("write", table, len(rows)))
            return super().write(table, rows)

        def checkpoint(self, table, state):
            self.events.append(("checkpoint", table, state))
            super().checkpoint(table, state)

    handle = start_sandbox(big)
    try:
        sink = Recording()
        run(handle, sink=sink, **OPTIONS)
        assert not differences(big, sink.rows, "contacts", handle.extra["ids"], handle.extra["stage_keys"])
        contact_pages = [e for e in sink.events if e[0] == "checkpoint" and e[2]["source"] == "Contact"]
        contacts = sum(1 for c in big["contacts"] if c["lifecycle_stage"] != "lead")
        assert len(contact_pages) == math.ceil(contacts / PAGE)
        writes = [e[2] for e in sink.events if e[0] == "write" and e[1] == "contacts"]
        assert max(writes) == 60 and sum(writes) == len(big["contacts"])
        # between two checkpoints of a page: ceil(PAGE / 60) writes
        first = sink.events.index(contact_pages[0])
        assert [e[0] for e in sink.events[first - math.ceil(PAGE / 60):first]] == ["write"] * math.ceil(PAGE / 60)
    finally:
        handle.stop()
