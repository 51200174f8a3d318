"""Registers the standard checks with crm-audit (entry point group ``crm_audit``).

One module per audit step; each exposes ``CHECKS``, a tuple of ``@check`` objects, and
may expose ``register_commands(group)`` to add CLI commands (``survey``, ``policy``).
"""

from crm_audit_core import hookimpl

from . import (
    data_policy,
    duplicates,
    feedback,
    integrations,
    missing_data,
    open_work,
    security,
    security_depth,
    segmentation,
    stale_data,
    unrecognised,
    unused_data,
    updates,
    updates_depth,
    usage,
    value,
)

from . import metric_labels  # noqa: F401 (the metrics' fixed labels, for translators and report.html)
from .i18n import DOMAIN

MODULES = (usage, updates, updates_depth, integrations, value, open_work, feedback, security, security_depth,
           unused_data, segmentation, duplicates, missing_data, unrecognised, stale_data, data_policy)


@hookimpl
def crm_audit_register_translations(register):
    register(DOMAIN)


@hookimpl
def crm_audit_register_checks(register):
    for module in MODULES:
        for item in module.CHECKS:
            register(item)


@hookimpl
def crm_audit_configure(config):
    # A malformed [policy] is a configuration error: refuse it before any CRM is read.
    data_policy.parse_policy(config.sections.get("policy"), where=str(config.path or "crm-audit.toml"))


@hookimpl
def crm_audit_register_commands(group):
    for module in MODULES:
        hook = getattr(module, "register_commands", None)
        if hook is not None:
            hook(group)
