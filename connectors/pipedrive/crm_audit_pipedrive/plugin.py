"""Registers the Pipedrive connector with crm-audit (entry point group crm_audit), with the
canonical data Pipedrive's API does not give (``LIMITATIONS``: the runner puts each sentence
into the reason of the checks it skips; docs/connectors/pipedrive.md says where each comes from)."""

from __future__ import annotations

from crm_audit_core import ConnectorInfo, hookimpl

from .connector import OPTIONS, create_connector, record_url
from .export import EXPORT_FORMAT
from .i18n import DOMAIN, _
from .sandbox import start_sandbox

ANCHOR = "docs/connectors/pipedrive.md#what-the-api-does-not-give"

LIMITATIONS = {
    "login_events": _("Pipedrive's API has no login history: sign-ins are shown only in the web app's "
                      "Security center ({page})", page=ANCHOR),
    "users.mfa_enabled": _("Pipedrive's users API does not say whether a user has two-step verification turned "
                           "on ({page})", page=ANCHOR),
    "contacts.email_bounced": _("Pipedrive's API does not say whether email to a person bounced: persons carry no "
                                "bounce flag and Campaigns' bounces have no list endpoint ({page})", page=ANCHOR),
    "campaigns": _("Pipedrive has no public API that lists Campaigns or their sent, opened and bounced counts "
                   "({page})", page=ANCHOR),
    "contacts.lead_status": _("Pipedrive has no lead status on persons: leads are separate records with labels "
                              "({page})", page=ANCHOR),
    "integrations.records_reported": _("Pipedrive does not know how many records the other system holds: that "
                                       "count comes from an integration probe ({page})", page=ANCHOR),
    "platform.edition": _("Pipedrive's API does not name the company's plan ({page})", page=ANCHOR),
    "audit_trail": _("Pipedrive's API has no audit log of setup changes: the web app's Security center shows "
                     "them ({page})", page=ANCHOR),
    "security_settings": _("Pipedrive's API gives no security settings (two-step verification, single sign-on, "
                           "session policy) nor a score: they are in the web app's Security center only ({page})",
                           page=ANCHOR),
    "packages": _("Pipedrive's API lists no installed Marketplace apps nor their versions ({page})", page=ANCHOR),
}


@hookimpl
def crm_audit_register_translations(register):
    register(DOMAIN)


@hookimpl
def crm_audit_register_connectors(register):
    register(
        ConnectorInfo(
            name="pipedrive",
            factory=create_connector,
            description=_("Pipedrive through its REST API v2 (v1 for users, roles, notes, leads, webhooks); API token "
                          "or OAuth"),
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
