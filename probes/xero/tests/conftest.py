"""Fixtures of the xero probe's tests: a generated tenant, its Xero sandbox, the probe as
the plugin registers it, and the counts the tenant implies (computed from its rows, not
from the sandbox)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crm_audit_core import ProbeContext
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.sandbox import generate_tenant

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)
INTEGRATION = "Accounting Sync"


@pytest.fixture(scope="session")
def tenant():
    return generate_tenant(contacts=1500, seed=11, name="acme", as_of=AS_OF)


@pytest.fixture(scope="session")
def truth(tenant):
    """What the CRM says its accounting sync created: companies and won deals."""
    def synced(row):
        return (row.get("source_detail") or "").casefold() == INTEGRATION.casefold()

    return {"companies": sum(1 for c in tenant.rows("companies") if synced(c)),
            "deals": sum(1 for d in tenant.rows("deals") if synced(d) and d["is_won"])}


@pytest.fixture(scope="session")
def info():
    return build_plugin_manager().probes["xero"]


@pytest.fixture
def sandbox(info, tenant):
    with info.sandbox(tenant, retry_after=0.01) as handle:
        yield handle


@pytest.fixture
def context():
    return ProbeContext(tenant="acme", as_of=AS_OF, integrations=[{"id": "1", "name": INTEGRATION, "kind": "accounting"}])


@pytest.fixture
def read(info, context):
    """read(options) -> the probe's counts as {object: SyncCount}, and the probe."""
    def read(options):
        probe = info.factory(dict(options), context)
        try:
            return {c.object: c for c in probe.read(context)}, probe
        finally:
            probe.close()

    return read
