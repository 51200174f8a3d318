"""Errors the CLI turns into one clear line and an exit code (DESIGN.md, CLI).

Every error says what went wrong, where, and how to fix it. Messages never contain a
secret: pass values through :func:`crm_audit_core.secrets.redact` when in doubt.
"""

from __future__ import annotations


class CrmAuditError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message
        if self.where:
            text = f"{self.where}: {text}"
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class ConfigError(CrmAuditError):
    """A malformed or invalid crm-audit.toml, option or argument (exit code 2)."""

    exit_code = 2


class DataError(CrmAuditError):
    """A bad input file (files connector): names the file, line and column."""

    exit_code = 3


class ConnectorError(CrmAuditError):
    """A connector could not read the CRM (exit code 3)."""

    exit_code = 3


class AuthError(ConnectorError):
    """Credentials were refused. Never retried."""


class BudgetExhausted(ConnectorError):
    """The audit reached its share of the CRM's API allowance and stopped reading."""


class PluginError(CrmAuditError):
    """A plugin broke a contract (duplicate check id, missing metadata, ...)."""

    exit_code = 2
