"""The standard checks of Part 1 on a generated 1M-contact tenant: time, memory, exactness.

    .venv/bin/python benchmarks/bench_part1.py [--contacts 1000000] [--seed 1] [--repeats 3] [--threads 2]

Runs every check of usage, updates, integrations (except duplicates-by-source, which the
duplicates benchmark covers), value, open-work, feedback and security together, as an
audit does, ``--repeats`` times on the cached snapshot from benchmarks/common.py. The
measurement runs in a fresh child process, so the peak RSS it reports is that of the
checks (and the open snapshot), not of generating or loading the tenant. It prints the
median seconds, the per-check medians, the peak RSS and whether each check reported
exactly the planted ids of the manifest. Goal: under 60 s and 2 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import AS_OF, OUT, machine, open_snapshot, snapshot_for, vm_hwm_mib  # noqa: E402

MODULES = ("usage", "updates", "integrations", "value", "open_work", "feedback", "security")
LEFT_OUT = {"integrations.duplicates-by-source"}




def part1_checks():
    import importlib

    checks = []
    for name in MODULES:
        module = importlib.import_module(f"crm_audit_checks.{name}")
        checks.extend(c for c in module.CHECKS if c.id not in LEFT_OUT)
    return checks




def measure(args) -> dict:
    from crm_audit_core.config import AuditConfig
    from crm_audit_core.runner import run_checks
    from crm_audit_core.testing import registry_with

    path = OUT / f"snapshot-{args.contacts}-{args.seed}.duckdb"
    folder = OUT / f"tenant-{args.contacts}-{args.seed}"
    manifest = json.loads((folder / "manifest.json").read_text())
    store = open_snapshot(path)
    store.connection.execute(f"SET threads = {int(args.threads)}")
    checks = part1_checks()
    settings = {c.id: dict(c.settings) for c in checks}
    registry = registry_with()
    totals, per_check, results = [], {}, []
    for _ in range(args.repeats):
        started = time.perf_counter()
        results = run_checks(registry, store, "bench", checks, settings, AS_OF, AuditConfig())
        totals.append(time.perf_counter() - started)
        for r in results:
            per_check.setdefault(r.check_id, []).append(r.duration_seconds)
    store.close()
    exact = {}
    for r in results:
        planted = manifest["defects"].get(r.check_id)
        if planted is None:
            exact[r.check_id] = f"{r.status} (not in the manifest)"
        else:
            same = sorted(r.affected.ids) == sorted(str(i) for i in planted["ids"])
            exact[r.check_id] = f"{r.status}, {len(r.affected.ids)} ids, {'exact' if same else 'DIFFERS from the manifest'}"
    return {
        "machine": machine(),
        "threads": args.threads,
        "contacts": args.contacts,
        "checks": len(checks),
        "median_seconds": round(statistics.median(totals), 2),
        "runs": [round(t, 2) for t in totals],
        "per_check_median": {k: round(statistics.median(v), 3) for k, v in sorted(per_check.items())},
        "peak_rss_mib": round(vm_hwm_mib(), 1),
        "results": exact,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (the goal is stated for 2 cores)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args)))
        return 0
    snapshot = OUT / f"snapshot-{args.contacts}-{args.seed}.duckdb"
    if not (snapshot.exists() and (OUT / f"tenant-{args.contacts}-{args.seed}" / "manifest.json").exists()):
        store, _, _ = snapshot_for(args.contacts, args.seed)  # generate and load once (cached)
        store.close()
    child = subprocess.run([sys.executable, __file__, "--measure", "--contacts", str(args.contacts), "--seed",
                            str(args.seed), "--repeats", str(args.repeats), "--threads", str(args.threads)],
                           capture_output=True, text=True)
    if child.returncode != 0:
        sys.stderr.write(child.stderr)
        return child.returncode
    report = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=1, ensure_ascii=False))
    ok = report["median_seconds"] < 60 and report["peak_rss_mib"] < 2048
    print(f"goal (< 60 s, < 2 GiB): {'met' if ok else 'NOT met'}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
