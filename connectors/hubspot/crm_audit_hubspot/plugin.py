"""Registers the HubSpot connector with crm-audit (entry point group crm_audit)."""

from __future__ import annotations

from crm_audit_core import ConnectorInfo, hookimpl

from .connector import OPTIONS, make_connector, record_url
from .sandbox import start_sandbox


@hookimpl
def crm_audit_register_connectors(register):
    register(
        ConnectorInfo(
            name="hubspot",
            factory=make_connector,
            description="HubSpot CRM through hubspot-api-client (private-app or OAuth access token)",
            options=dict(OPTIONS, portal_id="Portal (hub) id, for links into HubSpot in fix-lists",
                         ui_domain="HubSpot UI domain for links (default app.hubspot.com)"),
            required_options=(),
            sandbox=start_sandbox,
            record_url=record_url,
            resumable=True,
            incremental=True,
        )
    )
