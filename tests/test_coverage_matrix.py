"""docs/coverage.md is generated from a demo run (docs/dev/coverage_matrix.py): the page
must match what the code does today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_committed_coverage_matrix_matches_a_fresh_demo_run():
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "dev" / "coverage_matrix.py"), "--check"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
