"""The whole audit of a real-tenant-shaped folder of files, per phase, side by side with other code.

    .venv/bin/python benchmarks/bench_audit.py --contacts 100000 [--idn 0 --idn 0.14] [--seed 1]
        [--baseline REF ...] [--repeats 1] [--cores 2] [--json out.json]

What ``crm-audit run --files FOLDER`` does, on a tenant of the generator's benchmark shape
(``crm_audit_core.sandbox.shape.BENCHMARK``: one web domain per company at 6.8 contacts a
company, a distinct phone number per contact, 20% of names in Hangul, 40 extra custom fields
a record table, mostly sparse; ``--idn`` the share of addresses on Hangul domains, repeated
for several tenants, the ratio of data.invalid-emails' time to the ASCII tenant's reported),
each generated once into benchmarks/out/shaped-<N>-<seed>-idn<pct>/: ``runner.run_audit`` in a fresh child
process pinned to ``--cores`` CPUs, timed per phase (load = the files connector into the
snapshot, each check, reports = every default report). Peak memory: the child's VmHWM, and
while it has forked workers (the html report's writer) the summed PSS of it and them
(:class:`PeakSampler`, cheap enough not to slow the audit it measures).

``--baseline REF`` (repeatable; a commit, branch or tag of this repository, or a folder
holding another checkout) runs the same measurement on that code in the same run, each
side in turn for every repeat, so both meet the same machine: the code of REF is exported
with ``git archive`` into benchmarks/out/code-<sha>/ and put first on the child's
PYTHONPATH (core, checks, connectors), ahead of this checkout's editable installs.

Goal (issue 20), at 1M contacts on 2 cores: under 30 s without the duplicate checks and
under 1.5 GiB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
GOAL_SECONDS, GOAL_MIB = 30.0, 1536
DUPLICATE_CHECKS = ("data.duplicate-contacts", "data.duplicate-companies", "data.duplicate-deals")
CODE_FOLDERS = [".", "checks", "connectors/hubspot", "connectors/salesforce", "connectors/pipedrive"]


# --------------------------------------------------------------------------- memory sampling


def _status_kib(pid, key: str) -> int:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def vm_hwm_mib() -> float:
    return _status_kib(os.getpid(), "VmHWM:") / 1024


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


class PeakSampler:
    """Peak memory of this process and the workers it forks, cheaply enough not to slow
    what it measures.

    Alone, the process's peak is its VmHWM (the kernel's own high-water mark, read from
    /proc/self/status in microseconds); each tick notes the phase in which it rose. While
    forked children live (the html report's writer, the phone check's pool), they share
    the parent's pages copy-on-write, so their RSS would count those pages twice: then the
    summed PSS of all of them is sampled too, at most every ``pss_every`` seconds. PSS is
    read from smaps_rollup, a walk of every page a process maps: about 25 ms of CPU a read
    at 1.2 GiB. Read every 0.1 s all the audit long, as it was until 2026-12-07, it took a
    quarter of a core from the audit it measured (and held the lock the audit's own page
    faults wait for).
    """

    def __init__(self, every: float = 0.05, pss_every: float = 0.5):
        import threading

        self.every, self.pss_every, self.peak_kib, self.peak_processes = every, pss_every, 0, 1
        self.where, self.peak_where = "setup", ""  # the audit's phase now / at the peak
        self._pss_at = float("-inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tick(self, me: int) -> None:
        hwm = _status_kib(me, "VmHWM:")
        if hwm > self.peak_kib:
            self.peak_kib, self.peak_processes, self.peak_where = hwm, 1, self.where
        if time.monotonic() - self._pss_at < self.pss_every:
            return
        kids = _children(me)
        if kids:
            self._pss_at = time.monotonic()
            total = _pss_kib(me) + sum(_pss_kib(k) for k in kids)
            if total > self.peak_kib:
                self.peak_kib, self.peak_processes, self.peak_where = total, 1 + len(kids), self.where

    def _run(self):
        me = os.getpid()
        while not self._stop.is_set():
            self._tick(me)
            self._stop.wait(self.every)
        self._tick(me)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------- the tenant


def tenant_folder(contacts: int, seed: int, idn: float) -> Path:
    """The shaped tenant as a files-connector folder (generated once, then reused)."""
    folder = OUT / f"shaped-{contacts}-{seed}-idn{round(idn * 100)}"
    if not (folder / "manifest.json").exists():
        sys.path.insert(0, str(ROOT))
        from crm_audit_core.sandbox import generate_tenant
        from crm_audit_core.sandbox.shape import BENCHMARK

        from common import AS_OF

        started = time.perf_counter()
        tenant = generate_tenant(contacts=contacts, seed=seed, name="bench", as_of=AS_OF,
                                 shape=BENCHMARK.with_(idn_email_share=idn))
        tmp = folder.with_name(folder.name + ".tmp")
        tenant.write(tmp)
        tmp.rename(folder)
        print(f"generated {folder.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return folder


def describe(folder: Path) -> dict:
    """What the tenant holds: counts, distinct domains and phones, the IDN and Hangul shares."""
    import duckdb

    con = duckdb.connect()
    path = str(folder / "contacts.csv").replace("'", "''")
    row = con.execute(
        f"SELECT count(*), count(DISTINCT split_part(email, '@', 2)), count(DISTINCT phone), "
        "avg(CASE WHEN NOT regexp_matches(split_part(email, '@', 2), '^[ -~]*$') THEN 1.0 ELSE 0.0 END) "
        "FILTER (WHERE email IS NOT NULL), "
        "avg(CASE WHEN regexp_matches(first_name, '^[가-힣]') THEN 1.0 ELSE 0.0 END) "
        f"FROM read_csv('{path}', all_varchar = true)").fetchone()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return {"counts": manifest["counts"], "records": sum(manifest["counts"].values()),
            "contacts": row[0], "distinct_email_domains": row[1], "distinct_phones": row[2],
            "idn_address_share": round(row[3] or 0, 4), "hangul_name_share": round(row[4] or 0, 4),
            "shape": manifest.get("shape"), "csv_mib": round(sum(p.stat().st_size for p in folder.glob("*.csv")) / 2**20, 1)}


# --------------------------------------------------------------------------- one measurement (child)


def measure(folder: Path) -> dict:
    import tempfile

    import crm_audit_core
    from crm_audit_core import runner
    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.plugins import build_plugin_manager

    sys.path.insert(0, str(HERE))
    from common import AS_OF

    phases: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds of every thread of the process (DuckDB's included)

    sampler = PeakSampler()

    def timed(name, func):
        def wrapper(*args, **kwargs):
            sampler.where = name
            started, started_cpu = time.perf_counter(), time.process_time()
            try:
                return func(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - started
                cpu[name] = cpu.get(name, 0.0) + time.process_time() - started_cpu
        return wrapper

    runner.run_connector = timed("load", runner.run_connector)
    runner.run_checks = timed("checks", runner.run_checks)
    runner.write_reports = timed("reports", runner.write_reports)
    class Where:  # the check running now, for the peak's place
        @crm_audit_core.hookimpl
        def crm_audit_result(self, result, check):
            sampler.where = f"checks (after {result.check_id})"

    registry = build_plugin_manager(extra_plugins=[Where()])
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as out, sampler:
        config = AuditConfig(as_of=AS_OF, tenants=[TenantConfig("bench", "files", {"path": str(folder)})])
        config.sections["value"] = {"cost": 24000, "gain": 61000}
        config.out = Path(out)
        started, started_cpu = time.perf_counter(), time.process_time()
        audit, archive = runner.run_audit(config, registry=registry, progress=False)
        total, total_cpu = time.perf_counter() - started, time.process_time() - started_cpu
        report_files = [p for p in archive.rglob("*") if p.is_file() and p.name != "snapshot.duckdb"]
        report_mib = sum(p.stat().st_size for p in report_files) / 2**20
        findings = {r.check_id: (r.status, len(r.affected.ids)) for r in audit.results}
    checks = {r.check_id: round(r.duration_seconds, 2) for r in audit.results}
    duplicates = sum(checks.get(c, 0.0) for c in DUPLICATE_CHECKS)
    return {
        "code": str(Path(crm_audit_core.__file__).resolve().parent.parent),
        "seconds": round(total, 2),
        "seconds_without_duplicate_checks": round(total - duplicates, 2),
        "phases": {"load": round(phases.get("load", 0), 2), "checks": round(sum(checks.values()), 2),
                   "reports": round(phases.get("reports", 0), 2),
                   "other": round(total - phases.get("load", 0) - phases.get("reports", 0) - sum(checks.values()), 2)},
        "cpu_seconds": round(total_cpu, 2),
        "cpu_phases": {k: round(v, 2) for k, v in cpu.items()},
        "checks": dict(sorted(checks.items(), key=lambda kv: -kv[1])),
        "statuses": {s: sum(1 for r in audit.results if r.status == s) for s in ("pass", "fail", "error", "skipped")},
        "errors": {r.check_id: r.reason for r in audit.results if r.status == "error"},
        "findings": findings,
        "reports_mib": round(report_mib, 1),
        "score": (audit.score or {}).get("overall"),
        "peak_rss_mib": round(vm_hwm_mib(), 1),
        "peak_with_workers_mib": round(sampler.peak_kib / 1024, 1),
        "processes_at_peak": sampler.peak_processes,
        "peak_during": sampler.peak_where,
    }


# --------------------------------------------------------------------------- the parent


def code_folder(ref: str) -> Path:
    """A folder holding the code of ``ref``: the folder itself, or an export of the commit."""
    if Path(ref).is_dir():
        return Path(ref).resolve()
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"], capture_output=True,
                         text=True, check=True).stdout.strip()
    folder = OUT / f"code-{sha[:12]}"
    if not (folder / "crm_audit_core").is_dir():
        tmp = folder.with_name(folder.name + ".tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        tmp.rename(folder)
    return folder


def run_child(code: Path | None, folder: Path, cpus: list[int]) -> dict:
    env = dict(os.environ)
    if code is not None:
        paths = [str(code / sub) for sub in CODE_FOLDERS]
        env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    load = os.getloadavg()[0]
    child = subprocess.run([sys.executable, __file__, "--measure", str(folder)],
                           capture_output=True, text=True, env=env, cwd=str(OUT),
                           preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    if child.returncode != 0:
        sys.stderr.write(child.stderr[-4000:])
        raise SystemExit(f"the measurement of {code or 'this checkout'} failed (exit {child.returncode})")
    run = json.loads(child.stdout.strip().splitlines()[-1])
    run["load_before"] = round(load, 2)
    return run


def summary(runs: list[dict]) -> dict:
    med = lambda key: round(statistics.median(r[key] for r in runs), 2)  # noqa: E731
    return {"median_seconds": med("seconds"), "median_seconds_without_duplicate_checks": med("seconds_without_duplicate_checks"),
            "median_peak_rss_mib": med("peak_rss_mib"), "median_peak_with_workers_mib": med("peak_with_workers_mib"),
            "median_phases": {p: round(statistics.median(r["phases"][p] for r in runs), 2) for p in runs[0]["phases"]},
            "runs": runs}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--idn", type=float, action="append", default=None,
                        help="share of addresses on Hangul domains (0 to 1); repeat for several tenants (default 0)")
    parser.add_argument("--baseline", action="append", default=[], help="a git ref or a folder of other code to run too")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--cores", type=int, default=2, help="CPUs the measuring process may use")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure), ensure_ascii=False))
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    folders = {idn: tenant_folder(args.contacts, args.seed, idn) for idn in (args.idn or [0.0])}
    sides: dict[str, Path | None] = {"this checkout": None}
    for ref in args.baseline:
        sides[ref] = code_folder(ref)
    cpus = sorted(os.sched_getaffinity(0))[: max(1, args.cores)]
    runs = {idn: {name: [] for name in sides} for idn in folders}
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    for _ in range(args.repeats):
        for idn, folder in folders.items():
            for name, code in reversed(sides.items()):  # the baselines first, then this checkout
                run = run_child(code, folder, cpus)
                runs[idn][name].append(run)
                emails = run["checks"].get("data.invalid-emails")
                print(f"{folder.name}, {name}: {run['seconds']:.1f} s ({run['seconds_without_duplicate_checks']:.1f} s "
                      f"without the duplicate checks; {run['phases']}; CPU {run['cpu_phases']}; invalid-emails {emails} s), "
                      f"RSS {run['peak_rss_mib']:.0f} MiB, with workers {run['peak_with_workers_mib']:.0f} MiB "
                      f"(during {run['peak_during']}), load {run['load_before']:.2f}", file=sys.stderr)
    from common import machine

    report = {"machine": machine(), "cores": len(cpus), "started": started,
              "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), "tenants": {}}
    ok = True
    for idn, folder in folders.items():
        entry = {"tenant": describe(folder), "folder": str(folder),
                 "sides": {name: summary(r) for name, r in runs[idn].items()}}
        findings = {name: r[0]["findings"] for name, r in runs[idn].items()}
        first = findings["this checkout"]
        entry["same_findings_as_this_checkout"] = {name: f == first for name, f in findings.items()
                                                   if name != "this checkout"}
        for name, f in findings.items():
            if f != first:
                entry.setdefault("findings_that_differ", {})[name] = {
                    c: [f.get(c), first.get(c)] for c in sorted(set(f) | set(first)) if f.get(c) != first.get(c)}
        mine = entry["sides"]["this checkout"]
        ok = ok and (mine["median_seconds_without_duplicate_checks"] < GOAL_SECONDS
                     and mine["median_peak_with_workers_mib"] < GOAL_MIB)
        report["tenants"][folder.name] = entry
    if 0.0 in folders and len(folders) > 1:  # data.invalid-emails on international domains vs ASCII ones
        ascii_time = {name: statistics.median(r["checks"]["data.invalid-emails"] for r in rs)
                      for name, rs in runs[0.0].items()}
        report["invalid_emails_vs_ascii"] = {
            folders[idn].name: {name: round(statistics.median(r["checks"]["data.invalid-emails"] for r in rs)
                                            / max(ascii_time[name], 1e-9), 2) for name, rs in runs[idn].items()}
            for idn in folders if idn != 0.0}
    text = json.dumps(report, indent=1, ensure_ascii=False)
    if args.json:
        args.json.write_text(text, encoding="utf-8")
    print(text)
    print(f"goal (< {GOAL_SECONDS:.0f} s without the duplicate checks, < {GOAL_MIB / 1024:.1f} GiB): "
          f"{'met' if ok else 'NOT met'}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    sys.exit(main())
