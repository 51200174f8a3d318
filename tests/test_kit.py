"""The connector kit (crm_audit_core.kit) and the sandbox base (crm_audit_core.sandbox.server).

Calls go over real HTTP to a tiny SandboxApp served on 127.0.0.1: the same base every
vendor sandbox builds on.
"""

from __future__ import annotations

import pytest
import requests

from crm_audit_core.errors import AuthError, BudgetExhausted, ConfigError, ConnectorError
from crm_audit_core.extract import MemorySink
from crm_audit_core.http import BudgetGuard, CallStats, RateLimiter
from crm_audit_core.kit import CallPolicy, Option, Options, Source, TableReader, Unavailable, Verdict, grouped
from crm_audit_core.sandbox.server import DAILY, SandboxApp, start
from crm_audit_core.secrets import redact

TOKEN = "kit-test-token-4f2a"


class TinyCrm(SandboxApp):
    """Ten records, pages of ``limit``; auth by a bearer token; vendor-shaped errors."""

    vendor = "tiny"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.tokens = {TOKEN}
        self.records = [{"id": i, "name": f"r{i}"} for i in range(1, 11)]

    def authenticate(self, request):
        if request.headers.get("Authorization") != f"Bearer {TOKEN}" or TOKEN not in self.tokens:
            return self.json({"error": "bad token"}, 401)
        return None

    def expire_token(self, request):
        self.tokens.clear()

    def fault_response(self, kind, request):
        return self.json({"error": f"tiny {kind}"}, int(kind), {"Retry-After": "0"} if kind == "429" else {})

    def rate_limited(self, request, policy, reset):
        return self.json({"error": "daily" if policy == DAILY else "window"}, 429, {"Retry-After": "0"})

    def limit_headers(self, request, remaining, reset):
        return {"X-Daily-Remaining": str(self.daily_remaining)} if self.daily_limit else {}

    def route(self, request):
        start_at = int(request.args.get("after", 0))
        limit = int(request.args.get("limit", 4))
        page = self.records[start_at:start_at + limit]
        after = start_at + limit if start_at + limit < len(self.records) else None
        return self.json({"data": page, "after": after})

    def put_record(self, table, row, when=None):
        self.records.append(dict(row))


@pytest.fixture
def crm():
    handle = start(TinyCrm(daily_limit=1000), lambda served: {"base_url": served.url, "access_token": TOKEN})
    yield handle
    handle.stop()


def classify(response):
    if response.status_code == 200:
        try:
            return Verdict.ok(response.json())
        except ValueError:
            return Verdict.retry("malformed body")
    if response.status_code == 401:
        return Verdict.auth_failed("token refused", hint="check access_token")
    if response.status_code == 403:
        return Verdict.unavailable("not on this plan")
    if response.status_code == 429:
        if response.json().get("error") == "daily":
            return Verdict.quota_spent("daily allowance spent")
        return Verdict.rate_limited("429", retry_after=0)
    if response.status_code >= 500:
        return Verdict.retry(f"HTTP {response.status_code}")
    return Verdict.fatal(f"HTTP {response.status_code}")


def policy_for(handle, **kw):
    stats = CallStats()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    policy = CallPolicy("Tiny", handle.url, stats=stats, attempts=kw.pop("attempts", 4), base_delay=0.001,
                        max_delay=0.01, **kw)

    def get(after=0):
        return policy.call("tiny list", lambda: session.get(handle.url + "/list", params={"after": after},
                                                            timeout=kw.get("timeout", 2)), classify)
    return policy, get


# ----------------------------------------------------------------------------- options

def test_options_one_error_style_and_empty_strings_unset(monkeypatch):
    o = Options({"n": "12", "b": "yes", "d": "2m", "empty": "", "bad": "lots", "flag": "perhaps"}, "tiny")
    assert o.integer("n", 1) == 12 and o.boolean("b", False) is True and o.duration("d", 1) == 120
    assert o.integer("empty", 7) == 7 and o.text("empty") is None and "empty" not in o
    with pytest.raises(ConfigError, match=r"option 'bad' of the tiny connector must be a whole number, got 'lots'"):
        o.integer("bad", 1)
    with pytest.raises(ConfigError, match=r"must be a whole number from 1 to 5, got '12'"):
        o.integer("n", 1, minimum=1, maximum=5)
    with pytest.raises(ConfigError, match="must be true or false"):
        o.boolean("flag", True)
    with pytest.raises(ConfigError, match="needs option 'base_url'"):
        o.text("base_url", required=True)


def test_secret_option_from_environment_is_masked_and_never_echoed(monkeypatch):
    monkeypatch.setenv("TINY_TOKEN", "env-secret-value-91")
    o = Options({"bad_secret": ["x"]}, "tiny")
    assert o.secret("api_token", env=("TINY_TOKEN",)) == "env-secret-value-91"
    assert redact("sent env-secret-value-91") == "sent ***"
    with pytest.raises(ConfigError) as err:
        o.secret("bad_secret")
    assert "['x']" not in str(err.value)
    with pytest.raises(ConfigError, match="TINY_OTHER"):
        Options({}, "tiny").secret("other_token", env=("TINY_OTHER",), required=True)


def test_option_spec_flags_secrets_and_required():
    from crm_audit_core.connector import ConnectorInfo

    info = ConnectorInfo("tiny", lambda o, c: None, options={
        "api_token": "the token", "base_url": Option("where", required=True), "page_key": Option("x", secret=False)})
    assert info.secret_options() == ["api_token"]
    assert info.required_options == ("base_url",)
    assert str(info.options["base_url"]) == "where"


# ----------------------------------------------------------------------------- call policy

def test_policy_reads_through_faults_with_retries(crm):
    policy, get = policy_for(crm, attempts=6)
    crm.inject("500")
    crm.inject("429", path_contains="/list")
    crm.inject("malformed")
    crm.inject("truncated")
    crm.inject("drop")
    assert get()["data"][0]["id"] == 1
    assert policy.stats.retries == 5
    assert [r["status"] for r in crm.requests] == [500, 429, 200, 200, 0, 200]


def test_policy_after_lets_that_many_through_then_fails(crm):
    policy, get = policy_for(crm, attempts=1)
    crm.inject("500", times=1, after=2)
    get(); get()
    with pytest.raises(ConnectorError, match="still failing after 1 attempts"):
        get()
    assert [r["status"] for r in crm.requests] == [200, 200, 500]


def test_policy_auth_failure_is_not_retried(crm):
    policy, get = policy_for(crm)
    crm.inject("expire-token")
    with pytest.raises(AuthError, match="token refused"):
        get()
    assert len(crm.requests) == 1


def test_policy_budget_guard_and_spent_quota(crm):
    policy, get = policy_for(crm)
    crm.spend_daily_allowance()
    with pytest.raises(BudgetExhausted, match="daily allowance spent"):
        get()
    assert len(crm.requests) == 1
    guard = BudgetGuard(share=0.5, crm="Tiny")
    guard.observe(limit=4, remaining=4)
    policy, get = policy_for(crm, budget=guard)
    crm.app.daily_used = 0
    get(); get()
    with pytest.raises(BudgetExhausted, match="at most 50%"):
        get()


def test_policy_unavailable_and_limiter_record(crm):
    policy, _ = policy_for(crm, limiter=RateLimiter(100, 1.0))
    with pytest.raises(Unavailable, match="not on this plan"):
        policy.call("optional", lambda: type("R", (), {"status_code": 403})(), classify)
    assert policy.stats.calls == 1 and policy.limiter.delay() == 0


def test_sandbox_window_counts_arrivals(crm):
    crm.app.window.limit, crm.app.window.seconds = 2, 30
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    statuses = [session.get(crm.url + "/list").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_truncated_keeps_full_content_length(crm):
    crm.inject("truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(crm.url + "/list", headers={"Authorization": f"Bearer {TOKEN}"}).json()


def test_handle_typed_mutation_api_and_writes(crm):
    crm.put_record("contacts", {"id": 11, "name": "r11"})
    assert crm.app.records[-1]["id"] == 11
    requests.post(crm.url + "/list", headers={"Authorization": f"Bearer {TOKEN}"})
    assert [w["method"] for w in crm.writes()] == ["POST"]


def test_inject_refuses_unknown_kind(crm):
    with pytest.raises(ValueError, match="unknown fault kind"):
        crm.inject("teapot")


# ----------------------------------------------------------------------------- table reader

class ResumableSink(MemorySink):
    def __init__(self, state=None, fail_after=None):
        super().__init__("t")
        self.state = state
        self.fail_after = fail_after

    def resume_state(self, table):
        return self.state

    def checkpoint(self, table, state):
        super().checkpoint(table, state)
        self.state = state
        if self.fail_after is not None and len(self.checkpoints[table]) >= self.fail_after:
            raise ConnectorError("killed")


def _sources(calls):
    def pages_of(name, n):
        def pages(position):
            calls.append((name, position))
            start_at = position or 0
            for i in range(start_at, n, 2):
                yield [{"id": f"{name}{j}"} for j in range(i, min(i + 2, n))], i + 2
        return pages
    return [Source("a", pages_of("a", 5)), Source("b", pages_of("b", 3))]


def test_reader_reads_every_source_and_completes():
    sink, calls = ResumableSink(), []
    assert TableReader(sink, "contacts").read(_sources(calls)) == 8
    assert [r["id"] for r in sink.rows["contacts"]] == ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2"]
    assert "contacts" in sink.completed


def test_reader_resumes_from_the_last_checkpoint_without_duplicates():
    sink, calls = ResumableSink(fail_after=4), []
    with pytest.raises(ConnectorError):
        TableReader(sink, "contacts").read(_sources(calls), meta={"mode": "full"})
    first = [r["id"] for r in sink.rows["contacts"]]
    resumed = ResumableSink(state=sink.state)
    reader = TableReader(resumed, "contacts")
    assert reader.meta == {"mode": "full"} and reader.resuming
    reader.read(_sources(calls))
    assert first + [r["id"] for r in resumed.rows["contacts"]] == \
        ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2"]


def test_reader_carries_forward_with_deleted_ids_after_finish():
    sink, calls = ResumableSink(), []
    order = []
    TableReader(sink, "contacts").read(_sources(calls), previous="prev", deleted_ids=lambda: ["x1"],
                                       finish=lambda reader: order.append("finish") or 0)
    assert order == ["finish"] and sink.carried == [("contacts", "prev", ["x1"])]


def test_grouped_maps_pages_together_and_yields_them_one_by_one():
    mapped = []

    def to_rows(records):
        mapped.append(len(records))
        return [None if r == 3 else {"id": r} for r in records]

    pages = [([1, 2], "p1"), ([3, 4], "p2"), ([5], "p3")]
    out = list(grouped(iter(pages), 2, to_rows))
    assert mapped == [4, 1]
    assert out == [([{"id": 1}, {"id": 2}], "p1"), ([{"id": 4}], "p2"), ([{"id": 5}], "p3")]


def test_reader_last_page_with_no_position_is_never_read_again():
    """A source whose last page has position None: a kill right after that page's checkpoint
    resumes with the next source, not the same one from the start."""
    def pages(position):
        if position is None:
            yield [{"id": "p1"}], "after-p1"
            yield [{"id": "p2"}], None
        elif position == "after-p1":
            yield [{"id": "p2"}], None

    sink = ResumableSink(fail_after=2)
    sources = [Source("a", pages), Source("b", lambda position: iter([([{"id": "b1"}], None)]))]
    with pytest.raises(ConnectorError):
        TableReader(sink, "contacts").read(sources)
    assert sink.state["source"] == "b"
    resumed = ResumableSink(state=sink.state)
    TableReader(resumed, "contacts").read(sources)
    assert [r["id"] for r in sink.rows["contacts"] + resumed.rows["contacts"]] == ["p1", "p2", "b1"]


def test_grouped_yields_the_pages_read_before_a_failure_then_the_error():
    def pages():
        yield [1], "p1"
        yield [2], "p2"
        raise ConnectorError("lost")

    out = []
    with pytest.raises(ConnectorError, match="lost"):
        for item in grouped(pages(), 5, lambda records: [{"id": r} for r in records]):
            out.append(item)
    assert out == [([{"id": 1}], "p1"), ([{"id": 2}], "p2")]


def test_a_fatal_verdict_can_carry_the_connectors_own_error(crm):
    class ExpiredCursor(ConnectorError):
        pass

    policy, _ = policy_for(crm)
    with pytest.raises(ExpiredCursor):
        policy.apply("page", Verdict.fatal("400", error=ExpiredCursor("cursor expired")))


def test_utc_datetime_reads_every_vendors_timestamps():
    from datetime import date, datetime, timedelta, timezone

    from crm_audit_core.kit import utc_datetime

    want = datetime(2024, 3, 5, 10, 22, 33, tzinfo=timezone.utc)
    for text in ("2024-03-05T10:22:33.000Z", "2024-03-05T10:22:33.000+0000", "2024-03-05T17:22:33+07:00",
                 "2024-03-05 10:22:33", "1709634153000", 1709634153000, datetime(2024, 3, 5, 10, 22, 33),
                 datetime(2024, 3, 5, 19, 22, 33, tzinfo=timezone(timedelta(hours=9)))):
        got = utc_datetime(text)
        assert got == want and got.tzinfo == timezone.utc, text
    assert utc_datetime("2024-03-05") == utc_datetime(date(2024, 3, 5)) == datetime(2024, 3, 5, tzinfo=timezone.utc)
    assert utc_datetime(None) is None and utc_datetime("") is None
    with pytest.raises(ValueError):
        utc_datetime("last tuesday")


def test_options_verify_choice_and_durations(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert Options({"ca_bundle": str(bundle)}, "tiny").verify() == str(bundle)
    assert Options({"verify": "false"}, "tiny").verify() is False
    assert Options({}, "tiny").verify() is True
    with pytest.raises(ConfigError, match="option 'ca_bundle' of the tiny connector must be the path of an existing"):
        Options({"ca_bundle": str(tmp_path / "missing.pem")}, "tiny").verify()
    with pytest.raises(ConfigError, match="true, false or the path of a CA bundle file"):
        Options({"verify": "sometimes"}, "tiny").verify()
    assert Options({"mode": "BULK"}, "tiny").choice("mode", ("rest", "bulk"), "rest") == "bulk"
    with pytest.raises(ConfigError, match="one of 'rest', 'bulk'"):
        Options({"mode": "soap"}, "tiny").choice("mode", ("rest", "bulk"), "rest")
    assert Options({"t": "500ms"}, "tiny").duration("t", 1) == 0.5
    assert Options({"t": "1h"}, "tiny").duration("t", 1) == 3600
    assert Options({"t": 2}, "tiny").duration("t", 1) == 2.0
    with pytest.raises(ConfigError, match="a duration such as 30"):
        Options({"t": "soon"}, "tiny").duration("t", 1)
    with pytest.raises(ConfigError, match="at least 0 seconds"):
        Options({"t": -1}, "tiny").duration("t", 1)
