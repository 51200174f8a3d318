"""Duplicate checks on a generated tenant (1M contacts by default): time, memory and matching quality.

    .venv/bin/python benchmarks/bench_duplicates.py [--contacts 1000000] [--seed 1] [--repeats 3] [--threads 2]

Runs data.duplicate-contacts, -companies, -deals and integrations.duplicates-by-source
together (as an audit does: the integrations check reuses the memoised contact and
company clusters), ``--repeats`` times on the cached snapshot from benchmarks/common.py,
and prints the median seconds per check, the peak RSS and, against the tenant's
manifest, pairwise precision / recall / F1 of each duplicate check, how many of the
manifest's ``common_names`` sets (namesakes who are different people) were clustered
(must be 0), and how the contact and company models were trained. DuckDB runs under the
memory limit an audit sets for its checks (``crm_audit_core.extract.CHECK_MEMORY_LIMIT``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import AS_OF, machine, peak_rss_mib, snapshot_for  # noqa: E402

TABLES = {"data.duplicate-contacts": "contacts", "data.duplicate-companies": "companies",
          "data.duplicate-deals": "deals"}


def quality(groups, truth) -> dict:
    got = {frozenset(p) for g in groups for p in combinations(g, 2)}
    want = {frozenset(p) for g in truth for p in combinations(g, 2)}
    tp = len(got & want)
    precision = tp / len(got) if got else 0.0
    recall = tp / len(want) if want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = len({frozenset(g) for g in groups} & {frozenset(g) for g in truth})
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "clusters_found": len(groups), "clusters_planted": len(truth), "clusters_exact": exact}


def open_snapshot(contacts: int, seed: int):
    """snapshot_for(), or the same snapshot read-only while another benchmark holds it."""
    import duckdb

    from common import OUT

    try:
        return snapshot_for(contacts, seed)
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        from crm_audit_core.store import Store

        path = OUT / f"snapshot-{contacts}-{seed}.duckdb"
        print(f"{path.name} is in use: opening it read-only", file=sys.stderr)
        return Store(path, read_only=True), "bench", OUT / f"tenant-{contacts}-{seed}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (the goal is stated for 2 cores)")
    args = parser.parse_args(argv)

    from crm_audit_core.config import AuditConfig
    from crm_audit_core.runner import run_checks
    from crm_audit_core.testing import registry_with

    from crm_audit_checks import duplicates

    store, tenant, folder = open_snapshot(args.contacts, args.seed)
    store.connection.execute(f"SET threads = {int(args.threads)}")
    # The DuckDB memory limit an audit runs its checks under (set after extraction): a cached
    # snapshot is opened without it.
    from crm_audit_core.extract import CHECK_MEMORY_LIMIT

    store.set_memory_limit(CHECK_MEMORY_LIMIT)
    manifest = json.loads((folder / "manifest.json").read_text())
    checks = list(duplicates.CHECKS)
    settings = {c.id: dict(c.settings) for c in checks}
    registry = registry_with()
    totals, per_check, results = [], {}, []
    for _ in range(args.repeats):
        started = time.perf_counter()
        results = run_checks(registry, store, tenant, checks, settings, AS_OF, AuditConfig())
        totals.append(time.perf_counter() - started)
        for r in results:
            per_check.setdefault(r.check_id, []).append(r.duration_seconds)
    report = {
        "machine": machine(),
        "threads": args.threads,
        "contacts": args.contacts,
        "median_seconds": round(statistics.median(totals), 2),
        "runs": [round(t, 2) for t in totals],
        "per_check_median": {k: round(statistics.median(v), 2) for k, v in per_check.items()},
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "status": {r.check_id: r.status + (f" ({r.reason})" if r.reason else "") for r in results},
        "quality": {},
        "candidate_pairs": {},
    }
    for r in results:
        table = TABLES.get(r.check_id)
        if table:
            report["quality"][r.check_id] = quality(r.groups, manifest["duplicates"][table])
            model = r.metrics.get("model") or {}
            if model:
                report.setdefault("models", {})[r.check_id] = {
                    k: model.get(k) for k in ("trained", "lambda", "note", "learned_from_certain_pairs")}
            if table == "contacts":
                namesakes = manifest.get("common_names", {}).get("contacts", [])
                report["quality"][r.check_id]["common_name_sets_clustered"] = sum(
                    1 for people in namesakes if any(len(set(people) & set(g)) > 1 for g in r.groups))
            report["candidate_pairs"][r.check_id] = r.metrics.get("candidate_pairs")
        else:
            planted = (manifest["defects"].get(r.check_id) or {}).get("ids")
            report["quality"][r.check_id] = {"reported": sorted(r.affected.ids), "planted": planted}
    store.close()
    print(json.dumps(report, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
