"""Every hook of crm-audit: the API reference for plugin authors.

Plugins implement these with ``from crm_audit_core import hookimpl``. A plugin is any
module or object registered with the plugin manager: the built-ins (files connector,
reporters), the installed distributions that declare an entry point in the group
``crm_audit`` (``crm-audit-checks``, ``crm-audit-hubspot``, ...), and objects a test
registers for itself.

The hooks are grouped by the phase of an audit in which they are called:

    registration -> configure -> extract -> check (observe each result) -> after the audit

Hook names all start with ``crm_audit_``. ``pm.check_pending()`` runs after loading, so a
misspelled hook name fails loudly with the plugin's name.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("crm_audit")

# -------------------------------------------------------------------------
# Registration: called once when the plugin manager is built
# -------------------------------------------------------------------------


@hookspec
def crm_audit_register_connectors(register):
    """Register connectors: ``register(ConnectorInfo(...))`` once per connector.

    Called once when the plugin manager is set up, before any configuration is read.
    :param register: a callable taking a :class:`crm_audit_core.connector.ConnectorInfo`.
        It rejects a second connector with the same name, naming both plugins.
    Return value is ignored.
    """


@hookspec
def crm_audit_register_probes(register):
    """Register integration probes: ``register(ProbeInfo(...))`` once per probe.

    Called once when the plugin manager is set up, before any configuration is read. A probe reads the other side of an integration (a mailing tool's audience, an
    accounting package's invoices) so the reconciliation checks can compare both sides;
    a tenant configures it as ``[tenants.<tenant>.probes.<name>]``. See
    :mod:`crm_audit_core.probes`.
    :param register: a callable taking a :class:`crm_audit_core.probes.ProbeInfo`. It
        rejects a second probe with the same name, naming both plugins.
    Return value is ignored.
    """


@hookspec
def crm_audit_register_checks(register):
    """Register checks: ``register(check)`` once per :class:`crm_audit_core.checks.Check`.

    Called once when the plugin manager is set up. The ``@check`` decorator builds a
    ``Check`` from a function and its metadata.
    :param register: a callable that validates the metadata at the door (id pattern, a
        known step, area and severity, a title, a remediation, known tables in ``needs``)
        and rejects a duplicate id with a message naming the plugin.
    Return value is ignored.
    """


@hookspec
def crm_audit_register_reporters(register):
    """Register report formats: ``register(Reporter(name, write, ...))``.

    Called once when the plugin manager is set up. A reporter writes one or more files
    into the audit folder from the :class:`crm_audit_core.findings.AuditResult`; the
    built-in reporters (terminal, json, csv fix-lists, markdown) register this way.
    :param register: a callable taking a :class:`crm_audit_core.reports.Reporter`.
    Return value is ignored.
    """


@hookspec
def crm_audit_register_translations(register):
    """Register the plugin's translation domain: ``register(DOMAIN)``.

    Called once when the plugin manager is set up, before the checks are registered.
    ``DOMAIN`` is a :class:`crm_audit_core.i18n.Domain` (a ``locale/`` folder with
    ``messages.pot`` and ``<lang>.po`` files). The plugin's checks take it as their
    ``domain``, so their titles, descriptions and remediation are translated from it;
    ``crm-audit i18n coverage`` and ``crm-audit i18n extract`` list it under the plugin.
    See docs/plugins/writing-a-check.md, "Translations".
    :param register: a callable taking a :class:`crm_audit_core.i18n.Domain`.
    Return value is ignored.
    """


# -------------------------------------------------------------------------
# Configure: called once per audit, after crm-audit.toml is read
# -------------------------------------------------------------------------


@hookspec
def crm_audit_configure(config):
    """Read or adjust settings before the audit runs.

    Called once per audit after ``crm-audit.toml`` has been parsed and validated and
    command-line options applied, before any connector runs.
    :param config: the :class:`crm_audit_core.config.AuditConfig`. A plugin may read its
        own section (``config.plugin_settings("name")``) and add defaults to
        ``config.check_settings``; raise :class:`crm_audit_core.errors.ConfigError` with
        one clear line to refuse a bad setting.
    Return value is ignored.
    """


# -------------------------------------------------------------------------
# Extract: called per tenant after its connector finished
# -------------------------------------------------------------------------


@hookspec
def crm_audit_integration_counts(tenant, integrations, config):
    """Supply the record counts that other systems report for an integration.

    Called once per tenant after extraction, so third parties can bring counts from a
    mailing tool, an accounting package or a data warehouse for the sync-count check.
    :param tenant: the tenant name.
    :param integrations: a list of dicts (``id``, ``name``, ``kind``) from the snapshot.
    :param config: the :class:`~crm_audit_core.config.AuditConfig`.
    :return: a dict ``{integration id or name: count}`` or None. All results are merged
        (later plugins win on conflicts) into ``integrations.records_reported``.
    """


# -------------------------------------------------------------------------
# Check: called for every result
# -------------------------------------------------------------------------


@hookspec
def crm_audit_result(result, check):
    """Observe one check result as soon as it is ready.

    Called once per (check, tenant) in the order the checks ran, including ``skipped``,
    ``error`` and ``not-applicable`` results. Useful for streaming results to a dashboard or a log.
    :param result: the :class:`crm_audit_core.findings.Result` (do not mutate).
    :param check: the :class:`crm_audit_core.checks.Check` that produced it.
    Return value is ignored.
    """


# -------------------------------------------------------------------------
# After the audit: called once when reports are written
# -------------------------------------------------------------------------


@hookspec
def crm_audit_after_audit(audit, folder):
    """The audit is complete: results scored, reports written, folder archived.

    Called once per audit. Use it to notify, upload or post-process.
    :param audit: the :class:`crm_audit_core.findings.AuditResult`.
    :param folder: the :class:`pathlib.Path` of the audit folder.
    Return value is ignored.
    """


# -------------------------------------------------------------------------
# Command line: called once when the CLI starts
# -------------------------------------------------------------------------


@hookspec
def crm_audit_register_commands(group):
    """Add commands to the ``crm-audit`` command line.

    Called once when the CLI starts, before arguments are parsed.
    :param group: the root :class:`click.Group`; call ``group.add_command(cmd)``. The
        standard checks add ``crm-audit survey`` and ``crm-audit policy`` this way.
        A command name that is already taken is refused with a warning.
    Return value is ignored.
    """
