"""Fixtures: a generated tenant (with the planted Mailchimp sync-count skew) and the Mailchimp
sandbox serving it over real HTTP."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crm_audit_core.sandbox import generate_tenant
from crm_audit_mailchimp.sandbox import start_sandbox

# Fast retries and a short timeout so fault tests stay quick.
FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "rate_limit": 1000, "retry_attempts": 3}


# A fixed date: the generator names campaigns "<title> <year-month>" back from its as_of,
# and from 2026-12-07 "today" gave two e-mail campaigns one name, which the tests below
# (one campaign per title) cannot tell apart.
AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def tenant():
    return generate_tenant(contacts=1500, seed=11, defects=True, name="mc", as_of=AS_OF)


@pytest.fixture
def sandbox(tenant):
    with start_sandbox(tenant) as handle:
        yield handle


@pytest.fixture
def official_client(sandbox):
    """Mailchimp's official client, configured as its README says, pointed at the sandbox
    through its configured host."""
    import mailchimp_marketing as MailchimpMarketing

    client = MailchimpMarketing.Client()
    client.set_config({"api_key": sandbox.options["api_key"], "server": "us21"})
    client.api_client.host = sandbox.options["base_url"]
    return client
