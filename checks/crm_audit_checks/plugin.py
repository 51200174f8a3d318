"""Registers the standard checks with crm-audit (entry point group ``crm_audit``)."""

from crm_audit_core import hookimpl

from . import contacts_basic

MODULES = (contacts_basic,)


@hookimpl
def crm_audit_register_checks(register):
    for module in MODULES:
        for item in module.CHECKS:
            register(item)
