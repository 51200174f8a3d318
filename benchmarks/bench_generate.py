"""Tenant generator speed: seconds and peak RSS at 10k, 100k and 1M contacts.

    .venv/bin/python benchmarks/bench_generate.py            # 10k, 100k, 1M
    .venv/bin/python benchmarks/bench_generate.py 10000      # chosen sizes

Each size runs in its own process so that its peak RSS is its own. The time covers
generate_tenant() (base data, planted defects, pyarrow tables, manifest), not writing
CSV files.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone

SIZES = (10_000, 100_000, 1_000_000)
AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)


def one(contacts: int) -> dict:
    from crm_audit_core.sandbox import generate_tenant

    start = time.perf_counter()
    tenant = generate_tenant(contacts=contacts, seed=1, defects=True, as_of=AS_OF)
    seconds = time.perf_counter() - start
    return {
        "contacts": contacts,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rows": {name: t.num_rows for name, t in tenant.tables.items()},
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        print(json.dumps(one(int(argv[1]))))
        return
    sizes = [int(a) for a in argv] or list(SIZES)
    print(f"cpus={os.cpu_count()}  python={sys.version.split()[0]}")
    print(f"{'contacts':>10} {'seconds':>9} {'peak RSS MiB':>13}  rows")
    for n in sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n)], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows = ", ".join(f"{k}={v}" for k, v in r["rows"].items())
        print(f"{r['contacts']:>10,} {r['seconds']:>9.1f} {r['peak_rss_mib']:>13,}  {rows}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
