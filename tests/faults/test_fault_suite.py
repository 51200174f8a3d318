"""Fault injection against every installed connector's sandbox (issue "Scale and fault tolerance").

Every (connector, fault) case runs a real audit (``run_audit``) of a small generated
tenant while the sandbox misbehaves mid-run, and must end in either a complete snapshot
(row counts equal to a fault-free run) or one clear error with the unfinished tables
marked partial and CLI exit code 3; never a silent gap. See tests/faults/harness.py.

``CRM_AUDIT_RELIABILITY_OUT=path.json`` writes the outcomes, from which
``benchmarks/reliability_table.py`` renders docs/reliability.md.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.testing import option_args

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _load_harness():
    spec = importlib.util.spec_from_file_location("crm_audit_fault_harness", HERE / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


def _sandbox_names() -> list[str]:
    return [i.name for i in harness.sandbox_connectors(build_plugin_manager())]


def pytest_generate_tests(metafunc):
    if "case_id" in metafunc.fixturenames:
        ids = [(name, case.fault) for name in _sandbox_names() for case in harness.CASES]
        metafunc.parametrize("case_id", ids, ids=[f"{n}-{f}" for n, f in ids])


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    from crm_audit_core.sandbox import generate_tenant

    state = {
        "registry": build_plugin_manager(),
        "tenant": generate_tenant(contacts=harness.CONTACTS, seed=harness.SEED, name="faults", as_of=harness.AS_OF),
        "out": tmp_path_factory.mktemp("fault-audits"),
        "baselines": {},
        "outcomes": [],
    }
    yield state
    target = os.environ.get("CRM_AUDIT_RELIABILITY_OUT")
    if target and state["outcomes"]:
        import crm_audit_core

        meta = {"python": platform.python_version(), "crm_audit": crm_audit_core.__version__,
                "platform": platform.platform(), "load_average": list(os.getloadavg())}
        harness.write_outcomes(Path(target), state["outcomes"], meta)


def _baseline(suite, info):
    if info.name not in suite["baselines"]:
        suite["baselines"][info.name] = harness.baseline(suite["registry"], info, suite["tenant"], suite["out"])
    return suite["baselines"][info.name]


def test_fault_case(suite, case_id):
    name, fault = case_id
    info = suite["registry"].connectors[name]
    case = next(c for c in harness.CASES if c.fault == fault)
    base = _baseline(suite, info)
    outcome = harness.run_case(suite["registry"], info, suite["tenant"], case, base, suite["out"])
    suite["outcomes"].append(outcome)
    detail = f"{name} {fault}: {outcome.outcome}; error={outcome.error!r}; partial={outcome.partial_tables}; problems={outcome.problems}"
    # The promise for every case: a complete snapshot or one clear error, never a silent gap.
    assert outcome.outcome in ("complete", "error", "not-covered"), detail
    # And the policy's promise: what the retry policy should ride out, it rides out.
    assert outcome.ok, f"expected {case.expected}; {detail}"


def test_cli_exits_3_with_one_line_on_a_connector_failure(tmp_path):
    """The real `crm-audit run` process: an expired token is one line on stderr and exit code 3."""
    from crm_audit_core.sandbox import generate_tenant

    registry = build_plugin_manager()
    infos = harness.sandbox_connectors(registry)
    if not infos:
        pytest.skip("no installed connector offers a sandbox")
    info = infos[0]
    tenant = generate_tenant(contacts=120, seed=3, name="cli", as_of=harness.AS_OF)
    profile = harness.SANDBOX_PROFILES.get(info.name)
    with info.sandbox(tenant, token=harness.TOKEN, **(profile.fast if profile else {})) as handle:
        handle.inject("expire-token", times=1)
        options = harness.connector_options(info, handle)
        args = [sys.executable, "-m", "crm_audit_core.cli", "run", "--connector", info.name, "--tenant", "cli",
                "--out", str(tmp_path), "--as-of", "2026-12-31", "--no-progress"]
        args += option_args(options)
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert harness.TOKEN not in proc.stderr + proc.stdout


def test_reliability_doc_lists_every_case():
    """docs/reliability.md is generated from a run of this suite; it must name every case."""
    doc = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    rows = set()
    for line in doc.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and line.startswith("|"):
            rows.add((cells[0], cells[1]))
    wanted = {(name, case.fault) for name in _sandbox_names() for case in harness.CASES}
    missing = sorted(wanted - rows)
    assert not missing, f"docs/reliability.md lacks {missing}: run CRM_AUDIT_RELIABILITY_OUT=... pytest tests/faults and benchmarks/reliability_table.py"
