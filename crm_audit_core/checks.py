"""Writing checks: the ``@check`` decorator, ``Check`` metadata and ``CheckContext``.

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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from . import model
from .errors import PluginError
from .findings import Affected, Result

CHECK_ID = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+$")


@dataclass(frozen=True)
class Check:
    """A registered check: its metadata and its function. Build it with ``check``.

    The registry validates the metadata when a plugin registers the check
    (``validate``); a check with bad metadata is refused alone, naming the plugin.

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
        plugin: the plugin that registered it (filled by the registry).
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
    plugin: str = ""

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
        if not callable(self.func):
            problems.append("has no function")
        if problems:
            who = f" from plugin {self.plugin!r}" if self.plugin else ""
            raise PluginError(f"check {self.id!r}{who} is invalid: " + "; ".join(problems))


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
        )

    return wrap


class SkipCheck(Exception):
    """Raise (or use ``ctx.skip``) when the check cannot run on this tenant."""


class CheckContext:
    """What a check gets: the tenant's snapshot, the as-of date and its settings.

    The runner builds one per (check, tenant); the test kit's ``run_check`` does the
    same. In SQL the tenant's canonical tables are plain names (``contacts``, ``deals``,
    ...) plus ``custom_values``; ``$as_of`` is always bound.

    Attributes:
        check: the ``Check`` being run (its metadata, e.g. ``ctx.check.id``).
        tenant: the name of the tenant being audited.
        connection: the DuckDB cursor whose views are this tenant's tables; prefer
            ``sql``, ``rows`` and friends, which bind parameters.
        as_of: the audit date and time (naive UTC ``datetime``); "stale" and "overdue"
            are measured from it, never from the clock.
        settings: this check's settings: its defaults overlaid with ``crm-audit.toml``.
        config: the whole ``crm_audit_core.config.AuditConfig`` (None in some tests).
        shared: a dict shared by all checks of one tenant's audit, to compute something
            once (e.g. duplicate clusters) and read it from several checks; namespace
            the keys.
    """

    def __init__(self, *, check: Check, tenant: str, connection, as_of: datetime, settings: dict,
                 config: Any = None, supplied: dict[str, set[str]] | None = None, shared: dict | None = None):
        self.check = check
        self.tenant = tenant
        self.connection = connection
        self.as_of = as_of
        self.settings = settings
        self.config = config
        self._supplied = supplied or {}
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

    # -- queries ----------------------------------------------------------
    def sql(self, query: str, **params):
        """Run SQL with named ``$params`` (``$as_of`` is always bound); returns a cursor."""
        params = {"as_of": self.as_of, **params}
        used = {k: v for k, v in params.items() if re.search(r"\$" + re.escape(k) + r"\b", query)}
        return self.connection.execute(query, used)

    def rows(self, query: str, **params) -> list[dict]:
        """Run ``query`` (``$params`` bound as in ``sql``) and return every row as a dict by column name."""
        cursor = self.sql(query, **params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def scalar(self, query: str, **params):
        """The first column of the first row of ``query``, or None when it returns no row."""
        row = self.sql(query, **params).fetchone()
        return None if row is None else row[0]

    def ids(self, query: str, **params) -> list[str]:
        """The first column of ``query`` as a sorted list of distinct string ids."""
        return sorted({str(r[0]) for r in self.sql(query, **params).fetchall() if r[0] is not None})

    def count(self, table: str, where: str = "TRUE", **params) -> int:
        """``SELECT count(*) FROM table WHERE where`` with ``$params`` bound; 0 when empty.

        ``table`` and ``where`` are SQL text written by the check, never CRM data.
        """
        return int(self.scalar(f"SELECT count(*) FROM {table} WHERE {where}", **params) or 0)

    def arrow(self, query: str, **params):
        """The result of ``query`` as a ``pyarrow.Table`` (for checks that compute in Python)."""
        from .store import fetch_arrow

        return fetch_arrow(self.sql(query, **params))

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
    ) -> Result:
        """A pass/fail result; fails when ``ids`` is non-empty unless ``failed`` says otherwise.

        Args:
            ids (Iterable): the affected records (listed in the fix-list); any non-empty list fails.
            object: the object the ids refer to (default: the check's ``object``).
            message: one line for the reports, e.g. "12 of 300 VIP contacts have no owner".
            metrics: numbers and small structures for reports and ``crm-audit diff``;
                ``metrics["charts"]`` holds chart specs (see ``crm_audit_core.reports.charts``).
            groups (Iterable[Iterable]): lists of ids that belong together (e.g. duplicate clusters).
            failed: force the status (e.g. fail on a ratio with no single record to blame).
            population: how many records the check examined; the score weighs the share
                affected (``len(ids) / population``).
            details: id -> why this record is listed (the fix-list's problem column).

        Returns:
            A ``crm_audit_core.findings.Result`` with status ``pass`` or ``fail``.
        """
        ids = [str(i) for i in ids]
        status = "fail" if (failed if failed is not None else bool(ids)) else "pass"
        return self._result(
            status,
            message=message,
            metrics=metrics or {},
            affected=Affected(object or self.check.object, ids, population),
            groups=[[str(i) for i in g] for g in (groups or [])],
            details={str(k): str(v) for k, v in (details or {}).items()},
        )

    def skip(self, reason: str) -> Result:
        """A ``skipped`` result saying why the check could not run here (never a silent pass).

        Raising ``SkipCheck`` does the same from deeper inside a check.
        """
        return self._result("skipped", reason=reason, message=reason)

    def _result(self, status: str, **kw) -> Result:
        c = self.check
        return Result(
            check_id=c.id,
            title=c.title,
            step=c.step,
            area=c.area,
            severity=c.severity,
            tenant=self.tenant,
            status=status,
            remediation=c.remediation,
            **kw,
        )
