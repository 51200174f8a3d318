"""The xero probe against its sandbox over HTTP: the counts equal the tenant's, paging at
the largest page size, and each failure (a wrong secret, a timeout, an unknown
organisation, limits) is one clear line without a secret."""

from __future__ import annotations

import math

import pytest

from crm_audit_core.errors import AuthError, BudgetExhausted, ConfigError, ConnectorError
from crm_audit_xero.sandbox import start_sandbox

SECRET = "sandbox-client-secret"
INTEGRATION = "Accounting Sync"  # the generator's accounting integration (conftest.INTEGRATION)


def lists(handle, name):
    return [r for r in handle.requests if r["path"].endswith("/" + name)]


def test_counts_equal_the_tenants(sandbox, read, truth):
    counts, probe = read(sandbox.options)
    assert counts["companies"].value == truth["companies"] > 0
    assert counts["deals"].value == truth["deals"] > 0
    assert (counts["companies"].measure, counts["deals"].measure) == ("records", "won")
    for count in counts.values():
        assert (count.integration, count.key, count.missing) == (INTEGRATION, None, None)
    assert "not archived" in counts["companies"].source and "GET /api.xro/2.0/Contacts" in counts["companies"].source
    assert "AUTHORISED or PAID" in counts["deals"].source
    # token, connections, one page of contacts, one page of invoices
    assert probe.api_calls == 4 == len(sandbox.requests)
    [contacts], [invoices] = lists(sandbox, "Contacts"), lists(sandbox, "Invoices")
    assert contacts["query"] == {"page": "1", "pageSize": "1000", "summaryOnly": "True"}
    assert invoices["query"] == {"where": 'Type=="ACCREC"', "Statuses": "AUTHORISED,PAID", "page": "1",
                                 "pageSize": "1000", "summaryOnly": "True"}
    assert sandbox.writes() == []


def test_small_pages_give_the_same_counts(sandbox, read, truth):
    counts, _ = read(dict(sandbox.options, page_size=7))
    assert (counts["companies"].value, counts["deals"].value) == (truth["companies"], truth["deals"])
    assert len(lists(sandbox, "Contacts")) == math.ceil(truth["companies"] / 7)
    assert len(lists(sandbox, "Invoices")) == math.ceil(truth["deals"] / 7)
    assert {r["query"]["pageSize"] for r in lists(sandbox, "Contacts")} == {"7"}


def test_the_integration_option_names_whose_counts_they_are(sandbox, read, info):
    counts, _ = read(dict(sandbox.options, integration="Xero Sync"))
    assert {c.integration for c in counts.values()} == {"Xero Sync"}
    options = dict(sandbox.options)
    del options["integration"]
    counts, _ = read(options)
    assert {c.integration for c in counts.values()} == {"Xero"} and info.integration == "Xero"
    assert info.expected == (("companies", "records"), ("deals", "won"))


def one_line(exc) -> str:
    line = exc.one_line()
    assert "\n" not in line and SECRET not in line and "Traceback" not in line
    return line


def test_a_wrong_secret_is_one_line(sandbox, read):
    with pytest.raises(AuthError) as refused:
        read(dict(sandbox.options, client_secret="wr0ng-s3cret"))
    line = one_line(refused.value)
    assert "POST /connect/token: Xero's identity server refused the client id and secret (invalid_client)" in line
    assert "wr0ng-s3cret" not in line and "client_secret" in line
    assert [r["path"] for r in sandbox.requests] == ["/connect/token"]  # not retried, nothing read


def test_a_timeout_is_one_line(sandbox, read):
    sandbox.app.slow_seconds = 1.0
    sandbox.inject("slow", times=10, path_contains="/api.xro/2.0/Contacts")
    with pytest.raises(ConnectorError) as slow:
        read(dict(sandbox.options, timeout=0.2, retry_attempts=2, retry_base_delay=0.01))
    line = one_line(slow.value)
    assert "GET /api.xro/2.0/Contacts page 1 still failing after 2 attempts" in line
    assert "Xero did not answer within 0.2 seconds (option timeout)" in line
    assert len(lists(sandbox, "Contacts")) == 2  # the client's own retries are off: the policy's are counted


def test_an_unknown_tenant_id_is_one_line(sandbox, read):
    with pytest.raises(ConnectorError) as unknown:
        read(dict(sandbox.options, tenant_id="11111111-2222-3333-4444-555555555555"))
    line = one_line(unknown.value)
    assert "Xero organisation '11111111-2222-3333-4444-555555555555' (option tenant_id) is not one this connection " \
           "may read; it may read 1: 'acme (crm-audit sandbox)'" in line
    assert sandbox.extra["tenant_id"] in line and lists(sandbox, "Contacts") == []
    counts, _ = read(dict(sandbox.options, tenant_id=sandbox.extra["tenant_id"].upper()))
    assert counts["companies"].value > 0


def test_refusals_after_the_token_are_one_line(sandbox, read):
    sandbox.inject("500", times=5, path_contains="/Invoices")
    with pytest.raises(ConnectorError) as failing:
        read(dict(sandbox.options, retry_attempts=2, retry_base_delay=0.01))
    assert "GET /api.xro/2.0/Invoices page 1 still failing after 2 attempts: GET /api.xro/2.0/Invoices page 1: " \
           "Xero answered HTTP 500" in one_line(failing.value)
    listed = dict(sandbox.app.organisation.connection(), tenantId="99999999-0000-0000-0000-000000000000")
    sandbox.app.organisation.connection = lambda: listed  # GET /connections lists one the API refuses (403)
    with pytest.raises(AuthError) as refused:
        read(sandbox.options)
    assert "Xero refused access to the organisation (HTTP 403, AuthenticationUnsuccessful)" in one_line(refused.value)


def test_rate_limits_and_a_revoked_token_are_recovered(sandbox, read, truth):
    sandbox.inject("429", times=2, path_contains="/Invoices")
    sandbox.inject("expire-token", times=1, path_contains="/Contacts")
    counts, probe = read(dict(sandbox.options, retry_base_delay=0.01))
    assert (counts["companies"].value, counts["deals"].value) == (truth["companies"], truth["deals"])
    assert [r["path"] for r in sandbox.requests].count("/connect/token") == 2
    assert [r["status"] for r in lists(sandbox, "Invoices")] == [429, 429, 200]
    assert probe.api_calls == len(sandbox.requests)


def test_the_days_limit_and_max_calls_stop_the_probe(info, tenant, read):
    with info.sandbox(tenant, daily_limit=5000, daily_used=4998) as handle:
        with pytest.raises(BudgetExhausted) as guarded:  # the kit's budget guard, from X-DayLimit-Remaining
            read(handle.options)
        assert "Xero has 1 daily API calls left of the 2 there were when the audit started" in one_line(guarded.value)
    with info.sandbox(tenant) as handle:
        handle.spend_daily_allowance(after=1)  # other apps spend the day's calls after /connections
        with pytest.raises(BudgetExhausted) as spent:  # Xero's own 429 with X-Rate-Limit-Problem: day
            read(handle.options)
        assert "Xero's daily limit of 5000 calls for this organisation is spent" in one_line(spent.value)
        assert handle.requests[-1]["status"] == 429
    with info.sandbox(tenant) as handle:
        with pytest.raises(BudgetExhausted) as capped:
            read(dict(handle.options, max_calls=3, page_size=50))
        assert "option max_calls of the xero probe allows 3" in one_line(capped.value)
        assert len(handle.requests) == 3


def test_an_access_token_instead_of_a_custom_connection(tenant, read, truth):
    with start_sandbox(tenant, access_token="long-lived-test-token") as handle:
        counts, _ = read({"access_token": "long-lived-test-token", "api_url": handle.url, "integration": INTEGRATION})
        assert counts["deals"].value == truth["deals"]
        assert "/connect/token" not in [r["path"] for r in handle.requests]


@pytest.mark.parametrize("options, message", [
    ({"client_id": "abc"}, "needs option 'client_secret'"),
    ({}, "needs option 'client_id'"),
    ({"access_token": "t", "page_size": 1001}, "option 'page_size' of the xero probe must be a whole number from 1 to 1000"),
    ({"access_token": "t", "timeout": "soon"}, "option 'timeout'"),
])
def test_bad_options_are_usage_errors_before_any_call(info, context, options, message):
    with pytest.raises(ConfigError, match=message):
        info.factory(options, context)
