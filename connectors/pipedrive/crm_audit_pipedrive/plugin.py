"""Registers the Pipedrive connector with crm-audit (entry point group crm_audit), with the
canonical data Pipedrive's API does not give (``LIMITATIONS``: the runner puts each sentence
into the reason of the checks it skips; docs/connectors/pipedrive.md says where each comes from)."""

from __future__ import annotations

from crm_audit_core import ConnectorInfo, hookimpl

from .connector import OPTIONS, create_connector, record_url
from .export import EXPORT_FORMAT
from .sandbox import start_sandbox

ANCHOR = "docs/connectors/pipedrive.md#what-the-api-does-not-give"

LIMITATIONS = {
    "login_events": f"Pipedrive's API has no login history: sign-ins are shown only in the web app's "
                    f"Security center ({ANCHOR})",
    "users.mfa_enabled": f"Pipedrive's users API does not say whether a user has two-step verification turned on "
                         f"({ANCHOR})",
    "contacts.email_bounced": f"Pipedrive's API does not say whether email to a person bounced: persons carry no "
                              f"bounce flag and Campaigns' bounces have no list endpoint ({ANCHOR})",
    "campaigns": f"Pipedrive has no public API that lists Campaigns or their sent, opened and bounced counts "
                 f"({ANCHOR})",
    "contacts.lead_status": f"Pipedrive has no lead status on persons: leads are separate records with labels "
                            f"({ANCHOR})",
    "integrations.records_reported": f"Pipedrive does not know how many records the other system holds: that count "
                                     f"comes from an integration probe ({ANCHOR})",
    "platform.edition": f"Pipedrive's API does not name the company's plan ({ANCHOR})",
    "audit_trail": f"Pipedrive's API has no audit log of setup changes: the web app's Security center shows "
                   f"them ({ANCHOR})",
    "security_settings": f"Pipedrive's API gives no security settings (two-step verification, single sign-on, "
                         f"session policy) nor a score: they are in the web app's Security center only ({ANCHOR})",
    "packages": f"Pipedrive's API lists no installed Marketplace apps nor their versions ({ANCHOR})",
}


@hookimpl
def crm_audit_register_connectors(register):
    register(
        ConnectorInfo(
            name="pipedrive",
            factory=create_connector,
            description="Pipedrive through its REST API v2 (v1 for users, roles, notes, leads, webhooks); API token or OAuth",
            options=dict(OPTIONS),
            required_options=(),
            sandbox=start_sandbox,
            record_url=record_url,
            resumable=True,
            incremental=True,
            limitations=dict(LIMITATIONS),
            export_reader=EXPORT_FORMAT,
        )
    )
