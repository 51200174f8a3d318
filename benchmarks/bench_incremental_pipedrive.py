"""Full vs incremental Pipedrive audits against the sandbox: API calls and time.

    .venv/bin/python benchmarks/bench_incremental_pipedrive.py [--contacts 10000] [--contacts 100000] [--changes 0.01]

For each size: generate a tenant (generator, as of 2026-06-30 so every record is older
than the audits), serve it with the Pipedrive sandbox, run a full audit through
`crm-audit run`, change ``--changes`` of every record table in the sandbox (70% updates,
20% additions, 10% deletions; notes too), run ``--incremental``, then a full audit of the
changed tenant for comparison. Prints one JSON line per size and a Markdown table.
Page size 500 (Pipedrive's maximum), no rate limiting in the sandbox.
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
from crm_audit_pipedrive.sandbox import start_sandbox  # noqa: E402

AS_OF = datetime(2026, 6, 30, tzinfo=timezone.utc)
ENTITIES = ("persons", "organizations", "deals", "activities", "notes")


def audit(handle, out: Path, *args) -> tuple[int, float]:
    return audit_sandbox_via_cli("pipedrive", handle, out, {"rate_limit": 1000}, *args)


COMPARED = {
    "contacts": "id, first_name, last_name, email, phone, title, company_id, company_name, owner_id, updated_at",
    # company_name of a carried contact is stale after its organization is renamed (see the connector doc)
    "contacts_but_company_name": "id, first_name, last_name, email, phone, title, company_id, owner_id, updated_at",
    "companies": "id, name, owner_id, updated_at",
    "deals": "id, name, amount, stage, is_closed, is_won, owner_id, updated_at",
    "activities": "id, type, subject, owner_id, contact_id, deal_id, due_at, is_done",
}


def same_rows(a: Path, b: Path, table: str) -> bool:
    """The incremental snapshot and the full one agree on these columns of ``table``."""
    return same_columns(a, b, table.split("_but_")[0], COMPARED[table])


def mutate(app, share: float) -> dict:
    counts = {}
    top = max(max((r["id"] for r in app.data.entities[e]), default=0) for e in ENTITIES)
    for entity in ENTITIES:
        records = list(app.data.entities[entity])
        n = max(1, int(len(records) * share))
        updates, adds, deletes = int(n * 0.7), int(n * 0.2), n - int(n * 0.7) - int(n * 0.2)
        field = {"persons": "job_title", "organizations": "name", "deals": "title", "activities": "subject",
                 "notes": "content"}[entity]
        for r in records[:updates]:
            app.records.update(entity, r["id"], **{field: f"changed {r['id']}"})
        for i in range(adds):
            top += 1
            app.records.add(entity, dict(records[-1], id=top))
        for r in records[updates:updates + deletes]:
            app.records.delete(entity, r["id"])
        counts[entity] = n
    return counts


def bench(contacts: int, share: float) -> dict:
    started = time.perf_counter()
    tenant = generate_tenant(contacts=contacts, seed=1, defects=True, name="bench", as_of=AS_OF)
    generated = time.perf_counter() - started
    handle = start_sandbox(tenant)
    try:
        sizes = {e: len(handle.app.data.entities[e]) for e in ENTITIES}
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "audits"
            full_calls, full_s = audit(handle, out)
            changes = mutate(handle.app, share)
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
    print("\n| contacts | records (persons/orgs/deals/activities/notes) | changes | full: calls, s | incremental: calls, s |")
    print("|---:|---|---:|---|---|")
    for r in rows:
        rec = "/".join(str(r["records"][e]) for e in ENTITIES)
        print(f"| {r['contacts']:,} | {rec} | {sum(r['changed'].values())} | {r['full_calls']}, {r['full_s']} "
              f"| {r['incremental_calls']}, {r['incremental_s']} |")


if __name__ == "__main__":
    sys.exit(main_())
