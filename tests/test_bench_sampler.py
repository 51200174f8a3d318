"""The audit benchmark's memory sampler (benchmarks/bench_audit.py): it must see the peak of
the process alone (VmHWM) and of the process with the workers it forks (summed PSS), named
by the phase it happened in. Each case runs in a fresh interpreter, whose VmHWM is its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

SETUP = f"""
import importlib.util, json, os, time
spec = importlib.util.spec_from_file_location("bench_audit", {str(ROOT / "benchmarks" / "bench_audit.py")!r})
bench = importlib.util.module_from_spec(spec); spec.loader.exec_module(bench)
MIB = 1 << 20
def touched(n):
    block = bytearray(n * MIB)
    block[::4096] = b"x" * len(block[::4096])
    return block
"""


def _run(body: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SETUP + body], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_short_peak_of_the_process_alone_is_seen_and_placed():
    got = _run("""
sampler = bench.PeakSampler(every=0.02)
with sampler:
    time.sleep(0.1)
    sampler.where = "big"
    block = touched(300)
    del block  # gone before most ticks: VmHWM still holds it
    time.sleep(0.1)
    sampler.where = "after"
    time.sleep(0.1)
print(json.dumps({"peak": sampler.peak_kib / 1024, "where": sampler.peak_where, "n": sampler.peak_processes}))
""")
    assert got["peak"] >= 300 and got["where"] == "big" and got["n"] == 1


def test_forked_workers_are_summed_once_each_page():
    got = _run("""
sampler = bench.PeakSampler(every=0.02, pss_every=0.05)
with sampler:
    time.sleep(0.1)
    sampler.where = "workers"
    pid = os.fork()
    if pid == 0:  # a worker with 200 MiB of its own
        block = touched(200)
        time.sleep(1.0)
        os._exit(0)
    os.waitpid(pid, 0)
    sampler.where = "after"
    time.sleep(0.1)
hwm = bench.vm_hwm_mib()
print(json.dumps({"peak": sampler.peak_kib / 1024, "where": sampler.peak_where, "n": sampler.peak_processes,
                  "hwm": hwm}))
""")
    assert got["n"] == 2 and got["where"] == "workers"
    assert got["peak"] >= got["hwm"] + 190  # the parent and the worker's own pages, the shared ones once
