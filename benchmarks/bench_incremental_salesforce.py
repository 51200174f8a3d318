"""Full vs incremental audit of a Salesforce org (the local sandbox): API calls and time.

    .venv/bin/python benchmarks/bench_incremental_salesforce.py [--contacts 10000 100000] [--changes 0.01]

For each size: a full audit (`crm-audit run`), then 1% of the contacts changed (half
updated, a quarter added, a quarter deleted), then `crm-audit run --incremental`. Default
connector options (REST batches of 2,000, Bulk 2.0 above 10,000 records). Only one
cheap check runs, so the times are the extract's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from crm_audit_core.cli import main
from crm_audit_core.sandbox import generate_tenant
from crm_audit_salesforce.sandbox import start_sandbox

UTC = timezone.utc


def audit(config: Path, out: Path, *args) -> tuple[int, float]:
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["run", "-c", str(config), "--out", str(out), "--no-progress",
                                       "--check", "data.unreachable-contacts", *args], catch_exceptions=False)
    seconds = time.perf_counter() - started
    if result.exit_code != 0:
        sys.exit(f"audit failed ({result.exit_code}): {result.output[-500:]}")
    latest = sorted(p for p in out.iterdir() if p.is_dir())[-1]
    info = json.loads((latest / "report.json").read_text())["audit"]["tenants"][0]
    return info["api_calls"], seconds


def bench(contacts: int, share: float) -> dict:
    tenant = generate_tenant(contacts=contacts, seed=11, as_of=datetime.now(UTC) - timedelta(days=1))
    handle = start_sandbox(tenant)
    app, org = handle.app, handle.extra["org"]
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "crm-audit.toml"
            config.write_text("[tenants.bench]\nconnector = \"salesforce\"\n"
                              + "".join(f"{k} = {json.dumps(v)}\n" for k, v in handle.options.items()))
            out = Path(folder) / "audits"
            full_calls, full_seconds = audit(config, out)
            changes = max(4, int(contacts * share))
            people = [r["Id"] for r in org.records["Contact"]]
            account = org.records["Account"][0]["Id"]
            updates, adds = changes // 2, changes // 4
            deletes = changes - updates - adds
            for sf_id in people[:updates]:
                app.changes.update_sobject(sf_id, Title="Changed")
            for i in range(adds):
                app.changes.add_sobject("Contact", LastName=f"New {i}", Email=f"new{i}@example.org", AccountId=account,
                                       IsEmailBounced=False)
            for sf_id in people[updates:updates + deletes]:
                app.changes.delete_sobject(sf_id)
            inc_calls, inc_seconds = audit(config, out, "--incremental")
    finally:
        handle.stop()
    return {"contacts": contacts, "changes": changes, "full_calls": full_calls, "full_seconds": round(full_seconds, 1),
            "incremental_calls": inc_calls, "incremental_seconds": round(inc_seconds, 1)}


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, nargs="+", default=[10_000])
    parser.add_argument("--changes", type=float, default=0.01)
    args = parser.parse_args()
    print("| contacts | changes | full: calls | full: s | incremental: calls | incremental: s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.contacts:
        r = bench(n, args.changes)
        print(f"| {r['contacts']:,} | {r['changes']:,} | {r['full_calls']} | {r['full_seconds']} | "
              f"{r['incremental_calls']} | {r['incremental_seconds']} |", flush=True)


if __name__ == "__main__":
    main_()
