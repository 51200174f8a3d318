"""Derived columns come from the rows already committed, one lookup a page: the connector
keeps no per-record map of activities or organizations, and no set of the ids it read."""

from __future__ import annotations

import math
from collections import Counter

from crm_audit_core.extract import MemorySink
from crm_audit_pipedrive.connector import create_connector
from crm_audit_pipedrive.resume import LOOKUP_PAGES
from crm_audit_pipedrive.sandbox import start_sandbox

FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "rate_limit": 1000}
PAGE = 100


class CountingSink(MemorySink):
    def __init__(self, on_write=None):
        super().__init__(tenant="t")
        self.lookups = Counter()
        self.on_write = on_write

    def lookup(self, table, key_column, value_columns, keys):
        self.lookups[table] += 1
        return super().lookup(table, key_column, value_columns, keys)

    def write(self, table, rows):
        rows = list(rows)
        n = super().write(table, rows)
        if self.on_write is not None:
            self.on_write(table, rows)
        return n


def test_one_lookup_per_few_pages_and_none_for_old_records(tenant):
    with start_sandbox(tenant) as handle:
        connector = create_connector({**handle.options, **FAST, "page_limit": PAGE})
        sink = CountingSink()
        connector.extract(sink)
    person_chunks = math.ceil(len(tenant["contacts"]) / PAGE / LOOKUP_PAGES)
    deal_chunks = math.ceil(len(tenant["deals"]) / PAGE / LOOKUP_PAGES)
    assert LOOKUP_PAGES > 1
    assert sink.lookups["companies"] == person_chunks
    assert sink.lookups["activities"] == person_chunks + deal_chunks
    # every record was last updated long before this read began: none can be met twice
    assert sink.lookups["contacts"] == sink.lookups["deals"] == 0
    assert not any(isinstance(v, dict) and len(v) > PAGE for v in vars(connector).values())
    assert any(row["last_activity_at"] for row in sink.rows["contacts"])
    assert any(row["company_name"] for row in sink.rows["contacts"])


def test_a_person_modified_mid_read_is_stored_once(tenant):
    with start_sandbox(tenant) as handle:
        app = handle.app
        changed = []

        def modify_once(table, rows):
            if table == "contacts" and not changed:
                changed.append(rows[0]["id"])
                app.records.update("persons", int(rows[0]["id"]), job_title="Promoted")  # now the latest: met again at the end

        sink = CountingSink(on_write=modify_once)
        create_connector({**handle.options, **FAST, "page_limit": PAGE}).extract(sink)
    ids = [row["id"] for row in sink.rows["contacts"]]
    assert changed and ids.count(changed[0]) == 1
    assert len(ids) == len(set(ids)) == len(tenant["contacts"])
    assert sink.lookups["contacts"] >= 1  # the page with the modified record was checked


def test_duplicates_within_pages_mapped_together_and_already_committed_are_dropped():
    from datetime import datetime, timedelta, timezone

    from crm_audit_pipedrive.resume import not_stored

    now = datetime.now(timezone.utc)
    recent, old = now.isoformat(), (now - timedelta(days=30)).isoformat()
    sink = MemorySink()
    sink.write("contacts", [{"id": "1", "raw": {"update_time": old}}])
    rows = [{"id": i, "raw": {"update_time": when}} for i, when in
            [("1", recent), ("2", recent), ("3", old), ("2", recent), ("3", old), ("4", None)]]
    kept = not_stored(sink, "contacts", rows, now - timedelta(minutes=5))
    assert [r and r["id"] for r in kept] == [None, "2", "3", None, "3", "4"]  # old rows are not checked
    assert [r and r["id"] for r in not_stored(sink, "contacts", rows, None)] == \
        [None, "2", "3", None, None, "4"]
