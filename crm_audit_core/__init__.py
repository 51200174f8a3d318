"""crm-audit core: the engine of a pluggable CRM audit.

The public API for plugin authors is what this module exports:

* ``hookimpl``: mark hook implementations (see :mod:`crm_audit_core.hookspecs`);
* ``check``, ``Check``, ``CheckContext``: write checks;
* ``ConnectorInfo``, ``ExtractContext``, ``SandboxHandle``: write connectors;
* ``Reporter``: write report formats;
* the errors in :mod:`crm_audit_core.errors`.

The core never imports a connector or a check: they arrive as plugins.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("crm_audit")
"""Marks a hook implementation: ``@hookimpl def crm_audit_register_checks(register): ...`` (see docs/plugins/hooks.md)."""

from .checks import Check, CheckContext, check  # noqa: E402
from .connector import ConnectorInfo, ExtractContext, SandboxHandle  # noqa: E402
from .errors import AuthError, BudgetExhausted, ConfigError, ConnectorError, CrmAuditError  # noqa: E402
from .reports import Reporter  # noqa: E402

__all__ = [
    "hookimpl",
    "check",
    "Check",
    "CheckContext",
    "ConnectorInfo",
    "ExtractContext",
    "SandboxHandle",
    "Reporter",
    "AuthError",
    "BudgetExhausted",
    "ConfigError",
    "ConnectorError",
    "CrmAuditError",
    "__version__",
]
