"""The standard checks of Part 2 (except duplicates) on a generated 1M-contact tenant.

    .venv/bin/python benchmarks/bench_part2.py [--contacts 1000000] [--seed 1] [--repeats 3] [--threads 2]

Runs every check of unused-data, segmentation, missing-data, stale-data and data-policy
together, as an audit does, ``--repeats`` times on the cached snapshot from
benchmarks/common.py. data.policy-violations runs with the policy that ``crm-audit
policy init`` proposes for the same data (proposing it is timed too), so it does real
work instead of being skipped. The duplicate checks have their own benchmark
(bench_duplicates.py).

The measurement runs in a fresh child process pinned to ``--cores`` CPUs (default 2),
so the peak RSS is that of the checks (and the open snapshot), not of generating or
loading the tenant; the phone validator's worker processes are counted separately and
added. It prints the median seconds, the per-check medians, the peak RSS and whether each
check reported exactly the planted ids of the manifest. Goal: under 120 s and 3 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import AS_OF, OUT, machine, open_snapshot, peak_rss_mib, snapshot_for  # noqa: E402

MODULES = ("unused_data", "segmentation", "missing_data", "stale_data", "data_policy")
GOAL_SECONDS, GOAL_MIB = 120, 3072


def part2_checks():
    import importlib

    checks = []
    for name in MODULES:
        checks.extend(importlib.import_module(f"crm_audit_checks.{name}").CHECKS)
    return checks




def measure(args) -> dict:
    import tomllib

    from crm_audit_checks.data_policy import policy_toml, propose
    from crm_audit_core import read_tenant
    from crm_audit_core.config import config_from_dict
    from crm_audit_core.runner import run_checks
    from crm_audit_core.testing import registry_with

    path = OUT / f"snapshot-{args.contacts}-{args.seed}.duckdb"
    folder = OUT / f"tenant-{args.contacts}-{args.seed}"
    manifest = json.loads((folder / "manifest.json").read_text())
    store = open_snapshot(path)
    store.connection.execute(f"SET threads = {int(args.threads)}")

    started = time.perf_counter()
    with read_tenant(snapshot=path, tenant="bench", as_of=AS_OF) as ctx:  # the same database as `store`
        text = policy_toml(propose(ctx), tenant="bench", as_of=AS_OF, required_at=95.0)
    propose_seconds = time.perf_counter() - started
    config = config_from_dict(tomllib.loads(text))

    checks = part2_checks()
    settings = {c.id: dict(c.settings) for c in checks}
    registry = registry_with()
    totals, per_check, results = [], {}, []
    for _ in range(args.repeats):
        started = time.perf_counter()
        results = run_checks(registry, store, "bench", checks, settings, AS_OF, config)
        totals.append(time.perf_counter() - started)
        for r in results:
            per_check.setdefault(r.check_id, []).append(r.duration_seconds)
    store.close()
    exact = {}
    for r in results:
        planted = manifest["defects"].get(r.check_id)
        if planted is None:
            exact[r.check_id] = f"{r.status} (not in the manifest): {r.message[:120]}"
        else:
            same = sorted(r.affected.ids) == sorted(str(i) for i in planted["ids"])
            exact[r.check_id] = f"{r.status}, {len(r.affected.ids)} ids, {'exact' if same else 'DIFFERS from the manifest'}"
    workers_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "machine": machine(),
        "cores": len(os.sched_getaffinity(0)),
        "threads": args.threads,
        "contacts": args.contacts,
        "checks": len(checks),
        "median_seconds": round(statistics.median(totals), 2),
        "runs": [round(t, 2) for t in totals],
        "policy_init_seconds": round(propose_seconds, 2),
        "per_check_median": {k: round(statistics.median(v), 3) for k, v in sorted(per_check.items())},
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "peak_rss_phone_worker_mib": round(workers_mib, 1),
        "results": exact,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (the goal is stated for 2 cores)")
    parser.add_argument("--cores", type=int, default=2, help="CPUs the measuring process may use")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args)))
        return 0
    store, _, _ = snapshot_for(args.contacts, args.seed)  # generate and load once (cached)
    store.close()
    cpus = sorted(os.sched_getaffinity(0))[: max(1, args.cores)]

    def pin():
        os.sched_setaffinity(0, cpus)

    child = subprocess.run([sys.executable, __file__, "--measure", "--contacts", str(args.contacts), "--seed",
                            str(args.seed), "--repeats", str(args.repeats), "--threads", str(args.threads)],
                           capture_output=True, text=True, preexec_fn=pin)
    if child.returncode != 0:
        sys.stderr.write(child.stderr)
        return child.returncode
    report = json.loads(child.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=1, ensure_ascii=False))
    total_mib = report["peak_rss_mib"] + report["peak_rss_phone_worker_mib"] * max(1, report["cores"])
    ok = report["median_seconds"] < GOAL_SECONDS and total_mib < GOAL_MIB
    print(f"goal (< {GOAL_SECONDS} s, < {GOAL_MIB // 1024} GiB incl. workers ~{total_mib:.0f} MiB): "
          f"{'met' if ok else 'NOT met'}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
