"""Writing checks: the ``@check`` decorator, :class:`Check` metadata and :class:`CheckContext`.

A check is a pure function of the snapshot and its settings::

    from crm_audit_core import check, hookimpl

    @check(
        id="security.dormant-users",
        title="Active users who do not log in",
        step="security", area="security", severity="high",
        needs={"users": ["id", "is_active", "last_login_at"]},
        settings={"days": 90},
        description="Active accounts nobody uses are an open door.",
        remediation="Deactivate the users listed, or confirm they still need access.",
    )
    def dormant_users(ctx):
        ids = ctx.ids(
            "SELECT id FROM users WHERE is_active AND "
            "(last_login_at IS NULL OR last_login_at < $as_of - to_days($days))",
            days=ctx.settings["days"],
        )
        return ctx.result(ids=ids, object="users", population=ctx.count("users", "is_active"),
                          message=f"{len(ids)} active users have not logged in for {ctx.settings['days']} days")

    @hookimpl
    def crm_audit_register_checks(register):
        register(dormant_users)

Inside a check, the canonical tables are views over the snapshot restricted to the
tenant being audited, so SQL names them plainly (``users``, ``contacts``, ...), plus
``custom_values`` (object, record_id, field, value). ``$as_of`` is bound in every query.

A check that builds on another one reads that check's settings with
:meth:`CheckContext.settings_for`, and makes Python-computed tables queryable with
:meth:`CheckContext.temporary_tables`. A plugin's own command (outside an audit) gets the
same context from :func:`crm_audit_core.read_tenant`.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator

from . import model
from .config import coerce_setting
from .errors import ConfigError, PluginError
from .findings import Affected, Attachment, Result
from .i18n import _ as _t

CHECK_ID = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$")
VENDOR_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Check:
    """A check's metadata and function; made by the :func:`check` decorator.

    ``settings`` are the documented defaults (their types are the types users must
    give in crm-audit.toml); ``needs`` the canonical tables and columns the check reads
    (it is skipped, with a reason, when the tenant's connector did not supply them).
    The registry validates the metadata when a plugin registers the check
    (:meth:`validate`); a check with bad metadata is refused alone, naming the plugin.

    Attributes:
        id: unique dotted id, ``area.what-is-wrong`` (lowercase, dashes), e.g.
            ``security.dormant-users``; it names the fix-list file and the settings section.
        title: one line naming the problem, shown in every report.
        step: the audit step it belongs to (see the vocabulary page).
        area: the score area it counts in: ``usage``, ``security`` or ``data``.
        severity: ``critical``, ``high``, ``medium``, ``low`` or ``info`` (info never
            costs score).
        needs: table -> columns the check reads; when a connector did not supply them the
            check is ``skipped`` with that reason.
        description: why it matters (defaults to the function's docstring).
        remediation: how to fix what it finds; every fix-list row repeats it.
        func: the function ``f(ctx: CheckContext) -> Result``.
        settings: documented defaults, overridable in ``crm-audit.toml``
            (``[checks."<id>"]``); values are coerced to the default's type.
        settings_help: setting -> one line of help for ``crm-audit checks list`` and docs.
        object: the canonical object its ids refer to (default: the first table in ``needs``).
        vendors: the connectors (``ConnectorInfo.name``) the check applies to, for a check
            that reads what only some CRMs give (e.g. ``("salesforce",)``); on a tenant read
            by another connector its result is ``not-applicable`` (never scored, not counted
            as skipped). Empty: every CRM. A connector that reads any CRM's data
            (``ConnectorInfo.any_vendor``: the files connector) takes every such check whose
            tables it supplied (the data decides); without them it is ``not-applicable``.
        references: where the check comes from: benchmark controls ("SBS-AUTH-001: ...")
            and vendor documentation URLs; shown in ``checks list`` and every report.
        plugin: the plugin that registered it (filled by the registry).
        domain: the translation domain its title, description, remediation and settings'
            help are looked up in (filled by the registry from the plugin's
            ``crm_audit_register_translations``; see :mod:`crm_audit_core.i18n`).
    """

    id: str
    title: str
    step: str
    area: str
    severity: str
    needs: dict[str, tuple[str, ...]]
    description: str
    remediation: str
    func: Callable[["CheckContext"], Result]
    settings: dict[str, Any] = field(default_factory=dict)
    settings_help: dict[str, str] = field(default_factory=dict)
    object: str | None = None
    vendors: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    plugin: str = ""
    domain: str = ""

    def text(self, name: str):
        """A metadata text (``title``, ``description``, ``remediation``) as a translatable
        :class:`~crm_audit_core.i18n.Message` in this check's domain."""
        from .i18n import untranslated

        return untranslated(getattr(self, name), self.domain or "*")

    def applies_to(self, connector: str | None, any_vendor: bool = False) -> bool:
        """Whether the check applies to a tenant read by ``connector`` (see ``vendors``);
        ``any_vendor``: the connector reads any CRM's data (``ConnectorInfo.any_vendor``)."""
        return not self.vendors or connector is None or any_vendor or connector in self.vendors

    def validate(self) -> None:
        """Raise PluginError naming the check when its metadata is incomplete or wrong."""
        problems = []
        if not CHECK_ID.match(self.id or ""):
            problems.append("id must read like 'area.what-is-wrong' (lowercase, dotted, dashes)")
        if not (self.title or "").strip():
            problems.append("title is empty")
        if self.step not in model.STEPS:
            problems.append(f"step {self.step!r} is not one of {', '.join(model.STEPS)}")
        if self.area not in model.AREAS:
            problems.append(f"area {self.area!r} is not one of {', '.join(model.AREAS)}")
        if self.severity not in model.SEVERITIES:
            problems.append(f"severity {self.severity!r} is not one of {', '.join(model.SEVERITIES)}")
        if not (self.remediation or "").strip():
            problems.append("remediation is empty")
        if not (self.description or "").strip():
            problems.append("description is empty")
        for table, columns in self.needs.items():
            if table not in model.TABLES and table != "custom_values":
                problems.append(f"needs unknown table {table!r}")
                continue
            if table == "custom_values":
                continue
            known = set(model.TABLES[table].column_names)
            for c in columns:
                if c not in known:
                    problems.append(f"needs unknown column {table}.{c}")
        if isinstance(self.vendors, str) or not all(isinstance(v, str) and VENDOR_NAME.match(v) for v in self.vendors):
            problems.append(f"vendors must be a tuple of connector names such as ('salesforce',), not {self.vendors!r}")
        if isinstance(self.references, str) or not all(isinstance(r, str) and r.strip() for r in self.references):
            problems.append(f"references must be a tuple of non-empty strings, not {self.references!r}")
        if not callable(self.func):
            problems.append("has no function")
        if problems:
            who = f" from plugin {self.plugin!r}" if self.plugin else ""
            raise PluginError(f"check {self.id!r}{who} is invalid: " + "; ".join(problems))

    def resolve_settings(self, config: Any = None) -> dict[str, Any]:
        """This check's settings for an audit configured by ``config``.

        The documented defaults, overlaid with the ``[checks."<id>"]`` table of
        crm-audit.toml, each value checked against the type of its default.

        Args:
            config: an :class:`~crm_audit_core.AuditConfig` (``None``: the defaults).

        Returns:
            A new dict: one value for every default.

        Raises:
            ConfigError: a key the check does not have, or a value of the wrong type.
        """
        resolved = dict(self.settings)
        configured = (getattr(config, "check_settings", None) or {}).get(self.id) or {}
        where = str(getattr(config, "path", None) or "config")
        for key, value in configured.items():
            if key not in self.settings:
                known = ", ".join(sorted(self.settings)) or _t("none")
                raise ConfigError(_t("{setting} is not a setting of this check", setting="checks." + self.id + "." + key),
                                  where=where, hint=_t("settings: {settings}", settings=known))
            resolved[key] = coerce_setting(self.id, key, self.settings[key], value, where)
        return resolved


def check(
    *,
    id: str = "",  # defaults: a missing field is refused at registration (that check alone), not at import
    title: str = "",
    step: str = "",
    area: str = "",
    severity: str = "",
    needs: dict[str, list[str] | tuple[str, ...]] | None = None,
    description: str = "",
    remediation: str = "",
    settings: dict[str, Any] | None = None,
    settings_help: dict[str, str] | None = None,
    object: str | None = None,
    vendors: tuple[str, ...] | list[str] = (),
    references: tuple[str, ...] | list[str] = (),
) -> Callable[[Callable], Check]:
    """Decorator turning a function ``f(ctx) -> Result`` into a ``Check``.

    Register the result with ``register(...)`` in your ``crm_audit_register_checks`` hook.
    The metadata is checked there, not here: an invalid check is refused alone with
    every problem listed, and the rest of its plugin still loads.

    Args:
        id: unique dotted id, e.g. ``vip.unowned-vip-contacts``.
        title: one line naming the problem.
        step: one of the audit steps (``crm_audit_core.model.STEPS``).
        area: ``usage``, ``security`` or ``data`` (``crm_audit_core.model.AREAS``).
        severity: one of ``crm_audit_core.model.SEVERITIES``.
        needs: table -> columns read; missing ones make the check ``skipped``.
        description: why it matters (default: the function's docstring).
        remediation: how to fix what it finds.
        settings: documented defaults users override in ``crm-audit.toml``.
        settings_help: one line of help per setting.
        object: the object its ids refer to (default: the first table of ``needs``).
        vendors: the connectors the check applies to (default: all), e.g. ``("salesforce",)``;
            on other tenants it is ``not-applicable``.
        references: benchmark controls and vendor documentation URLs it follows.

    Returns:
        A decorator that returns the ``Check`` (the function stays callable as ``check.func``).
    """

    def wrap(func: Callable) -> Check:
        return Check(
            id=id,
            title=title,
            step=step,
            area=area,
            severity=severity,
            needs={t: tuple(cols) for t, cols in (needs or {}).items()},
            description=(description or (func.__doc__ or "")).strip(),
            remediation=remediation.strip(),
            func=func,
            settings=dict(settings or {}),
            settings_help=dict(settings_help or {}),
            object=object or (next(iter(needs)) if needs else None),
            vendors=vendors if isinstance(vendors, str) else tuple(vendors or ()),
            references=references if isinstance(references, str) else tuple(references or ()),
        )

    return wrap


def vendor_limitation(missing: str, limitations: dict[str, str]) -> str | None:
    """The vendor limitation (:attr:`ConnectorInfo.limitations`) that explains ``missing``
    ("the users table" or "users.mfa_enabled, users.role"), if the connector declared one."""
    if missing.startswith("the ") and missing.endswith(" table"):
        return limitations.get(missing[4:-6])
    for item in missing.split(", "):
        why = limitations.get(item) or limitations.get(item.split(".", 1)[0])
        if why:
            return why
    return None


class SkipCheck(Exception):
    """Raise (or return ``ctx.skip(reason)``) when the check cannot run on this tenant."""


class CheckContext:
    """What a check gets: the tenant's snapshot, the as-of date and its settings.

    Attributes:
        check: the :class:`Check` being run (``None`` in a context from
            :func:`~crm_audit_core.read_tenant`, which runs no check).
        tenant: the tenant's name.
        as_of: the audit's as-of date (naive UTC), also bound as ``$as_of`` in SQL.
        settings: this check's settings (defaults overlaid with crm-audit.toml).
        config: the audit's :class:`~crm_audit_core.AuditConfig`: checks and commands
            read their own top-level sections with ``config.section(name)``.
        shared: a dict shared by all checks of one tenant in one audit, to compute
            something once (e.g. duplicate clusters) and read it from several checks.
            Keys should be namespaced (``"duplicates.contacts"``).
        read_error: the error that stopped reading this tenant (one line), or ``None``
            when the connector read everything it supplies.
        connection: the DuckDB cursor the queries run on. Prefer the methods below;
            they bind ``$as_of`` and keep a check independent of the engine.
    """

    def __init__(self, *, check: Check | None, tenant: str, connection, as_of: datetime, settings: dict,
                 config: Any = None, supplied: dict[str, set[str]] | None = None, shared: dict | None = None,
                 read_error: str | None = None, limitations: dict[str, str] | None = None,
                 unavailable: dict[str, str] | None = None):
        self.check = check
        self.tenant = tenant
        self.connection = connection
        self.as_of = as_of
        self.settings = settings
        self.config = config
        self.read_error = read_error
        self._supplied = supplied or {}
        # what the connector could not read at run time (sink.unavailable) over what the
        # vendor never gives (ConnectorInfo.limitations)
        self._unavailable = dict(unavailable or {})
        self._limitations = {**(limitations or {}), **self._unavailable}
        # Per-tenant memo shared by all checks of one audit (e.g. duplicate clusters
        # computed once and read by several checks). Keys should be namespaced.
        self.shared = shared if shared is not None else {}

    # -- data availability ------------------------------------------------
    def supplied(self, table: str, column: str | None = None) -> bool:
        """True when a connector supplied ``table`` (and ``column``) for this tenant."""
        cols = self._supplied.get(table)
        if cols is None:
            return False
        return column is None or column in cols

    def unreadable(self) -> list[dict]:
        """Cells the connector could not interpret and stored as empty (a date that is no
        date, a number that is no number): ``[{"table", "column", "cells", "expected",
        "examples"}]``, most cells first."""
        from .store import SCHEMA

        try:
            rows = self.connection.execute(
                f"SELECT table_name, column_name, cells, expected, examples FROM {SCHEMA}._unreadable "
                "WHERE tenant = ? ORDER BY cells DESC, table_name, column_name", [self.tenant]).fetchall()
        except Exception:  # a store from before the table existed
            return []
        return [{"table": t, "column": c, "cells": int(n), "expected": e, "examples": list(x or [])}
                for t, c, n, e, x in rows]

    def not_supplied(self, missing: str) -> str:
        """The reason to skip for data the tenant lacks, as the runner words it for ``needs``.

        ``missing``: ``"the campaigns table"`` or ``"contacts.email"`` (several joined with
        ", "). When the tenant's connector declared that its CRM does not give it
        (:attr:`ConnectorInfo.limitations`), the reason names that vendor limitation; when
        the connector said at run time it could not read it (``sink.unavailable``, e.g. a
        permission the audit user lacks), the reason is the connector's.
        """
        if self.read_error:
            return _t("needs {missing}, which was not read: extraction stopped ({error})",
                      missing=missing, error=self.read_error)
        why = vendor_limitation(missing, self._unavailable)
        if why:
            return _t("needs {missing}, which could not be read: {why}", missing=missing, why=why)
        why = vendor_limitation(missing, self._limitations)
        if why:
            return _t("needs {missing}, which the CRM does not give: {why}", missing=missing, why=why)
        return _t("needs {missing}, which the tenant's connector did not supply", missing=missing)

    # -- other checks -----------------------------------------------------
    def settings_for(self, other: Check) -> dict[str, Any]:
        """The settings ``other`` runs with in this audit, for a check that builds on it.

        For the running check this is :attr:`settings`; for any other check, its
        defaults overlaid with crm-audit.toml, type-checked, exactly as the audit
        resolves them (:meth:`Check.resolve_settings`). Pass the :class:`Check` object
        (import it from the plugin that defines it): its defaults are part of the answer.

        Example::

            from .duplicates import duplicate_contacts

            def duplicates_by_source(ctx):
                max_block = ctx.settings_for(duplicate_contacts)["max_block"]

        Raises:
            ConfigError: crm-audit.toml gives ``other`` a setting it does not have, or
                a value of the wrong type.
        """
        if not isinstance(other, Check):
            raise TypeError(f"settings_for takes a Check (the object @check made), not {type(other).__name__}")
        if self.check is not None and other.id == self.check.id:
            return dict(self.settings)
        return other.resolve_settings(self.config)

    # -- queries ----------------------------------------------------------
    def sql(self, query: str, **params):
        """Run SQL with named ``$params`` (``$as_of`` is always bound); returns a cursor.

        Values travel as parameters, never as text in the query: ``ctx.sql("SELECT id
        FROM users WHERE role = $role", role=name)``.
        """
        params = {"as_of": self.as_of, **params}
        used = {k: v for k, v in params.items() if re.search(r"\$" + re.escape(k) + r"\b", query)}
        return self.connection.execute(query, used)

    def rows(self, query: str, **params) -> list[dict]:
        """The rows of ``query`` as dicts (column name -> value)."""
        cursor = self.sql(query, **params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def scalar(self, query: str, **params):
        """The first column of the first row of ``query`` (``None`` when it has no rows)."""
        row = self.sql(query, **params).fetchone()
        return None if row is None else row[0]

    def ids(self, query: str, **params) -> list[str]:
        """The first column of ``query`` as a sorted list of distinct string ids."""
        return sorted({str(r[0]) for r in self.sql(query, **params).fetchall() if r[0] is not None})

    def count(self, table: str, where: str = "TRUE", **params) -> int:
        """How many rows of ``table`` match the SQL condition ``where``."""
        return int(self.scalar(f"SELECT count(*) FROM {table} WHERE {where}", **params) or 0)

    def arrow(self, query: str, **params):
        """The result of ``query`` as a :class:`pyarrow.Table`."""
        from .store import fetch_arrow

        return fetch_arrow(self.sql(query, **params))

    @contextmanager
    def temporary_tables(self, **tables) -> Iterator[None]:
        """Make tables computed in Python queryable by name inside a ``with`` block.

        Each keyword names a table; its value is a :class:`pyarrow.Table` (or anything
        DuckDB can scan: a pandas DataFrame, a list of Arrow record batches). The names
        are gone when the block ends, also when it raises.

        Example::

            folded = pa.table({"raw": names, "norm": [fold(n) for n in names]})
            with ctx.temporary_tables(folded_names=folded):
                rows = ctx.rows("SELECT c.id, f.norm FROM contacts c JOIN folded_names f ON f.raw = c.last_name")

        Raises:
            ValueError: a name that is not a plain identifier, or one that would hide a
                canonical table (``contacts``, ``custom_values``, ...).
        """
        for name in tables:
            if not TABLE_NAME.match(name):
                raise ValueError(f"temporary table name {name!r} is not a plain identifier")
            if name in model.TABLES or name == "custom_values":
                raise ValueError(f"temporary table name {name!r} would hide the canonical {name} table")
        registered = []
        try:
            for name, table in tables.items():
                self.connection.register(name, table)
                registered.append(name)
            yield
        finally:
            for name in reversed(registered):
                try:
                    self.connection.unregister(name)
                except Exception:  # pragma: no cover - the cursor is already closed
                    pass

    # -- results ----------------------------------------------------------
    def result(
        self,
        *,
        ids=(),
        object: str | None = None,
        message: str = "",
        metrics: dict | None = None,
        groups=None,
        failed: bool | None = None,
        population: int | None = None,
        details: dict | None = None,
        attachments=None,
    ) -> Result:
        """A pass/fail result; fails when ``ids`` is non-empty unless ``failed`` says otherwise.

        Args:
            ids (Iterable): the records found (they become the fix-list).
            object: the table the ids belong to (default: the check's ``object``).
            message: one line for the report, with the numbers that matter.
            metrics: JSON-able numbers and tables for the report.
            groups (Iterable[Iterable]): lists of ids that belong together (e.g. duplicate clusters).
            failed: override pass/fail (e.g. a threshold on a share, not on ids).
            population: how many records were examined (the denominator).
            details: id -> why this record is listed.
            attachments (Iterable[Attachment | dict]): tables written as ``fixlists/<name>.csv``
                beside the fix-list (a merge plan, ...); dicts take the fields of
                :class:`crm_audit_core.findings.Attachment`.
        """
        ids = [str(i) for i in ids]
        status = "fail" if (failed if failed is not None else bool(ids)) else "pass"
        return self._result(
            status,
            message=message,
            metrics=metrics or {},
            affected=Affected(object or (self.check.object if self.check else None), ids, population),
            groups=[[str(i) for i in g] for g in (groups or [])],
            # str(v) would turn a template (Message, Joined: str subclasses) into English text
            details={str(k): v if isinstance(v, str) else str(v) for k, v in (details or {}).items()},
            attachments=[a if isinstance(a, Attachment) else Attachment(**a) for a in (attachments or [])],
        )

    def skip(self, reason: str) -> Result:
        """A ``skipped`` result: the check cannot run on this tenant, and ``reason`` says why."""
        return self._result("skipped", reason=reason, message=reason)

    def not_applicable(self, connector: str, missing: str | None = None) -> Result:
        """A ``not-applicable`` result: the check is for other CRMs than ``connector``'s, or
        (``missing``: "the security_settings table") the files hold none of its data."""
        vendors = list(self.check.vendors) if self.check else []
        if missing:
            table = getattr(missing, "values", {}).get("table") or missing[4:].removesuffix(" table")
            reason = _t("applies to {vendors} tenants only, and this tenant's {connector} connector supplied "
                        "no {table} table", vendors=vendors, connector=connector, table=table)
        else:
            reason = _t("applies to {vendors} tenants only; this tenant is read by the {connector} connector",
                        vendors=vendors, connector=connector)
        return self._result("not-applicable", reason=reason, message=reason)

    def _result(self, status: str, **kw) -> Result:
        c = self.check
        if c is None:
            raise PluginError("this context reads a tenant outside an audit; it runs no check, so it makes no result")
        return Result(
            check_id=c.id,
            title=c.text("title"),
            step=c.step,
            area=c.area,
            severity=c.severity,
            tenant=self.tenant,
            status=status,
            remediation=c.text("remediation"),
            references=list(c.references),
            **kw,
        )
