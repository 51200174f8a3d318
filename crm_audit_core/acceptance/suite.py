"""The connector acceptance suite: :class:`ConnectorAcceptance`.

Subclass it in your connector's tests and name the connector
(:class:`~crm_audit_core.acceptance.target.ConnectorUnderTest`); pytest then runs every test
below against your connector and its sandbox, over real HTTP::

    from crm_audit_core.testing import ConnectorAcceptance, ConnectorUnderTest

    class TestMyCrmAcceptance(ConnectorAcceptance):
        connector = ConnectorUnderTest(name="mycrm", mapped_columns={"contacts": ("id", "email")})

(or override the class-scoped ``connector_under_test`` fixture, as a classmethod).

What it checks, in the manner of Airbyte's connector acceptance tests and beyond:

* the options spec: every option documented, secrets flagged, required options named, the
  sandbox's options all known to the connector;
* bad credentials: one clear line, exit code 3, no traceback, no secret;
* a full read round trip: generated tenant -> sandbox -> connector -> every mapped column
  equal to the tenant's;
* API calls equal the minimum for the tenant's size and the page limits (when given);
* two reads give identical snapshots; an audit writes nothing (only GETs and the sandbox's
  declared read-only POSTs);
* kill-and-resume loses and duplicates nothing (when the connector says it is resumable);
* incremental equals full after changes (when the connector says it is incremental);
* no secret in any output, log, snapshot or error;
* the fault matrix of docs/reliability.md (429 bursts and storms, 5xx, timeouts, dropped
  connections, malformed and truncated pages, an expiring token, the budget guard and a
  spent daily quota): a complete snapshot or one clear error with the unfinished tables
  marked partial, never a silent gap.

``CRM_AUDIT_RELIABILITY_OUT=path.json`` collects the fault outcomes for
``benchmarks/reliability_table.py``, which renders docs/reliability.md.
"""

from __future__ import annotations

import json
import logging
import os
import platform
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from . import faults
from .target import (TENANT, TOKEN, ConnectorUnderTest, comparable_rows, default_changes, option_args, run_audit_of,
                     snapshot_rows)


class ConnectorAcceptance:
    """Acceptance tests every connector plugin runs against its own sandbox (see the module docstring).

    Override the ``connector_under_test`` fixture (class scope) to return a
    :class:`ConnectorUnderTest`."""

    #: The connector under test; or override the ``connector_under_test`` fixture.
    connector: ConnectorUnderTest | None = None

    @pytest.fixture(scope="class")
    @classmethod
    def connector_under_test(cls) -> ConnectorUnderTest:
        if cls.connector is None:
            raise NotImplementedError(f"{cls.__name__}: set `connector = ConnectorUnderTest(...)` on the class "
                                      "(or override the connector_under_test fixture)")
        return cls.connector

    # -- shared fixtures -----------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def acceptance_tenant(cls, connector_under_test):
        return connector_under_test.tenant()

    @pytest.fixture(scope="class")
    @classmethod
    def full_read(cls, connector_under_test, acceptance_tenant):
        """One read of the tenant: (sink, connector, request log, handle) with the sandbox up."""
        target = connector_under_test
        with target.sandbox(acceptance_tenant) as handle:
            sink, connector = target.extract(handle)
            yield sink, connector, list(handle.requests), handle

    # -- the options spec ----------------------------------------------------------------

    def test_options_spec(self, connector_under_test, full_read):
        """Every option documented, secrets flagged, required options known, the sandbox's options declared."""
        info = connector_under_test.info()
        undocumented = [name for name, option in info.options.items() if not str(option).strip()]
        assert not undocumented, f"options without help text: {undocumented}"
        assert set(info.required_options) <= set(info.options), \
            f"required options not in the spec: {sorted(set(info.required_options) - set(info.options))}"
        *_, handle = full_read
        unknown = sorted(set(handle.options) - set(info.options))
        assert not unknown, f"the sandbox hands the connector options it does not declare: {unknown}"
        holding_secret = sorted(k for k, v in handle.options.items() if v == TOKEN)
        assert holding_secret, "the sandbox's options hold no credential (pass token= through to them)"
        not_flagged = [k for k in holding_secret if k not in info.secret_options()]
        assert not not_flagged, f"options holding a credential but not flagged secret: {not_flagged}"

    # -- bad credentials -----------------------------------------------------------------

    def test_bad_credentials_one_line_exit_3(self, connector_under_test, acceptance_tenant, tmp_path):
        """A wrong credential: one error line, exit code 3, no traceback, no secret."""
        from ..cli import main

        target = connector_under_test
        wrong = "wrong-" + TOKEN[::-1]
        with target.sandbox(acceptance_tenant) as handle:
            options = target.connector_options(handle)
            options = {k: (wrong if v == TOKEN else v) for k, v in options.items()}
            args = ["run", "--connector", target.name, "--tenant", TENANT, "--out", str(tmp_path),
                    "--as-of", target.as_of.date().isoformat(), "--no-progress", *option_args(options)]
            result = CliRunner().invoke(main, args)
        output = result.output
        assert result.exit_code == 3, f"exit code {result.exit_code}, not 3:\n{output[-2000:]}"
        # One line says what went wrong (the CLI may add its generic "connector failure" line).
        errors = [line for line in result.stderr.splitlines()
                  if line.startswith("error:") and "connector failure" not in line]
        assert len(errors) == 1, f"not one error line:\n{result.stderr[-2000:]}"
        assert "Traceback" not in output and wrong not in output and TOKEN not in output

    # -- the round trip ------------------------------------------------------------------

    def test_round_trip_every_mapped_column(self, connector_under_test, acceptance_tenant, full_read):
        """Tenant -> sandbox -> connector: every mapped column as the tenant has it."""
        target = connector_under_test
        sink, _, _, handle = full_read
        problems = []
        for table, columns in sorted(target.mapped_columns.items()):
            if table not in sink.completed:
                problems.append(f"{table}: not completed")
                continue
            got = {}
            for row in sink.rows[table]:
                key = target.row_key(table, row)
                if key in got:
                    problems.append(f"{table}: {key} read twice")
                got[key] = row
            expected = [e for e in (target.expected(table, dict(r), handle) for r in _rows(acceptance_tenant, table))
                        if e is not None]
            if table not in ("fields", "platform") and len(got) != len(expected):
                problems.append(f"{table}: {len(got)} rows read, the tenant has {len(expected)}")
            for row in expected:
                key = target.row_key(table, row)
                have = got.get(key)
                if have is None:
                    problems.append(f"{table}: {key} missing")
                    continue
                for column in columns:
                    if column not in row:
                        continue
                    want, is_ = target.norm(table, column, row.get(column)), target.norm(table, column, have.get(column))
                    if want != is_:
                        problems.append(f"{table} {key} {column}: tenant {row.get(column)!r}, read {have.get(column)!r}")
        assert not problems, f"{len(problems)} differences, first: {problems[:12]}"

    def test_api_calls_equal_the_minimum(self, connector_under_test, acceptance_tenant, full_read):
        """The read makes exactly the fewest API calls the tenant's size allows."""
        target = connector_under_test
        if target.minimum_calls is None:
            pytest.skip("ConnectorUnderTest.minimum_calls is not given")
        _, connector, requests, handle = full_read
        minimum = target.minimum_calls(acceptance_tenant, handle, target.connector_options(handle))
        assert connector.api_calls() == minimum, f"{connector.api_calls()} calls, the minimum is {minimum}"
        assert len(requests) == connector.api_calls(), \
            f"the sandbox saw {len(requests)} requests, the connector counted {connector.api_calls()}"

    def test_two_reads_identical(self, connector_under_test, full_read):
        """Two reads of the same tenant give the same rows."""
        target = connector_under_test
        first, _, _, handle = full_read
        second, _ = target.extract(handle)
        assert sorted(first.completed) == sorted(second.completed)
        skip = tuple(target.volatile_columns)
        for table in sorted(first.completed):
            a, b = comparable_rows(first.rows.get(table, []), skip), comparable_rows(second.rows.get(table, []), skip)
            assert a == b, f"{table}: two reads of the same tenant differ ({len(a)} vs {len(b)} rows)"

    def test_zero_writes(self, full_read):
        """The read sends nothing that could change the CRM."""
        _, _, requests, handle = full_read
        writes = handle.writes(requests)
        assert not writes, f"the audit sent requests that could change the CRM: {writes[:5]}"

    # -- resume and incremental ----------------------------------------------------------

    def test_kill_and_resume_loses_and_duplicates_nothing(self, connector_under_test, tmp_path):
        """An audit stopped mid-read and resumed has every record once."""
        target = connector_under_test
        info = target.info()
        if not info.resumable:
            pytest.skip("the connector does not say it is resumable (ConnectorInfo.resumable)")
        tenant = target.tenant()
        with target.sandbox(tenant, **target.fault_sandbox_kwargs) as handle:
            clean, _ = target.extract(handle)
            half = max(2, len(handle.requests) // 2)
            handle.requests.clear()
            options = target.connector_options(handle, info)
            for name in faults.ATTEMPT_OPTION_NAMES:
                if name in info.options:
                    options[name] = "2"
            # Every request from the middle on fails: the audit stops with partial tables.
            handle.inject("503", times=10_000, after=half)
            first, folder, code = run_audit_of(target, handle, tmp_path, options=options)
            assert first.get("error") and code == 3, f"the interrupted run did not fail: {first}"
            handle.app.faults.clear()
            resumed, folder2, code = run_audit_of(target, handle, tmp_path, options=options, resume=True)
        assert folder2 == folder and code == 0 and not resumed.get("error"), resumed
        assert not resumed.get("partial_tables"), resumed
        for table in sorted(clean.completed):
            ids = [r["id"] for r in snapshot_rows(folder, table, ("id",))] if "id" in _columns(table) else None
            if ids is None:
                continue
            twice = [i for i, n in Counter(ids).items() if n > 1]
            assert not twice, f"{table}: read twice after resuming: {twice[:5]}"
            want = {str(r["id"]) for r in clean.rows.get(table, [])}
            assert set(map(str, ids)) == want, \
                f"{table}: {len(want - set(map(str, ids)))} lost, {len(set(map(str, ids)) - want)} extra after resuming"

    def test_incremental_equals_full(self, connector_under_test, tmp_path):
        """After changes, an incremental audit's snapshot equals a full read's."""
        target = connector_under_test
        info = target.info()
        if not info.incremental:
            pytest.skip("the connector does not say it is incremental (ConnectorInfo.incremental)")
        tenant = target.tenant()
        with target.sandbox(tenant) as handle:
            first, _, _ = run_audit_of(target, handle, tmp_path / "audits")
            assert not first.get("error"), first
            changed = (target.changes or default_changes)(handle, tenant)
            incremental, inc_folder, _ = run_audit_of(target, handle, tmp_path / "audits", incremental=True)
            full, full_folder, _ = run_audit_of(target, handle, tmp_path / "full")
        assert not incremental.get("error") and not full.get("error"), (incremental, full)
        assert any("incremental" in n for n in incremental.get("notes") or []), \
            f"the second audit did not read incrementally: {incremental.get('notes')}"
        for table, columns in sorted(target.mapped_columns.items()):
            cols = tuple(c for c in columns if c in _columns(table))
            a = comparable_rows(snapshot_rows(inc_folder, table, cols))
            b = comparable_rows(snapshot_rows(full_folder, table, cols))
            assert a == b, f"{table}: the incremental snapshot differs from a full read after {changed}"

    # -- secrets -------------------------------------------------------------------------

    def test_no_secret_in_any_output(self, connector_under_test, acceptance_tenant, tmp_path, caplog, capsys):
        """The credential is in no file of the audit, no output and no log."""
        target = connector_under_test
        caplog.set_level(logging.DEBUG)
        with target.sandbox(acceptance_tenant) as handle:
            handle.inject("500", times=1)
            tinfo, folder, _ = run_audit_of(target, handle, tmp_path, checks=("*",))
        found = [str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                 if p.is_file() and TOKEN.encode() in p.read_bytes()]
        assert not found, f"the secret is written in {found}"
        captured = capsys.readouterr()
        assert TOKEN not in captured.out + captured.err + caplog.text

    # -- the fault matrix ----------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def fault_suite(cls, connector_under_test, tmp_path_factory):
        from ..sandbox import generate_tenant

        target = connector_under_test
        state = {"registry": target.registry(), "out": tmp_path_factory.mktemp("fault-audits"), "outcomes": [],
                 "tenant": generate_tenant(contacts=faults.CONTACTS, seed=faults.SEED, name="faults",
                                           as_of=faults.AS_OF)}
        state["info"] = target.info(state["registry"])
        state["baseline"] = faults.baseline(state["registry"], state["info"], state["tenant"], state["out"],
                                            fast=target.fault_sandbox_kwargs, extra_options=target.options,
                                            sandbox=target.sandbox)
        yield state
        out = os.environ.get("CRM_AUDIT_RELIABILITY_OUT")
        if out and state["outcomes"]:
            _merge_outcomes(Path(out), state["outcomes"])

    @pytest.mark.parametrize("case", faults.CASES, ids=[c.fault for c in faults.CASES])
    def test_fault(self, connector_under_test, fault_suite, case):
        """One case of the fault matrix: a complete snapshot or one clear error, never a silent gap."""
        s = fault_suite
        outcome = faults.run_case(s["registry"], s["info"], s["tenant"], case, s["baseline"], s["out"],
                                  fast=connector_under_test.fault_sandbox_kwargs,
                                  extra_options=connector_under_test.options, sandbox=connector_under_test.sandbox)
        s["outcomes"].append(outcome)
        detail = (f"{outcome.connector} {case.fault}: {outcome.outcome}; error={outcome.error!r}; "
                  f"partial={outcome.partial_tables}; problems={outcome.problems}")
        assert outcome.outcome in ("complete", "error", "not-covered"), detail
        assert outcome.ok, f"expected {case.expected}; {detail}"


def _rows(tenant, table: str) -> list[dict]:
    from ..sandbox.server import tenant_rows

    return tenant_rows(tenant, table)


def _columns(table: str) -> tuple[str, ...]:
    from ..model import TABLES

    spec = TABLES.get(table)
    return tuple(spec.column_names) if spec is not None else ()


def _merge_outcomes(path: Path, outcomes: list) -> None:
    """Add one connector's outcomes to the reliability file (other connectors' kept)."""
    import crm_audit_core

    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    names = {o.connector for o in outcomes}
    kept = [o for o in data.get("outcomes", []) if o.get("connector") not in names]
    meta = {"python": platform.python_version(), "crm_audit": crm_audit_core.__version__,
            "platform": platform.platform(), "load_average": list(os.getloadavg())}
    faults.write_outcomes(path, [], meta)
    fresh = json.loads(path.read_text(encoding="utf-8"))
    fresh["outcomes"] = kept + [o.to_json() for o in outcomes]
    path.write_text(json.dumps(fresh, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
