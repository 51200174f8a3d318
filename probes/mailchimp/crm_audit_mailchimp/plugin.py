"""Registers the Mailchimp probe with crm-audit (entry point group crm_audit)."""

from __future__ import annotations

from crm_audit_core import ProbeInfo, hookimpl

from .i18n import DOMAIN, _
from .probe import EXPECTED, INTEGRATION, NAME, OPTIONS, create_probe
from .sandbox import start_sandbox


@hookimpl
def crm_audit_register_translations(register):
    register(DOMAIN)


@hookimpl
def crm_audit_register_probes(register):
    register(
        ProbeInfo(
            name=NAME,
            factory=create_probe,
            description=_("Mailchimp through its official client (mailchimp-marketing): audience members by status, "
                          "campaign reports and survey responses"),
            options=dict(OPTIONS),
            integration=INTEGRATION,
            expected=EXPECTED,
            sandbox=start_sandbox,
        )
    )
