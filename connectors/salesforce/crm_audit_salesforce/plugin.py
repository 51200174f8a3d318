"""Registers the Salesforce connector with crm-audit (entry point group ``crm_audit``)."""

from __future__ import annotations

from crm_audit_core import hookimpl
from crm_audit_core.connector import ConnectorInfo

from .connector import OPTIONS, create_connector, record_url
from .export import EXPORT_FORMAT
from .i18n import DOMAIN, _

ANCHOR = "docs/connectors/salesforce.md#what-the-api-does-not-give"

# What Salesforce's API does not give, by canonical table or table.column (the runner puts
# the sentence into the reason of a check skipped for want of it).
LIMITATIONS = {
    "campaigns.delivered": _("Salesforce's Campaign object counts sent and responses (NumberSent, "
                             "NumberOfResponses) but has no delivered count ({page})", page=ANCHOR),
    "campaigns.opened": _("Salesforce's Campaign object counts sent and responses (NumberSent, NumberOfResponses) "
                          "but has no opened count ({page})", page=ANCHOR),
    "integrations.records_reported": _("Salesforce does not know how many records the other system of an "
                                       "integration holds; configure a probe for it ({page})", page=ANCHOR),
}


def _start_sandbox(tenant, **kwargs):
    # Imported lazily: the sandbox pulls in werkzeug and trustme, which audits of a
    # live org never need.
    from .sandbox import start_sandbox

    return start_sandbox(tenant, **kwargs)


@hookimpl
def crm_audit_register_translations(register):
    register(DOMAIN)


@hookimpl
def crm_audit_register_connectors(register):
    register(
        ConnectorInfo(
            name="salesforce",
            factory=create_connector,
            description=_("Salesforce (REST + Bulk API 2.0 through simple-salesforce; session id, "
                          "password + security token, or OAuth JWT bearer)"),
            options=dict(OPTIONS),
            required_options=(),
            sandbox=_start_sandbox,
            record_url=record_url,
            resumable=True,  # checkpoints after every page (keyset position or Bulk locator)
            incremental=True,  # SystemModstamp + getDeleted, the rest carried forward
            limitations=dict(LIMITATIONS),
            export_reader=EXPORT_FORMAT,
        )
    )
