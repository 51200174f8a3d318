"""Registers the Salesforce connector with crm-audit (entry point group ``crm_audit``)."""

from __future__ import annotations

from crm_audit_core import hookimpl
from crm_audit_core.connector import ConnectorInfo

from .connector import OPTIONS, create_connector, record_url


def _start_sandbox(tenant, **kwargs):
    # Imported lazily: the sandbox pulls in werkzeug and trustme, which audits of a
    # live org never need.
    from .sandbox import start_sandbox

    return start_sandbox(tenant, **kwargs)


@hookimpl
def crm_audit_register_connectors(register):
    register(
        ConnectorInfo(
            name="salesforce",
            factory=create_connector,
            description="Salesforce (REST + Bulk API 2.0 through simple-salesforce; session id, "
            "password + security token, or OAuth JWT bearer)",
            options=dict(OPTIONS),
            required_options=(),
            sandbox=_start_sandbox,
            record_url=record_url,
            resumable=True,  # checkpoints after every page (keyset position or Bulk locator)
            incremental=True,  # SystemModstamp + getDeleted, the rest carried forward
        )
    )
