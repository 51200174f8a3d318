"""Shared benchmark plumbing: a cached generated tenant and its snapshot, timing and RSS.

    from common import snapshot_for, run_checks_timed
    store, tenant, generated_dir = snapshot_for(contacts=1_000_000, seed=1)

The tenant is generated once into benchmarks/out/tenant-<N>-<seed>/ (files-connector
folder + manifest.json) and loaded once into benchmarks/out/snapshot-<N>-<seed>.duckdb;
later runs reuse both. Delete benchmarks/out/ to start over.
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def vm_hwm_mib() -> float:
    """Peak RSS of this process image (VmHWM), in MiB.

    ``ru_maxrss`` survives fork + exec on Linux, so a child started after generating a
    tenant would report its parent's peak; measurements run in a child and read this.
    """
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def open_snapshot(path: Path, wait_seconds: float = 900):
    """Open a snapshot read-only, waiting while another benchmark holds it for writing."""
    import duckdb

    from crm_audit_core.store import Store

    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return Store(path, read_only=True)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(5)


def audit_sandbox_via_cli(connector: str, handle, out: Path, extra_options: dict, *args) -> tuple[int, float]:
    """One ``crm-audit run`` against a running sandbox: (requests it made, seconds)."""
    from click.testing import CliRunner

    from crm_audit_core.cli import main

    from crm_audit_core.testing import option_args

    options = option_args({**handle.options, **extra_options})
    mark = len(handle.requests)
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["run", "--connector", connector, "--tenant", "bench", "--no-progress",
                                       "--check", "data.unreachable-contacts", "--out", str(out), *options, *args],
                                catch_exceptions=False)
    seconds = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(f"audit failed ({result.exit_code}): {result.output[-2000:]}")
    return len(handle.requests) - mark, seconds


def same_columns(a: Path, b: Path, table: str, columns: str) -> bool:
    """Two audit folders' snapshots agree on ``columns`` of ``table`` (tenant 'bench')."""
    from crm_audit_core.store import Store

    rows = []
    for folder in (a, b):
        store = Store(folder / "snapshot.duckdb", read_only=True)
        try:
            rows.append(store.execute(f"SELECT {columns} FROM canonical.{table} WHERE tenant = 'bench' "
                                      "ORDER BY id").fetchall())
        finally:
            store.close()
    return rows[0] == rows[1]


def machine() -> dict:
    import duckdb
    import pyarrow

    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    return {"python": sys.version.split()[0], "duckdb": duckdb.__version__, "pyarrow": pyarrow.__version__,
            "cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform()}


def tenant_dir(contacts: int, seed: int = 1, defects: bool = True) -> Path:
    folder = OUT / f"tenant-{contacts}-{seed}{'' if defects else '-clean'}"
    if not (folder / "manifest.json").exists():
        from crm_audit_core.sandbox import generate_tenant

        started = time.perf_counter()
        generate_tenant(contacts=contacts, seed=seed, defects=defects, name="bench", as_of=AS_OF).write(folder)
        print(f"generated {folder.name} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return folder


def snapshot_for(contacts: int, seed: int = 1, defects: bool = True):
    """(Store, tenant name, folder) for a generated tenant loaded through the files connector."""
    from crm_audit_core.extract import run_connector
    from crm_audit_core.plugins import build_plugin_manager
    from crm_audit_core.store import Store

    folder = tenant_dir(contacts, seed, defects)
    path = OUT / f"snapshot-{contacts}-{seed}{'' if defects else '-clean'}.duckdb"
    fresh = not path.exists()
    store = Store(path)
    if fresh or "contacts" not in store.supplied("bench"):
        registry = build_plugin_manager(autoload=False)
        started = time.perf_counter()
        outcome = run_connector(registry.connectors["files"], {"path": str(folder)}, "bench", store, AS_OF)
        if outcome.error:
            raise SystemExit(f"loading {folder} failed: {outcome.error.one_line()}")
        print(f"loaded {folder.name} into {path.name} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return store, "bench", folder


def run_checks_timed(store, tenant: str, patterns: list[str], repeats: int = 3) -> dict:
    """Run the installed checks matching ``patterns``; median seconds and per-check times."""
    import fnmatch
    import statistics

    from crm_audit_core.config import AuditConfig
    from crm_audit_core.plugins import build_plugin_manager
    from crm_audit_core.runner import resolve_settings, run_checks

    registry = build_plugin_manager()
    config = AuditConfig()
    checks = [c for cid, c in sorted(registry.checks.items()) if any(fnmatch.fnmatchcase(cid, p) for p in patterns)]
    settings = resolve_settings(registry, config)
    totals, per_check = [], {}
    for _ in range(repeats):
        started = time.perf_counter()
        results = run_checks(registry, store, tenant, checks, settings, AS_OF, config)
        totals.append(time.perf_counter() - started)
        for r in results:
            per_check.setdefault(r.check_id, []).append(r.duration_seconds)
    return {
        "checks": len(checks),
        "median_seconds": round(statistics.median(totals), 2),
        "runs": [round(t, 2) for t in totals],
        "per_check_median": {k: round(statistics.median(v), 3) for k, v in per_check.items()},
        "statuses": {r.check_id: r.status for r in results},
        "peak_rss_mib": round(peak_rss_mib(), 1),
    }


if __name__ == "__main__":
    print(json.dumps(machine(), indent=1))
