"""Full vs incremental HubSpot audits against the sandbox: API calls and time.

    .venv/bin/python benchmarks/bench_incremental_hubspot.py [--contacts 10000] [--contacts 100000] [--changes 0.01]

For each size: generate a tenant (generator, as of 2026-06-30 so every record is older
than the audits), serve it with the HubSpot sandbox, run a full audit through
`crm-audit run`, change ``--changes`` of every record table in the sandbox (70% updates,
20% additions, 10% deletions, through the sandbox's put_record / delete_record), run
``--incremental``, then a full audit of the changed tenant for comparison (the two
snapshots must agree on the compared columns). Prints one JSON line per size and a
Markdown table. HubSpot's page sizes (100 for lists, 200 for search, 1,000 ids per
association batch); no rate limiting in the sandbox, the client-side search limiter
(4 searches a second) stays on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import audit_sandbox_via_cli, same_columns  # noqa: E402
from crm_audit_core.sandbox import generate_tenant  # noqa: E402
from crm_audit_hubspot.sandbox import start_sandbox  # noqa: E402

AS_OF = datetime(2026, 6, 30, tzinfo=timezone.utc)
TABLES = ("contacts", "companies", "deals", "activities")


def audit(handle, out: Path, *args) -> tuple[int, float]:
    return audit_sandbox_via_cli("hubspot", handle, out, {"rate_limit": 100_000, "rate_window": 1}, *args)


COMPARED = {
    "contacts": "id, first_name, last_name, email, phone, title, company_id, owner_id, updated_at",
    "companies": "id, name, domain, owner_id, updated_at",
    "deals": "id, name, amount, stage, is_closed, is_won, owner_id, company_id, contact_id, updated_at",
    "activities": "id, type, subject, owner_id, contact_id, company_id, deal_id, due_at, is_done",
}


def same_rows(a: Path, b: Path, table: str) -> bool:
    """The incremental snapshot and the full one agree on these columns of ``table``."""
    return same_columns(a, b, table, COMPARED[table])


def mutate(handle, tenant, share: float) -> dict:
    put, delete = handle.put_record, handle.delete_record
    counts = {}
    top = max(int(r["id"]) for t in TABLES for r in tenant.rows(t))
    referenced = {str(r.get(c)) for t in ("deals", "activities") for r in tenant.rows(t)
                  for c in ("contact_id", "company_id", "deal_id") if r.get(c)}
    field = {"contacts": "title", "companies": "name", "deals": "name", "activities": "subject"}
    for table in TABLES:
        records = tenant.rows(table)
        n = max(1, int(len(records) * share))
        updates, adds = int(n * 0.7), int(n * 0.2)
        deletes = n - updates - adds
        for r in records[:updates]:
            put(table, dict(r, **{field[table]: f"changed {r['id']}"}))
        for _ in range(adds):
            top += 1
            put(table, dict(records[-1], id=str(top)))
        # deletions of records nothing else points to (a deleted record's old links in carried
        # rows are a documented limit of incremental audits)
        gone = [r for r in records[updates:] if str(r["id"]) not in referenced][:deletes]
        for r in gone:
            delete(table, str(r["id"]))
        counts[table] = updates + adds + len(gone)
    return counts


def bench(contacts: int, share: float) -> dict:
    started = time.perf_counter()
    tenant = generate_tenant(contacts=contacts, seed=1, defects=True, name="bench", as_of=AS_OF)
    generated = time.perf_counter() - started
    handle = start_sandbox(tenant)
    try:
        sizes = {t: len(tenant.rows(t)) for t in TABLES}
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "audits"
            full_calls, full_s = audit(handle, out)
            changes = mutate(handle, tenant, share)
            inc_calls, inc_s = audit(handle, out, "--incremental")
            again_calls, again_s = audit(handle, out)
            inc_folder, full_folder = sorted(p for p in out.iterdir() if p.is_dir())[-2:]
            same = {t: same_rows(inc_folder, full_folder, t) for t in COMPARED}
    finally:
        handle.stop()
    return {"contacts": contacts, "records": sizes, "changed": changes, "generate_s": round(generated, 1),
            "full_calls": full_calls, "full_s": round(full_s, 2), "incremental_calls": inc_calls,
            "incremental_s": round(inc_s, 2), "full_after_changes_calls": again_calls,
            "full_after_changes_s": round(again_s, 2), "incremental_equals_full": same}


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, action="append")
    parser.add_argument("--changes", type=float, default=0.01)
    args = parser.parse_args()
    rows = []
    for contacts in args.contacts or [10_000]:
        row = bench(contacts, args.changes)
        print(json.dumps(row), flush=True)
        rows.append(row)
    print("\n| contacts | records (contacts/companies/deals/activities) | changes | full: calls, s "
          "| incremental: calls, s | incremental = full |")
    print("|---:|---|---:|---|---|---|")
    for r in rows:
        rec = "/".join(f"{r['records'][t]:,}" for t in TABLES)
        print(f"| {r['contacts']:,} | {rec} | {sum(r['changed'].values())} | {r['full_calls']:,}, {r['full_s']} "
              f"| {r['incremental_calls']}, {r['incremental_s']} | {all(r['incremental_equals_full'].values())} |")


if __name__ == "__main__":
    sys.exit(main_())
