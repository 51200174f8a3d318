"""Starting the sandbox: builds the org from a canonical tenant and serves the app over
HTTPS on 127.0.0.1 through the kit's :func:`crm_audit_core.sandbox.server.start` (TLS with
a throwaway CA, since simple-salesforce only speaks https)."""

from __future__ import annotations

from typing import Any

from crm_audit_core.connector import SandboxHandle
from crm_audit_core.sandbox.server import start

from .app import SalesforceSandbox
from .builder import build_org
from .org import tenant_as_of


def start_sandbox(tenant: Any, *, token: str = "sandbox-token", as_of=None, connector_options: dict | None = None,
                  **kwargs) -> SandboxHandle:
    """Serve ``tenant`` as a Salesforce org over HTTPS on 127.0.0.1 (ephemeral port).

    The kit's keywords: ``rate_limit`` / ``rate_window`` (calls per window; over it a 403
    ``REQUEST_LIMIT_EXCEEDED``), ``daily_limit`` / ``daily_used`` (the daily API allowance,
    reported in ``Sforce-Limit-Info``), ``slow_seconds`` (the "slow" fault), ``retry_after``
    (unused: Salesforce sends no Retry-After). Salesforce's: ``bulk_in_progress_polls``
    (job-info polls that answer ``InProgress``), ``login_history=False`` /
    ``mfa_info=False`` / ``record_count_access=False`` / ``ui_api=False`` (the audit user
    lacks the permission), ``record_counts`` (object -> the count ``limits/recordCount`` reports,
    e.g. stale ones), ``limit_info_on_refusal=False`` (the daily allowance's 403 without
    ``Sforce-Limit-Info``), ``username`` / ``password`` / ``security_token`` /
    ``consumer_key`` / ``public_key`` (login emulation); ``connector_options``: options
    that name org-specific custom fields, passed through to the connector.
    """
    when = tenant_as_of(tenant, as_of)
    connector_options = dict(connector_options or {})
    org = build_org(tenant, when, connector_options)
    app = SalesforceSandbox(org, token, **kwargs)

    def options(served) -> dict:
        return {"instance_url": served.url, "session_id": token, "ca_bundle": served.ca_bundle,
                "api_version": org.api_version, **connector_options}

    read_only = tuple(f"/services/data/v{v}/jobs/query" for v in org.versions) + (
        "/services/oauth2/token", "/services/Soap/u/")
    return start(app, options, tls=True, read_only_posts=read_only,
                 extra={"ids": dict(org.ids), "org": org, "as_of": when,
                        "stage_keys": dict(org.stage_keys)})
