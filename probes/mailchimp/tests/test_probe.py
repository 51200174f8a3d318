"""The probe against its sandbox over real HTTP: the counts it reads are the tenant's, each
failure is one clear line without the secret, and it only ever reads."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crm_audit_core.errors import AuthError, BudgetExhausted, ConfigError, ConnectorError
from crm_audit_core.probes import ProbeContext, SyncCount
from crm_audit_mailchimp.probe import EXPECTED, MailchimpProbe, create_probe
from crm_audit_mailchimp.sandbox import split_by_status, start_sandbox

from .conftest import FAST

KEY = "0123456789abcdef0123456789abcdef-us21"


def context() -> ProbeContext:
    return ProbeContext(tenant="mc", as_of=datetime(2026, 3, 1, tzinfo=timezone.utc), integrations=[])


def read(options: dict) -> list[SyncCount]:
    probe = create_probe({**FAST, **options}, context())
    try:
        return list(probe.read(context()))
    finally:
        probe.close()


def totals(rows) -> dict:
    return {(r.object, r.measure): r.value for r in rows if r.key is None}


def test_counts_are_the_tenants(sandbox, tenant):
    rows = read(sandbox.options)
    assert all(isinstance(r, SyncCount) and r.integration == "Mailchimp" for r in rows)
    reported = int(next(r for r in tenant.rows("integrations") if r["name"] == "Mailchimp")["records_reported"])
    split = split_by_status(reported)
    got = totals(rows)
    assert set(got) == set(EXPECTED)
    assert got[("contacts", "records")] == reported  # every status but archived
    for status in ("subscribed", "unsubscribed", "cleaned", "pending", "archived"):
        assert got[("contacts", status)] == split[status]
    crm = sum(1 for c in tenant.rows("contacts") if c["source_detail"] == "Mailchimp")
    assert got[("contacts", "records")] >= crm * 1.25  # what sync-count-mismatch must find
    assert all(r.value is not None and r.missing is None and "GET /3.0/" in r.source for r in rows)

    campaigns = {c["name"]: c for c in tenant.rows("campaigns")}
    per_campaign: dict[str, dict] = {}
    for r in rows:
        if r.key is not None:
            assert r.object == "campaigns"
            per_campaign.setdefault(r.key, {})[r.measure] = r.value
    emails = [n for n, c in campaigns.items() if c["type"] == "email"]
    surveys = [n for n, c in campaigns.items() if c["type"] == "survey"]
    assert sorted(per_campaign) == sorted(emails + surveys)
    for name in emails:
        crm, tool = campaigns[name], per_campaign[name]
        assert set(tool) == {"sent", "delivered", "opened", "bounced"}
        assert tool["sent"] == crm["sent"] and tool["delivered"] == min(crm["delivered"], crm["sent"])
        assert tool["bounced"] == tool["sent"] - tool["delivered"]
        assert tool["opened"] == min(crm["opened"], tool["delivered"])
    for name in surveys:
        assert per_campaign[name] == {"responses": min(campaigns[name]["responses"], campaigns[name]["sent"])}


def test_only_gets_and_the_call_count(sandbox):
    probe = create_probe({**FAST, **sandbox.options}, context())
    probe.read(context())
    assert {r["method"] for r in sandbox.requests} == {"GET"}
    assert probe.api_calls == len(sandbox.requests) == 9  # lists, 6 statuses, reports, surveys


def test_list_id_given(sandbox):
    rows = read({**sandbox.options, "list_id": sandbox.extra["list_id"]})
    assert totals(rows)[("contacts", "records")] > 0
    assert sandbox.requests[0]["path"] == f"/3.0/lists/{sandbox.extra['list_id']}"


def test_integration_name_option(sandbox):
    rows = read({**sandbox.options, "integration": "Mailchimp EU"})
    assert {r.integration for r in rows} == {"Mailchimp EU"}


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and KEY not in text and "Traceback" not in text
    return text


def test_wrong_key_is_one_clear_line(sandbox):
    wrong = "f" * 32 + "-us21"
    with pytest.raises(AuthError) as refused:
        read({**sandbox.options, "api_key": wrong})
    text = one_line(refused.value)
    assert wrong not in text and "HTTP 401" in text and "API Key Invalid" in text and "api_key" in text
    assert len(sandbox.requests) == 1  # never retried


def test_timeout_is_one_clear_line(tenant):
    with start_sandbox(tenant, slow_seconds=1.0) as handle:
        handle.inject("slow", times=10)
        with pytest.raises(ConnectorError) as slow:
            read({**handle.options, "timeout": 0.2, "retry_attempts": 2})
    text = one_line(slow.value)
    assert "did not answer within 0.2 seconds" in text and "2 attempts" in text and "'timeout'" in text


def test_audience_that_does_not_exist_is_one_clear_line(sandbox):
    with pytest.raises(ConnectorError) as missing:
        read({**sandbox.options, "list_id": "0000000000"})
    text = one_line(missing.value)
    assert "no audience with list_id '0000000000'" in text
    assert f"'Newsletter' (list_id {sandbox.extra['list_id']})" in text


def test_several_audiences_need_list_id(tenant):
    with start_sandbox(tenant, extra_audiences=("Events",)) as handle:
        with pytest.raises(ConfigError) as ambiguous:
            read(handle.options)
        assert "needs option 'list_id'" in one_line(ambiguous.value) and "'Events'" in str(ambiguous.value)
        events = next(i for i, n in handle.extra["audiences"].items() if n == "Events")
        assert totals(read({**handle.options, "list_id": events}))[("contacts", "records")] == 0


@pytest.mark.parametrize("fault", ["500", "503", "429", "malformed", "truncated", "drop"])
def test_transient_faults_are_retried(sandbox, fault):
    sandbox.inject(fault, times=1, path_contains="/members")
    rows = read(sandbox.options)
    assert totals(rows)[("contacts", "records")] > 0
    assert len(sandbox.requests) == 10


def test_persistent_5xx_gives_up_with_one_line(sandbox):
    sandbox.inject("503", times=10, path_contains="/reports")
    with pytest.raises(ConnectorError) as failing:
        read(sandbox.options)
    text = one_line(failing.value)
    assert "GET /3.0/reports" in text and "3 attempts" in text and "HTTP 503" in text


def test_max_calls_stops_the_probe(sandbox):
    with pytest.raises(BudgetExhausted) as spent:
        read({**sandbox.options, "max_calls": 4})
    assert "max_calls allows 4" in one_line(spent.value)
    assert len(sandbox.requests) == 4


def test_options_are_checked_before_any_call():
    with pytest.raises(ConfigError, match="needs option 'api_key'"):
        MailchimpProbe({}, context())
    with pytest.raises(ConfigError, match="needs option 'server'"):
        MailchimpProbe({"api_key": "0123456789abcdef"}, context())
    with pytest.raises(ConfigError, match="option 'server'"):
        MailchimpProbe({"api_key": KEY, "server": "https://x"}, context())
    with pytest.raises(ConfigError, match="option 'timeout'"):
        MailchimpProbe({"api_key": KEY, "timeout": "soon"}, context())
    probe = MailchimpProbe({"api_key": KEY}, context())
    assert probe.host == "https://us21.api.mailchimp.com/3.0" and probe.api_calls == 0
    assert MailchimpProbe({"api_key": "abc", "server": "US6"}, context()).host == "https://us6.api.mailchimp.com/3.0"
