"""The full standard audit (every installed check, score, every default report) on the 1M-contact snapshot.

    .venv/bin/python benchmarks/bench_audit.py [--contacts 1000000] [--seed 1] [--repeats 3] [--cores 2]

What an audit does after extraction, on the cached snapshot of benchmarks/common.py
(``snapshot_for``): every installed check (as ``crm-audit run`` selects them), accepted
risks, the score, and the default reports (report.json, report.html, report.md,
fix-lists) into a temporary folder. Each repeat runs in a fresh child process pinned to
``--cores`` CPUs with DuckDB at as many threads, so the memory is the audit's, not the
generator's or the loader's: the child's VmHWM, and the peak of the summed PSS of the
child and the worker processes it forks (the phone check's pool; a forked worker's RSS
would count the pages it shares with its parent a second time). Goal: under 3 minutes
and 3 GiB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import AS_OF, OUT, machine, open_snapshot, snapshot_for  # noqa: E402

GOAL_SECONDS, GOAL_MIB = 180, 3072


def vm_hwm_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _pss_kib(pid) -> int:
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


class PssSampler:
    """Peak of the summed PSS of this process and its children (forked workers share the
    parent's pages copy-on-write, so their RSS would count those pages twice; PSS splits
    shared pages between the processes that map them)."""

    def __init__(self, every: float = 0.2):
        import threading

        self.every, self.peak_kib, self.peak_processes = every, 0, 1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        me = os.getpid()
        while not self._stop.is_set():
            kids = _children(me)
            total = _pss_kib(me) + sum(_pss_kib(k) for k in kids)
            if total > self.peak_kib:
                self.peak_kib, self.peak_processes = total, 1 + len(kids)
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def measure(args) -> dict:
    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.findings import AuditResult, TenantInfo
    from crm_audit_core.plugins import build_plugin_manager
    from crm_audit_core.runner import apply_accepted_risks, resolve_settings, run_checks, select_checks, write_reports
    from crm_audit_core.scoring import score

    with PssSampler() as sampler:
        report = _measure(args)
    report["peak_pss_total_mib"] = round(sampler.peak_kib / 1024, 1)
    report["processes_at_peak"] = sampler.peak_processes
    return report


def _measure(args) -> dict:
    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.findings import AuditResult, TenantInfo
    from crm_audit_core.plugins import build_plugin_manager
    from crm_audit_core.runner import apply_accepted_risks, resolve_settings, run_checks, select_checks, write_reports
    from crm_audit_core.scoring import score

    phases = {}
    started = time.perf_counter()
    registry = build_plugin_manager()
    folder = OUT / f"tenant-{args.contacts}-{args.seed}"
    config = AuditConfig(as_of=AS_OF, tenants=[TenantConfig("bench", "files", {"path": str(folder)})])
    config.sections["value"] = {"cost": 24000, "gain": 61000}
    settings = resolve_settings(registry, config)
    checks = select_checks(registry, config)
    store = open_snapshot(OUT / f"snapshot-{args.contacts}-{args.seed}.duckdb")
    store.connection.execute(f"SET threads = {int(args.threads)}")
    phases["setup"] = time.perf_counter() - started

    t = time.perf_counter()
    results = run_checks(registry, store, "bench", checks, settings, AS_OF, config)
    phases["checks"] = time.perf_counter() - t
    audit = AuditResult(id="bench", as_of=AS_OF.isoformat(), started_at=AS_OF.isoformat(), tool_version="bench")
    audit.tenants.append(TenantInfo(name="bench", connector="files", api_calls=0, records=store.counts("bench")))
    audit.results = results
    store.close()

    t = time.perf_counter()
    apply_accepted_risks(audit, config, AS_OF)
    audit.score = score(audit.results)
    audit.finished_at = AS_OF.isoformat()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as out:
        written = write_reports(registry, audit, Path(out), config)
        report_mib = sum(p.stat().st_size for p in Path(out).rglob("*") if p.is_file()) / 2**20
    phases["score_and_reports"] = time.perf_counter() - t
    total = time.perf_counter() - started
    per_check = sorted(((r.duration_seconds, r.check_id) for r in results), reverse=True)
    return {
        "seconds": round(total, 2),
        "phases": {k: round(v, 2) for k, v in phases.items()},
        "checks": len(checks),
        "statuses": {s: sum(1 for r in results if r.status == s) for s in ("pass", "fail", "error", "skipped")},
        "errors": {r.check_id: r.reason for r in results if r.status == "error"},
        "slowest_checks": [[cid, round(s, 2)] for s, cid in per_check[:8]],
        "files_written": len(written),
        "reports_mib": round(report_mib, 1),
        "score": (audit.score or {}).get("overall"),
        "peak_rss_mib": round(vm_hwm_mib(), 1),
        "peak_rss_workers_mib": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "plugin_errors": audit.plugin_errors,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cores", type=int, default=2, help="CPUs the measuring process may use")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: --cores)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.threads = args.threads or args.cores
    if args.measure:
        print(json.dumps(measure(args)))
        return 0
    store, _, _ = snapshot_for(args.contacts, args.seed)  # generate and load once (cached)
    store.close()
    cpus = sorted(os.sched_getaffinity(0))[: max(1, args.cores)]
    runs = []
    for _ in range(args.repeats):
        load = os.getloadavg()[0]
        child = subprocess.run([sys.executable, __file__, "--measure", "--contacts", str(args.contacts), "--seed",
                                str(args.seed), "--threads", str(args.threads)],
                               capture_output=True, text=True, preexec_fn=lambda: os.sched_setaffinity(0, cpus))
        if child.returncode != 0:
            sys.stderr.write(child.stderr)
            return child.returncode
        run = json.loads(child.stdout.strip().splitlines()[-1])
        run["load_before"] = round(load, 2)
        runs.append(run)
        print(f"  {run['seconds']:.1f}s ({run['phases']}), RSS {run['peak_rss_mib']:.0f} MiB, "
              f"PSS with workers {run['peak_pss_total_mib']:.0f} MiB, load {load:.2f}", file=sys.stderr)
    report = {
        "machine": machine(), "cores": len(cpus), "contacts": args.contacts, "seed": args.seed,
        "median_seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        # Memory: the summed PSS of the audit process and its forked workers at its peak
        # (RSS of a forked worker counts the pages it shares with its parent again).
        "median_peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in runs), 1),
        "median_peak_pss_total_mib": round(statistics.median(r["peak_pss_total_mib"] for r in runs), 1),
        "runs": runs,
    }
    text = json.dumps(report, indent=1, ensure_ascii=False)
    if args.json:
        args.json.write_text(text)
    print(text)
    ok = report["median_seconds"] < GOAL_SECONDS and report["median_peak_pss_total_mib"] < GOAL_MIB
    print(f"goal (< {GOAL_SECONDS} s, < {GOAL_MIB // 1024} GiB): {'met' if ok else 'NOT met'}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
