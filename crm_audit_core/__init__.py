"""crm-audit core: the engine of a pluggable CRM audit.

The public API for plugin authors is what this module exports:

* ``hookimpl``: mark hook implementations (see :mod:`crm_audit_core.hookspecs`);
* ``check``, ``Check``, ``CheckContext``, ``SkipCheck``: write checks;
* ``model``: the canonical schema the checks query (tables, columns, enumerations);
* ``read_tenant``: read one tenant outside an audit, for a plugin's own commands;
* ``AuditConfig``, ``load_config``: crm-audit.toml, as checks and commands see it;
* ``ConnectorInfo``, ``ExtractContext``, ``SandboxHandle``: write connectors;
* ``ProbeInfo``, ``ProbeContext``, ``SyncCount``: write integration probes (the other side
  of an integration: a mailing tool, an accounting package);
* ``Reporter``: write report formats;
* ``Domain``, ``Message``, ``Percent``, ``Money``: translatable text (see :mod:`crm_audit_core.i18n`);
* the errors in :mod:`crm_audit_core.errors`.

Besides these names, connectors use the connector kit :mod:`crm_audit_core.kit` and
tests the test kit :mod:`crm_audit_core.testing`; the other submodules are the engine's
and may change under a plugin. The core never imports a connector or a check: they
arrive as plugins.
"""

from __future__ import annotations

import pluggy

from .version import __version__  # noqa: E402

hookimpl = pluggy.HookimplMarker("crm_audit")
"""Marks a hook implementation: ``@hookimpl def crm_audit_register_checks(register): ...`` (see docs/plugins/hooks.md)."""

from . import model  # noqa: E402
from .checks import Check, CheckContext, SkipCheck, check  # noqa: E402
from .config import AuditConfig, load_config  # noqa: E402
from .connector import ConnectorInfo, ExtractContext, SandboxHandle  # noqa: E402
from .probes import ProbeContext, ProbeInfo, SyncCount  # noqa: E402
from .errors import AuthError, BudgetExhausted, ConfigError, ConnectorError, CrmAuditError  # noqa: E402
from .reports import Reporter  # noqa: E402
from .i18n import Domain, Message, Money, Percent  # noqa: E402
from .tenant_access import read_tenant  # noqa: E402

__all__ = [
    "hookimpl",
    "check",
    "Check",
    "CheckContext",
    "SkipCheck",
    "model",
    "read_tenant",
    "AuditConfig",
    "load_config",
    "ConnectorInfo",
    "ExtractContext",
    "SandboxHandle",
    "ProbeInfo",
    "ProbeContext",
    "SyncCount",
    "Reporter",
    "Domain",
    "Message",
    "Money",
    "Percent",
    "AuthError",
    "BudgetExhausted",
    "ConfigError",
    "ConnectorError",
    "CrmAuditError",
    "__version__",
]
