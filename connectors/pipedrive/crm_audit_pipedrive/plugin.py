"""Registers the Pipedrive connector with crm-audit (entry point group crm_audit)."""

from __future__ import annotations

from crm_audit_core import ConnectorInfo, hookimpl

from .connector import OPTIONS, create_connector, record_url
from .sandbox import start_sandbox


@hookimpl
def crm_audit_register_connectors(register):
    register(
        ConnectorInfo(
            name="pipedrive",
            factory=create_connector,
            description="Pipedrive through its REST API v2 (v1 for users, roles, notes, webhooks); API token or OAuth",
            options=dict(OPTIONS),
            required_options=(),
            sandbox=start_sandbox,
            record_url=record_url,
            resumable=True,
            incremental=True,
        )
    )
