"""Reading one tenant outside an audit, for a plugin's own commands.

``crm-audit survey init`` needs a tenant's users and ``crm-audit policy init`` its
contacts, companies and deals, but neither runs an audit. :func:`read_tenant` reads the
tenant the way an audit does (through its connector, into a temporary snapshot), or
opens an archived snapshot, and yields a :class:`~crm_audit_core.CheckContext` over it,
so a command queries the tenant with the same SQL its checks use::

    from crm_audit_core import read_tenant

    with read_tenant("crm-audit.toml", tenant="acme") as ctx:
        users = ctx.rows("SELECT id, name, email FROM users WHERE is_active")

The engine (plugin manager, connectors, store) is imported when a tenant is read, so
importing :mod:`crm_audit_core` stays light for plugins that only declare checks.
"""

from __future__ import annotations

import json
import re
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .checks import CheckContext
from .config import AuditConfig, TenantConfig, load_config, parse_as_of
from .errors import ConfigError

SNAPSHOT_FILE = "snapshot.duckdb"


def tenant_name_from(text: str) -> str:
    """A valid tenant name made from free text, such as a folder's name.

    Characters other than letters, digits, ``_``, ``.`` and ``-`` become ``-``; at most
    64 characters; ``"tenant"`` when nothing is left.
    """
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "tenant"
    return name[:64]


@contextmanager
def read_tenant(
    config: AuditConfig | str | Path | None = None,
    *,
    files: str | Path | None = None,
    connector: str | None = None,
    options: dict[str, Any] | None = None,
    tenant: str | None = None,
    as_of: datetime | date | str | None = None,
    snapshot: str | Path | None = None,
) -> Iterator[CheckContext]:
    """Read one tenant and yield a :class:`~crm_audit_core.CheckContext` over its data.

    Which tenant, in the order the arguments are looked at:

    * ``snapshot``: an archived audit folder (or its ``snapshot.duckdb``), opened
      read-only; ``tenant`` picks one when it holds several;
    * ``files``: a folder of canonical CSV/Parquet files or vendor exports, read by the
      files connector; ``tenant`` names it (default: made from the folder's name);
    * ``connector`` with ``options``: one tenant of that connector, as
      ``crm-audit run --connector NAME --option k=v`` reads it; ``tenant`` names it
      (default: the connector's name);
    * otherwise the tenant of ``config`` named ``tenant`` (default: the first).

    A connector reads into a temporary snapshot that is deleted when the ``with`` block
    ends. The context is the one checks get, except that it runs no check
    (``ctx.check`` is ``None``, ``ctx.settings`` is empty, and it makes no results);
    ``ctx.settings_for(check)`` gives any check's settings under ``config``.

    Args:
        config: crm-audit.toml (a path) or an :class:`~crm_audit_core.AuditConfig`;
            it also supplies the as-of date, connector settings and the sections
            (``ctx.config.section("policy")``) the command may need.
        files: a folder for the files connector.
        connector: a connector's name (``hubspot``, ``salesforce``, ...).
        options: that connector's options (``access_token``, ...).
        tenant: the tenant to read or the name to give it (see above).
        as_of: the date ``$as_of`` means (default: the config's ``as_of``, else now;
            for a snapshot in an audit folder, that audit's as-of date).
        snapshot: an audit folder or a ``snapshot.duckdb`` file.

    Yields:
        The context; ``ctx.read_error`` is the one-line error that stopped the
        connector part-way (what was read before it is there), ``None`` when the read
        completed.

    Raises:
        ConfigError: no such tenant, an unknown connector, a missing required option,
            a snapshot that cannot be opened, or more than one source given.
        CrmAuditError: the connector failed before supplying any table (its own
            error: ``AuthError``, ``ConnectorError``, ...).
    """
    given = [name for name, value in (("files", files), ("connector", connector), ("snapshot", snapshot))
             if value is not None]
    if len(given) > 1:
        raise ConfigError(f"give one of files, connector or snapshot, not {' and '.join(given)}", where="read_tenant")
    if options and connector is None:
        raise ConfigError("connector options need a connector", where="read_tenant")
    settings = config if isinstance(config, AuditConfig) else load_config(config)
    when = parse_as_of(as_of) if as_of is not None else None
    if snapshot is not None:
        with _read_snapshot(Path(snapshot), settings, tenant, when) as ctx:
            yield ctx
        return
    chosen = _choose(settings, files, connector, options, tenant)
    with _read_through_connector(settings, chosen, when or settings.as_of or _now()) as ctx:
        yield ctx


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def _choose(config: AuditConfig, files, connector, options, tenant) -> TenantConfig:
    if files is not None:
        return TenantConfig(tenant or tenant_name_from(Path(files).resolve().name), "files", {"path": str(files)})
    if connector is not None:
        return TenantConfig(tenant or connector, connector, dict(options or {}))
    where = str(config.path or "config")
    if not config.tenants:
        raise ConfigError("no tenant to read", where=where, hint="add a [tenants.NAME] section")
    if tenant is None:
        return config.tenants[0]
    for candidate in config.tenants:
        if candidate.name == tenant:
            return candidate
    raise ConfigError(f"no tenant {tenant!r}", where=where,
                      hint=f"tenants: {', '.join(t.name for t in config.tenants)}")


@contextmanager
def _read_through_connector(config: AuditConfig, tenant: TenantConfig, as_of: datetime) -> Iterator[CheckContext]:
    from .extract import run_connector
    from .plugins import build_plugin_manager
    from .runner import validate_tenants
    from .store import Store

    registry = build_plugin_manager()
    validate_tenants(registry, replace(config, tenants=[tenant]))  # the audit's errors for a bad tenant
    info = registry.connectors[tenant.connector]
    with tempfile.TemporaryDirectory(prefix="crm-audit-") as tmp:
        store = Store(Path(tmp) / SNAPSHOT_FILE)
        try:
            outcome = run_connector(info, tenant.options, tenant.name, store, as_of, debug=config.debug,
                                    settings=config.section("connectors").get(tenant.connector, {}))
            if outcome.error is not None and not store.supplied(tenant.name):
                raise outcome.error
            read_error = outcome.error.one_line() if outcome.error is not None else None
            with _context(store, tenant.name, as_of, config, read_error) as ctx:
                yield ctx
        finally:
            store.close()


@contextmanager
def _read_snapshot(path: Path, config: AuditConfig, tenant: str | None, as_of: datetime | None) -> Iterator[CheckContext]:
    import duckdb

    from .store import Store

    file = path / SNAPSHOT_FILE if path.is_dir() else path
    if not file.is_file():
        raise ConfigError("snapshot not found", where=str(path), hint=f"pass an audit folder or its {SNAPSHOT_FILE}")
    when = as_of or _archived_as_of(file.parent) or config.as_of or _now()
    try:
        store = Store(file, read_only=True)
    except duckdb.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"cannot open the snapshot: {first}", where=str(file)) from None
    try:
        names = store.tenants()
        if tenant is None:
            if len(names) != 1:
                held = f"tenants {', '.join(names)}" if names else "no tenant"
                raise ConfigError(f"the snapshot holds {held}", where=str(file),
                                  hint="name one" if names else "was its audit interrupted before reading?")
            tenant = names[0]
        elif tenant not in names:
            raise ConfigError(f"no tenant {tenant!r} in the snapshot", where=str(file),
                              hint=f"tenants: {', '.join(names) or 'none'}")
        with _context(store, tenant, when, config, None) as ctx:
            yield ctx
    finally:
        store.close()


def _archived_as_of(folder: Path) -> datetime | None:
    """The as-of date of the audit archived in ``folder`` (its state.json), if any."""
    from .runner import STATE_FILE

    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        return parse_as_of(state["as_of"])
    except (OSError, ValueError, KeyError, TypeError, ConfigError):
        return None


@contextmanager
def _context(store, tenant: str, as_of: datetime, config: AuditConfig, read_error: str | None) -> Iterator[CheckContext]:
    cursor = store.tenant_cursor(tenant)
    try:
        yield CheckContext(check=None, tenant=tenant, connection=cursor,
                           as_of=as_of.astimezone(timezone.utc).replace(tzinfo=None), settings={}, config=config,
                           supplied=store.supplied(tenant), read_error=read_error)
    finally:
        cursor.close()
