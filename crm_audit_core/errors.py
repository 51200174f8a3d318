"""Errors the CLI turns into one clear line and an exit code (DESIGN.md, CLI).

Every error says what went wrong, where, and how to fix it. Messages never contain a
secret: pass values through :func:`crm_audit_core.secrets.redact` when in doubt.

The message and the hint may be translatable templates (``_("...")`` of the module's
domain, see :mod:`crm_audit_core.i18n`); :meth:`CrmAuditError.one_line` frames them as a
template too, so the CLI prints the line in the language of ``--lang`` / ``[audit] lang``
(:meth:`CrmAuditError.render`) and falls back to English for any part not translated.
"""

from __future__ import annotations

from .i18n import _, render


class CrmAuditError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        self.message = message
        self.where = where
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``where: message (hint)`` as one line (a translatable Message; ``str`` of it is English)."""
        text = self.message
        if self.where:
            text = _("{where}: {message}", where=self.where, message=text)
        if self.hint:
            text = _("{message} ({hint})", message=text, hint=self.hint)
        return text

    def render(self, lang: str) -> str:
        """The one line in ``lang``."""
        return render(self.one_line(), lang)


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


def interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is the user's Ctrl-C, also in the form DuckDB gives it: a
    KeyboardInterrupt that arrives while a query runs is consumed by DuckDB's Python client,
    which stops the query and raises ``RuntimeError('Query interrupted')`` instead (duckdb
    2.0). Caught by a broad ``except Exception``, that would be taken for a failure of the
    connector or the check, and the audit would go on."""
    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "InterruptException":
        return True
    return type(exc) is RuntimeError and str(exc).startswith("Query interrupted")


def stop_if_interrupted(exc: BaseException) -> None:
    """Raise KeyboardInterrupt when ``exc`` is a Ctrl-C (:func:`interrupted`), so the
    audit stops as it does on any other Ctrl-C; else return."""
    if interrupted(exc) and not isinstance(exc, KeyboardInterrupt):
        raise KeyboardInterrupt from None
