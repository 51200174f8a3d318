"""Registers the xero probe with crm-audit (entry point group crm_audit)."""

from __future__ import annotations

from crm_audit_core import ProbeInfo, hookimpl

from .i18n import DOMAIN, _
from .probe import OPTIONS, create_probe
from .sandbox import start_sandbox


@hookimpl
def crm_audit_register_translations(register):
    register(DOMAIN)


@hookimpl
def crm_audit_register_probes(register):
    register(
        ProbeInfo(
            name="xero",
            factory=create_probe,
            description=_("Xero through its official client (xero-python): contacts that are not archived, and "
                          "sales invoices that are AUTHORISED or PAID, of one organisation; custom connection or "
                          "access token"),
            options=dict(OPTIONS),
            integration="Xero",
            expected=(("companies", "records"), ("deals", "won")),
            sandbox=start_sandbox,
        )
    )
