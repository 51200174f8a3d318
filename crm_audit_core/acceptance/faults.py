"""The fault matrix of the acceptance suite: a real audit against a connector's sandbox while it misbehaves.

Every sandbox built on :class:`crm_audit_core.sandbox.server.SandboxApp` takes the same
keywords (``daily_limit``, ``daily_used``, ``slow_seconds``) and its handle reports the same
counters (``handle.daily_used``, ``handle.spend_daily_allowance()``), so one harness covers
every connector; ``ConnectorUnderTest.fault_sandbox_kwargs`` only makes a case faster (a
shorter rate window).

A case is judged against a fault-free run of the same tenant (the *baseline*):

* ``complete``: no error, no partial table, every table's row count equal to the baseline;
* ``error``: one clear line (no traceback, no secret), the tables it left unfinished
  listed in report.json (``audit.tenants[].partial_tables``), CLI exit code 3, and every
  table *not* listed as partial has the baseline's row count;
* anything else is a failure: ``silent-gap`` (a table taken as whole with fewer rows than
  the baseline), ``extra-rows`` (rows read twice), ``unclear-error``, ``hang`` (the run
  did not end within the case's time limit), ``wrong-exit-code``.

Faults are injected *mid-run*: a watcher thread waits until the connector has made as many
requests as the fault-free run made before its first later page of a list past the middle
of the run, then arms the sandbox (``handle.inject``), so each fault lands on a data page
in the middle of a pagination, after some tables are already complete.
"""

from __future__ import annotations

import concurrent.futures
import json
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable


AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)
CONTACTS = 300
SEED = 29
TOKEN = "fault-suite-secret-token-7f3a9c"

# Retry options for a fast suite, applied only where the connector offers the option.
RETRY_ATTEMPTS = 4
FAST_OPTIONS = {"retry_base_delay": "0.02", "retry_max_delay": "0.1", "timeout": "2.0"}
ATTEMPT_OPTION_NAMES = ("retry_attempts",)
# Smaller pages where a connector lets us choose, so a 300-contact tenant still has lists
# of several pages and a fault can land in the middle of one.
SMALL_PAGE_OPTIONS = {"page_limit": "100", "batch_size": "200"}
SLOW_SECONDS = 3.5  # the sandbox's "slow" fault, past the 2 s client timeout
CASE_TIMEOUT = 60.0  # a case that takes longer is reported as a hang


@dataclass
class Case:
    """One fault scenario. ``expected``: complete | error | either (both are honest)."""

    fault: str
    expected: str
    description: str
    kind: str | None = None  # FAULT_KINDS entry to inject mid-run
    times: int = 1
    options: dict = field(default_factory=dict)
    budget: str | None = None  # "guard" (budget_share), "low" (little left at start), "spent" (gone mid-run)


CASES: list[Case] = [
    Case("429-burst", "complete", "3 consecutive rate-limit answers (the retry policy rides them out)",
         kind="429", times=3),
    Case("429-storm", "error", f"{RETRY_ATTEMPTS * 5} consecutive rate-limit answers, longer than the retry budget",
         kind="429", times=RETRY_ATTEMPTS * 5),
    Case("500", "complete", "two HTTP 500 answers in a row", kind="500", times=2),
    Case("503", "complete", "two HTTP 503 answers in a row", kind="503", times=2),
    Case("5xx-storm", "error", "HTTP 503 for longer than the retry budget", kind="503", times=RETRY_ATTEMPTS * 5),
    Case("timeout", "complete", f"one response slower ({SLOW_SECONDS} s) than the client timeout (2 s)",
         kind="slow", times=1),
    Case("dropped-connection", "complete", "two connections closed without an answer", kind="drop", times=2),
    Case("malformed-json", "complete", "one 200 answer whose body is not JSON", kind="malformed", times=1),
    Case("truncated-page", "complete", "one 200 answer cut in half (Content-Length promises more)",
         kind="truncated", times=1),
    Case("token-expired", "error", "the access token stops being valid mid-run", kind="expire-token", times=1),
    Case("budget-share", "error", "the audit's budget_share of the daily allowance runs out mid-run",
         budget="guard"),
    Case("daily-allowance-low", "error", "the CRM has less daily allowance left than the audit needs "
         "(budget_share = 1: the guard stops before the CRM refuses)", budget="low", options={"budget_share": "1.0"}),
    Case("daily-quota-spent", "error", "other integrations spend the rest of the daily allowance mid-run: "
         "the CRM itself refuses (budget_share = 1)", budget="spent", options={"budget_share": "1.0"}),
]


@dataclass
class Outcome:
    connector: str
    fault: str
    expected: str
    outcome: str  # complete | error | silent-gap | extra-rows | unclear-error | hang | wrong-exit-code | not-covered
    ok: bool
    exit_code: int | None = None
    error: str | None = None
    partial_tables: list = field(default_factory=list)
    records: dict = field(default_factory=dict)
    baseline_records: dict = field(default_factory=dict)
    retries: int = 0
    api_calls: int = 0
    requests: int = 0
    seconds: float = 0.0
    problems: list = field(default_factory=list)
    description: str = ""
    missing_tables: list = field(default_factory=list)  # in the fault-free run, absent here (never begun)
    fault_hit: str | None = None  # the path of the first request the fault landed on

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Baseline:
    records: dict
    requests: int
    usage: int
    duplicate_requests: int
    api_calls: int
    continuation_pages: list = field(default_factory=list)


def sandbox_connectors(registry) -> list:
    return sorted((i for i in registry.connectors.values() if i.sandbox), key=lambda i: i.name)


def connector_options(info, handle) -> dict:
    options = dict(handle.options)
    for key, value in FAST_OPTIONS.items():
        if key in info.options:
            options[key] = value
    for key in ATTEMPT_OPTION_NAMES:
        if key in info.options:
            options[key] = str(RETRY_ATTEMPTS)
    for key, value in SMALL_PAGE_OPTIONS.items():
        if key in info.options:
            options[key] = value
    return options


PAGING_KEYS = ("after", "cursor", "start", "offset", "page", "locator")


def continuation_pages(requests: list[dict]) -> list[int]:
    """Indexes of requests that read a later page of a list: a paging parameter in the
    query (``after``, ``cursor``, ``start``, ...), or a path under a query endpoint
    (Salesforce's ``nextRecordsUrl``, ``/query/<locator>-<offset>``)."""
    from urllib.parse import parse_qs

    found = []
    for i, r in enumerate(requests):
        query = r.get("query") or {}
        if isinstance(query, str):
            query = {k: v[0] for k, v in parse_qs(query).items()}
        path = (r.get("path") or "").rstrip("/")
        paged = any(str(query.get(k) or "") not in ("", "0") for k in PAGING_KEYS)
        if paged or path.rsplit("/", 1)[0].endswith("/query"):
            found.append(i)
    return found


def arm_index(base: "Baseline") -> int:
    """Where to arm a fault: the first later page of a list from the middle of a fault-free
    run on (so the fault lands mid-pagination, after some tables are complete)."""
    middle = max(1, base.requests // 2)
    later = [i for i in base.continuation_pages if i >= middle]
    return later[0] if later else middle


def _duplicates(requests: list[dict]) -> int:
    """Requests sent again unchanged: a retry repeats its request, a page never does."""
    seen = Counter((r.get("method"), r.get("path"), json.dumps(r.get("query"), sort_keys=True, default=str))
                   for r in list(requests))
    return sum(n - 1 for n in seen.values() if n > 1)


def run_one(registry, info, handle, options: dict, out: Path, tenant_name: str = "t"):
    """A real audit with every check (see :func:`.target.audit_once`): (tenant info, exit code, folder)."""
    from .target import audit_once

    tinfo, folder, code = audit_once(registry, info.name, options, out, tenant=tenant_name, as_of=AS_OF,
                                     checks=(), secret=TOKEN)
    return tinfo, code, folder


def _arm_midway(handle, after: int, arm: Callable[[], None], stop: threading.Event, armed: list) -> threading.Thread:
    def watch():
        while not stop.is_set():
            if len(handle.requests) >= after:
                armed.append(len(handle.requests))
                arm()
                return
            time.sleep(0.0005)

    thread = threading.Thread(target=watch, name="fault-arm", daemon=True)
    thread.start()
    return thread


BASELINE_FAILURES: list[str] = []  # fault-free runs that failed once (kept for the report)


def fast_kwargs(fast: dict | None) -> dict:
    return {"slow_seconds": SLOW_SECONDS, **(fast or {})}


def _start(info, sandbox):
    if sandbox is not None:
        return lambda tenant, **kw: sandbox(tenant, token=TOKEN, **kw)
    return lambda tenant, **kw: info.sandbox(tenant, token=TOKEN, **kw)


def baseline(registry, info, tenant, out: Path, attempts: int = 2, fast: dict | None = None,
             extra_options: dict | None = None, sandbox: Callable | None = None) -> Baseline:
    """A fault-free run of the tenant; a second try if the first fails (on a loaded machine a
    fault-free run can still time out), the first failure kept in BASELINE_FAILURES."""
    for attempt in range(attempts):
        with _start(info, sandbox)(tenant, **fast_kwargs(fast)) as handle:
            tinfo, code, _ = run_one(registry, info, handle, {**connector_options(info, handle), **(extra_options or {})},
                                     out)
            if not (tinfo.get("error") or tinfo.get("partial_tables") or code != 0):
                break
            failure = f"{info.name}: the fault-free run failed: {tinfo.get('error')} {tinfo.get('partial_tables')}"
            BASELINE_FAILURES.append(failure)
            if attempt == attempts - 1:
                raise AssertionError(failure)
    return Baseline(records=dict(tinfo["records"]), requests=len(handle.requests),
                    usage=handle.daily_used,
                    duplicate_requests=_duplicates(handle.requests), api_calls=int(tinfo.get("api_calls") or 0),
                    continuation_pages=continuation_pages(handle.requests))


def judge(outcome: Outcome, tinfo: dict, code: int, base: Baseline) -> None:
    records = {k: int(v) for k, v in (tinfo.get("records") or {}).items()}
    partial = list(tinfo.get("partial_tables") or [])
    error = tinfo.get("error")
    outcome.records, outcome.partial_tables, outcome.error, outcome.exit_code = records, partial, error, code
    problems = outcome.problems
    for table, want in sorted(base.records.items()):
        got = records.get(table)
        if table in partial:
            continue
        if got is None:
            if not error:
                problems.append(f"{table}: missing without an error")
            continue
        if got < want:
            problems.append(f"silent gap: {table} has {got} rows, not partial, fault-free run has {want}")
        elif got > want:
            problems.append(f"extra rows: {table} has {got} rows, fault-free run has {want}")
    if error:
        text = str(error)
        if "\n" in text or "Traceback" in text:
            problems.append("error is not one line")
        if TOKEN in text:
            problems.append("error shows the token")
        if code != 3:
            problems.append(f"exit code {code}, not 3")
        if not partial and records == base.records:
            problems.append("error but nothing marked partial and nothing missing")
        kind = "error"
    else:
        if partial:
            problems.append(f"partial tables {partial} without an error")
        if code != 0:
            problems.append(f"exit code {code} without an error")
        kind = "complete"
    if any(p.startswith("silent gap") for p in problems):
        outcome.outcome = "silent-gap"
    elif any(p.startswith("extra rows") for p in problems):
        outcome.outcome = "extra-rows"
    elif any(p.startswith("error") for p in problems):
        outcome.outcome = "unclear-error"
    elif any(p.startswith("exit code") for p in problems):
        outcome.outcome = "wrong-exit-code"
    elif problems:
        outcome.outcome = "inconsistent"
    else:
        outcome.outcome = kind
    if outcome.outcome in ("complete", "error"):
        outcome.ok = outcome.expected in (outcome.outcome, "either")


def run_case(registry, info, tenant, case: Case, base: Baseline, out: Path, fast: dict | None = None,
             extra_options: dict | None = None, sandbox: Callable | None = None) -> Outcome:
    outcome = Outcome(connector=info.name, fault=case.fault, expected=case.expected, outcome="?", ok=False,
                      baseline_records=dict(base.records), description=case.description)
    kwargs = fast_kwargs(fast)
    options_extra = dict(case.options)
    if case.budget:
        if not base.usage:
            outcome.outcome, outcome.ok = "not-covered", True
            outcome.problems.append("the sandbox counted no use of a daily allowance (handle.daily_used)")
            return outcome
        if case.budget == "guard":
            # 20% of this allowance is half of what the audit needs.
            kwargs["daily_limit"] = max(1, int(base.usage * 2.5))
            kwargs["daily_used"] = 0
            options_extra.setdefault("budget_share", "0.2")
        elif case.budget == "low":
            limit = base.usage * 100
            kwargs["daily_limit"] = limit
            kwargs["daily_used"] = limit - base.usage // 2
    started = time.monotonic()
    stop = threading.Event()
    armed: list[int] = []
    with _start(info, sandbox)(tenant, **kwargs) as handle:
        if case.kind:
            _arm_midway(handle, arm_index(base), lambda: handle.inject(case.kind, times=case.times),
                        stop, armed)
        elif case.budget == "spent":
            _arm_midway(handle, arm_index(base), handle.spend_daily_allowance, stop, armed)
        options = connector_options(info, handle)
        options.update(extra_options or {})
        options.update(options_extra)
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        future = pool.submit(run_one, registry, info, handle, options, out)
        try:
            tinfo, code, _ = future.result(timeout=CASE_TIMEOUT)
        except concurrent.futures.TimeoutError:
            stop.set()
            outcome.outcome, outcome.seconds = "hang", round(time.monotonic() - started, 2)
            outcome.problems.append(f"no result after {CASE_TIMEOUT:.0f} s")
            outcome.requests = len(handle.requests)
            pool.shutdown(wait=False)
            return outcome
        finally:
            stop.set()
        pool.shutdown(wait=False)
        outcome.seconds = round(time.monotonic() - started, 2)
        outcome.requests = len(handle.requests)
        outcome.retries = max(0, _duplicates(handle.requests) - base.duplicate_requests)
        outcome.api_calls = int(tinfo.get("api_calls") or 0)
        if armed and armed[0] < len(handle.requests):
            hit = handle.requests[armed[0]]
            outcome.fault_hit = f"{hit.get('method')} {hit.get('path')}"
    judge(outcome, tinfo, code, base)
    outcome.missing_tables = sorted(t for t in base.records if t not in outcome.records and t not in outcome.partial_tables)
    return outcome


def write_outcomes(path: Path, outcomes: list[Outcome], meta: dict | None = None) -> None:
    data = {"generated_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
            "contacts": CONTACTS, "seed": SEED, "retry_attempts": RETRY_ATTEMPTS,
            "fast_options": FAST_OPTIONS, "meta": meta or {}, "baseline_failures": list(BASELINE_FAILURES),
            "cases": [{"fault": c.fault, "expected": c.expected, "description": c.description} for c in CASES],
            "outcomes": [o.to_json() for o in outcomes]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
