"""Registers the HubSpot connector with crm-audit (entry point group crm_audit)."""

from __future__ import annotations

from crm_audit_core import ConnectorInfo, hookimpl

from .connector import LIMITATIONS, OPTIONS, create_connector, record_url
from .export import EXPORT_FORMAT
from .i18n import DOMAIN, _
from .sandbox import start_sandbox


@hookimpl
def crm_audit_register_translations(register):
    register(DOMAIN)


@hookimpl
def crm_audit_register_connectors(register):
    register(
        ConnectorInfo(
            name="hubspot",
            factory=create_connector,
            description=_("HubSpot CRM through hubspot-api-client (private-app or OAuth access token)"),
            options=OPTIONS,
            required_options=(),
            sandbox=start_sandbox,
            record_url=record_url,
            resumable=True,
            incremental=True,
            limitations=LIMITATIONS,
            export_reader=EXPORT_FORMAT,
        )
    )
