"""Extraction from each connector's sandbox: API calls vs the minimum, time vs the rate-limit floor, peak RSS.

    .venv/bin/python benchmarks/bench_extract.py [--contacts 10000 100000] [--connector NAME ...]
        [--repeats 3] [--rate vendor|none] [--json out.json]

For each connector that offers a sandbox (found through the plugin registry) and each
size, the parent process generates the tenant and serves it from the connector's
sandbox; a fresh child process runs the real connector into a DuckDB snapshot
(``crm_audit_core.extract.run_connector``) and reports its own peak RSS (VmHWM from
/proc/self/status: ``ru_maxrss`` would carry the parent's peak over into the child), so
the number is the connector's and the store's, not the sandbox's or the generator's.

* **API calls vs minimum.** The minimum is computed from the tenant's table sizes and the
  vendor's maximum page sizes (:func:`minimum_calls`): every record list needs
  ceil(records / max page) calls, plus the calls that fetch one thing (metadata,
  settings), counted once each from the request log.
* **Wall time vs floor.** With ``--rate vendor`` the sandbox enforces the vendor's burst
  limit (:data:`RATES`) and the floor is calls / rate; goal: within 10% of it. With
  ``--rate none`` (the default for the big sizes) the number is the connector's own
  throughput, what is left once the network is not the limit.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import AS_OF, machine  # noqa: E402

# Vendor burst limits the sandboxes enforce with --rate vendor: (sandbox kwargs, burst, window seconds).
# Salesforce has no per-second limit (only the daily allowance and concurrency): no floor.
RATES = {
    "hubspot": ({"rate_limit": 100, "rate_window": 10.0}, 100, 10.0),  # 100 / 10 s, HubSpot's lowest tier
    "pipedrive": ({"rate_limit": 20, "rate_window": 2.0}, 20, 2.0),  # 20 / 2 s, the connector's default
}


def vm_hwm_mib(field: str = "VmHWM") -> float:
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def duckdb_mib(store) -> float:
    """Memory DuckDB itself holds (buffer pool, indexes), from duckdb_memory()."""
    try:
        return round(store.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()[0][0] / 2**20, 1)
    except Exception:
        return float("nan")


def trace_rss_by_table(timeline: list) -> None:
    """Record (seconds, table, VmRSS MiB) at every sink.write: which table the memory grows with."""
    from crm_audit_core import extract

    original = extract.StoreSink.write
    started = time.perf_counter()

    def write(self, table, rows):
        n = original(self, table, rows)
        if not timeline or time.perf_counter() - timeline[-1][0] > 0.2 or timeline[-1][1] != table:
            timeline.append((round(time.perf_counter() - started, 2), table, round(vm_hwm_mib("VmRSS"), 1),
                             sum(len(b) for b in self.buffers.values()), duckdb_mib(self.store)))
        return n

    extract.StoreSink.write = write


# --------------------------------------------------------------------------- child


def child(args) -> None:
    """Run one connector against a running sandbox (options on stdin); print one JSON line."""
    from crm_audit_core.extract import run_connector
    from crm_audit_core.plugins import build_plugin_manager
    from crm_audit_core.store import Store

    options = json.loads(sys.stdin.read())
    timeline: list = []
    retained: dict = {}
    if args.trace_memory:
        trace_rss_by_table(timeline)
    if args.trace_python:
        trace_python_retained(retained)
    registry = build_plugin_manager()
    info = registry.connectors[args.connector[0]]
    if args.null_sink:
        return null_sink_child(info, options)
    with tempfile.TemporaryDirectory(prefix="bench-extract-") as folder:
        store = Store(Path(folder) / "snapshot.duckdb")
        before = vm_hwm_mib()
        started, cpu_started = time.perf_counter(), time.process_time()
        outcome = run_connector(info, options, "bench", store, AS_OF)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        counts = store.counts("bench")
        size = os.path.getsize(Path(folder) / "snapshot.duckdb")
        store.close()
    import pyarrow

    pool = pyarrow.default_memory_pool()
    print(json.dumps({"arrow_pool": pool.backend_name, "arrow_max_mib": round(pool.max_memory() / 2**20, 1),
                      "seconds": seconds, "cpu_seconds": cpu_seconds, "api_calls": outcome.api_calls, "error": outcome.error and outcome.error.one_line(),
                      "partial": outcome.partial_tables, "counts": counts, "peak_rss_mib": vm_hwm_mib(),
                      "rss_before_extract_mib": before, "snapshot_mib": size / 2**20,
                      "rss_timeline": _summarise(timeline), "python_retained": retained}))


def null_sink_child(info, options: dict) -> None:
    """The connector alone: its rows are counted and dropped (no store, no DuckDB), lookups
    find nothing. Its peak RSS is what the connector itself holds; the rest of a full
    run's peak is the store's."""
    from crm_audit_core.connector import ExtractContext
    from crm_audit_core.extract import MemorySink

    class NullSink(MemorySink):
        def write(self, table, rows):
            self._check_table(table)
            return sum(1 for _ in rows)

    sink = NullSink(tenant="bench")
    connector = info.factory(options, ExtractContext(tenant="bench", as_of=AS_OF, debug=False, settings={}))
    before = vm_hwm_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    connector.extract(sink)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "api_calls": connector.api_calls(), "error": None,
                      "partial": [], "counts": {}, "peak_rss_mib": vm_hwm_mib(), "rss_before_extract_mib": before,
                      "null_sink": True}))


def trace_python_retained(retained: dict) -> None:
    """tracemalloc: the Python allocations still held when each table after the first
    big one begins (what a connector keeps across tables), top sites by size."""
    import tracemalloc

    from crm_audit_core import extract

    tracemalloc.start(1)
    original = extract.StoreSink.write

    def write(self, table, rows):
        if table not in retained:
            snapshot = tracemalloc.take_snapshot()
            top = snapshot.statistics("lineno")[:6]
            retained[table] = {"python_mib": round(tracemalloc.get_traced_memory()[0] / 2**20, 1),
                               "peak_python_mib": round(tracemalloc.get_traced_memory()[1] / 2**20, 1),
                               "top": [[str(s.traceback[0]).replace(str(Path.cwd()) + "/", ""),
                                        round(s.size / 2**20, 1), s.count] for s in top]}
        return original(self, table, rows)

    extract.StoreSink.write = write


def _summarise(timeline: list) -> list:
    """Per table, in the order written: first and highest RSS seen while writing it."""
    out: list = []
    for seconds, table, rss, buffered, duck in timeline:
        if out and out[-1]["table"] == table:
            if rss >= out[-1]["max_rss_mib"]:
                out[-1]["max_rss_mib"], out[-1]["duckdb_mib_at_max"] = rss, duck
            out[-1]["max_buffered_rows"] = max(out[-1]["max_buffered_rows"], buffered)
        else:
            out.append({"table": table, "at_seconds": seconds, "first_rss_mib": rss, "max_rss_mib": rss,
                        "duckdb_mib_at_max": duck, "max_buffered_rows": buffered})
    return out


def store_only(args) -> None:
    """The store's own share: the generated tenant's rows written through the same
    StoreSink in pages of 500 (as a connector would), no HTTP, no connector. Prints one
    JSON line with the peak RSS, to compare with a connector's at the same size."""
    from crm_audit_core.extract import StoreSink
    from crm_audit_core.sandbox import generate_tenant
    from crm_audit_core.store import Store

    tenant = generate_tenant(contacts=args.contacts[0], seed=args.seed, name="bench", as_of=AS_OF)
    tables = {name: tenant.rows(name) for name in ("users", "companies", "contacts", "deals", "activities")}
    del tenant
    import gc

    gc.collect()
    with tempfile.TemporaryDirectory(prefix="bench-store-") as folder:
        store = Store(Path(folder) / "snapshot.duckdb")
        sink = StoreSink(store, "bench")
        before = vm_hwm_mib("VmRSS")
        started = time.perf_counter()
        for name, rows in tables.items():
            for i in range(0, len(rows), 500):
                sink.write(name, [dict(r, raw=r) for r in rows[i:i + 500]])
            sink.complete(name)
        seconds = time.perf_counter() - started
        duck = duckdb_mib(store)
        store.close()
    print(json.dumps({"contacts": args.contacts[0], "rss_before_writes_mib": before, "peak_rss_mib": vm_hwm_mib(),
                      "rss_after_mib": vm_hwm_mib("VmRSS"), "duckdb_mib_at_end": duck, "seconds": round(seconds, 1)}))


# --------------------------------------------------------------------------- minimum calls


def _pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


def minimum_calls(connector: str, tenant, handle, log: list[dict]) -> dict:
    """The fewest calls the vendor's page limits allow, next to what the connector made.

    ``record_calls``: calls that page through record lists (observed);
    ``record_minimum``: ceil(records / vendor's max page) summed over those lists;
    ``other_calls``: one-off calls (metadata, settings, versions), counted as observed;
    ``minimum`` = record_minimum + other_calls.
    """
    sizes = {name: table.num_rows for name, table in tenant.tables.items()}
    acts = Counter(tenant.tables["activities"].column("type").to_pylist())
    if connector == "hubspot":
        # CRM object lists: 100 a page, one list per object type (HubSpot's maximum)
        lists = {"companies": sizes["companies"], "contacts": sizes["contacts"], "deals": sizes["deals"],
                 "calls": acts["call"], "emails": acts["email"], "meetings": acts["meeting"], "notes": acts["note"],
                 "tasks": acts["task"], "communications": acts["sms"]}
        record = [r for r in log if r["path"].startswith("/crm/v3/objects/") and r["path"].count("/") == 4]
        minimum = sum(_pages(n, 100) for n in lists.values())
    elif connector == "pipedrive":
        from crm_audit_pipedrive.connector import minimum_calls as pipedrive_minimum

        counts = {"persons": sizes["contacts"], "organizations": sizes["companies"], "deals": sizes["deals"],
                  "activities": sum(v for k, v in acts.items() if k != "note"), "notes": acts["note"],
                  "users": sizes["users"]}
        total = pipedrive_minimum(counts)
        return {"record_calls": None, "record_minimum": None, "other_calls": None, "minimum": total,
                "how": "crm_audit_pipedrive.connector.minimum_calls (500 a page, one call per list at least)"}
    elif connector == "salesforce":
        # Per object read, from the records its query matched (the org's records under the
        # query's WHERE, not the whole object): REST 2,000 a batch, or above the connector's
        # bulk_threshold one Bulk 2.0 job, one status poll and 50,000 records a result page.
        # Everything else (versions, limits/recordCount, describes) is a one-off call, counted
        # as made. COUNT() queries are not record reads.
        from crm_audit_salesforce.sandbox import parse_soql, run_soql

        org = handle.extra["org"]
        threshold = int(handle.options.get("bulk_threshold") or 10_000)
        record = [r for r in log if "/query" in r["path"]]
        first: dict[str, str] = {}
        for r in log:
            soql = r.get("soql") or ""
            match = re.search(r"\bFROM\s+(\w+)", soql, re.I)
            if match and "COUNT()" not in soql.upper() and match[1] not in first:
                # a read that moved to Bulk after its first batch adds "Id > '<last>'"
                first[match[1]] = re.sub(r"\s+AND\s+Id > '\w+'|(?<=WHERE )Id > '\w+'\s+AND\s+|\s+WHERE\s+Id > '\w+'"
                                         r"(?=\s+ORDER|\s*$)", "", soql)
        minimum = 0
        for name, soql in first.items():
            query = parse_soql(soql, org)
            query.order = None  # the count does not need the order
            n = len(run_soql(org, query))
            minimum += (2 + _pages(n, 50_000)) if n > threshold else _pages(n, 2000)
    else:
        return {"minimum": None}
    return {"record_calls": len(record), "record_minimum": minimum, "other_calls": len(log) - len(record),
            "minimum": minimum + len(log) - len(record)}


# --------------------------------------------------------------------------- parent


def run_size(info, tenant, contacts: int, rate: str, repeats: int, trace_memory: bool = False,
             trace_python: bool = False, null_sink: bool = False) -> dict:
    kwargs, burst, window = RATES.get(info.name, ({}, None, None)) if rate == "vendor" else ({}, None, None)
    runs = []
    for _ in range(repeats):
        with info.sandbox(tenant, **kwargs) as handle:
            options = dict(handle.options)
            if rate == "vendor" and info.name == "pipedrive":
                options["rate_limit"] = str(kwargs["rate_limit"])
            if rate == "none" and "rate_limit" in info.options and info.name == "hubspot":
                options["rate_limit"] = "100000"
                options["rate_window"] = "1"
            if rate == "none" and info.name == "pipedrive":
                options["rate_limit"] = "100000"
            parent_cpu = time.process_time()  # this process serves the sandbox: its CPU is the sandbox's
            proc = subprocess.run([sys.executable, __file__, "--child", "--connector", info.name]
                                  + (["--trace-memory"] if trace_memory else [])
                                  + (["--trace-python"] if trace_python else [])
                                  + (["--null-sink"] if null_sink else []),
                                  input=json.dumps(options), capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(f"{info.name} {contacts}: child failed:\n{proc.stderr[-3000:]}")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            result["sandbox_cpu_seconds"] = round(time.process_time() - parent_cpu, 2)
            log = list(handle.requests)
            minimum = minimum_calls(info.name, tenant, handle, log)
        result["requests"] = len(log)
        result["status"] = dict(Counter(str(r.get("status")) for r in log))
        runs.append(result)
        print(f"  {info.name} {contacts}: {result['seconds']:.1f}s (connector CPU {result.get('cpu_seconds', 0):.1f}s, "
              f"sandbox CPU {result['sandbox_cpu_seconds']:.1f}s) {result['api_calls']} calls "
              f"{result['peak_rss_mib']:.0f} MiB {result['error'] or ''}", file=sys.stderr)
    by_path = Counter(r["path"] for r in log)
    calls = runs[-1]["api_calls"]
    out = {
        "connector": info.name, "contacts": contacts, "rate": rate, "runs": runs,
        "median_seconds": round(statistics.median(r["seconds"] for r in runs), 2),
        "median_peak_rss_mib": round(statistics.median(r["peak_rss_mib"] for r in runs), 1),
        "api_calls": calls, "minimum": minimum,
        "counts": runs[-1]["counts"], "top_paths": by_path.most_common(12),
    }
    if burst:
        # The floor is calls / rate. A sliding window lets a burst through at once, but
        # call k still waits for call k - burst to leave the window, so the last call
        # cannot start before floor((calls - 1) / burst) windows: printed as well.
        out["floor_seconds"] = round(calls * window / burst, 2)
        out["floor_window_seconds"] = round(((calls - 1) // burst) * window, 2)
        out["over_floor"] = round(out["median_seconds"] / out["floor_seconds"] - 1, 3)
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--connector", nargs="*", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rate", choices=("vendor", "none"), default="none")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--trace-memory", action="store_true",
                        help="record RSS per table as the connector writes (which table memory grows with)")
    parser.add_argument("--trace-python", action="store_true",
                        help="tracemalloc: Python memory still held as each table begins (slow)")
    parser.add_argument("--store-only", action="store_true",
                        help="write the generated rows through the StoreSink only (the store's own memory)")
    parser.add_argument("--null-sink", action="store_true",
                        help="the connector alone: rows counted and dropped, no store (what the connector holds)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    if args.store_only:
        store_only(args)
        return 0

    from crm_audit_core.plugins import build_plugin_manager
    from crm_audit_core.sandbox import generate_tenant

    registry = build_plugin_manager()
    infos = [i for i in sorted(registry.connectors.values(), key=lambda i: i.name) if i.sandbox]
    if args.connector:
        infos = [i for i in infos if i.name in args.connector]
    results = []
    for contacts in args.contacts:
        started = time.perf_counter()
        tenant = generate_tenant(contacts=contacts, seed=args.seed, name="bench", as_of=AS_OF)
        print(f"generated {contacts} contacts in {time.perf_counter() - started:.1f}s", file=sys.stderr)
        for info in infos:
            results.append(run_size(info, tenant, contacts, args.rate, args.repeats, args.trace_memory,
                                    args.trace_python, args.null_sink))
        del tenant
    report = {"machine": machine(), "load_before": os.getloadavg(), "results": results}
    text = json.dumps(report, indent=1, default=str)
    if args.json:
        args.json.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
