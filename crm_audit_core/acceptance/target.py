"""What a connector's acceptance run needs to know about it: :class:`ConnectorUnderTest`.

Everything here talks to the connector and its sandbox the way a user's audit does: the
connector is found in the plugin registry by name (so it must be installed, entry point
and all), its sandbox serves a generated tenant over real HTTP on 127.0.0.1, and reads go
through ``info.factory(options, context)`` exactly as the runner calls it.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

from rich.console import Console

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)
TOKEN = "acceptance-secret-token-5e1d7b"
TENANT = "acceptance"
# Options that make a test audit fast, applied only where the connector offers them.
FAST_OPTIONS = {"retry_base_delay": "0.02", "retry_max_delay": "0.1", "timeout": "5.0"}


@dataclass
class ConnectorUnderTest:
    """The connector an acceptance class tests, and how to compare its rows with the tenant.

    ``name``: the registered connector name. ``mapped_columns``: table -> the canonical
    columns the connector maps exactly (the round trip compares them). ``minimum_calls``:
    ``(tenant, handle, options) -> int``, the fewest API calls a read of that tenant can
    take with the options' page sizes (None: not asserted). ``options``: extra connector
    options for every test; ``sandbox_kwargs``: extra sandbox keywords;
    ``fault_sandbox_kwargs``: sandbox keywords for a fast fault suite (a short rate window).

    Hooks: ``key(table, row) -> tuple`` matches snapshot rows with tenant rows (default:
    ``id``; ``fields`` by object and name; ``platform`` by vendor); ``tenant_row(table, row,
    handle) -> dict | None`` gives a tenant row as the connector should return it (e.g. with
    the CRM's own ids; None: the connector does not return it); ``normalize(table, column,
    value)`` for comparisons; ``volatile_columns``: columns that may differ between two reads
    of the same data; ``changes(handle, tenant)``: change the tenant between two audits for
    the incremental test (default: see :func:`default_changes`).
    """

    name: str
    mapped_columns: dict[str, tuple[str, ...]]
    minimum_calls: Callable[[Any, Any, dict], int] | None = None
    options: dict = field(default_factory=dict)
    sandbox_kwargs: dict = field(default_factory=dict)
    fault_sandbox_kwargs: dict = field(default_factory=dict)
    contacts: int = 120
    seed: int = 7
    as_of: datetime = AS_OF
    key: Callable[[str, dict], tuple] | None = None
    tenant_row: Callable[[str, dict, Any], dict | None] | None = None
    normalize: Callable[[str, str, Any], Any] | None = None
    volatile_columns: tuple[str, ...] = ()
    changes: Callable[[Any, Any], dict] | None = None

    # -- the connector and its sandbox ---------------------------------------------------

    def registry(self):
        """A fresh plugin registry (built-ins and installed plugins)."""
        from ..plugins import build_plugin_manager

        return build_plugin_manager()

    def info(self, registry=None):
        """The connector's ConnectorInfo (an AssertionError when it is not installed)."""
        registry = registry or self.registry()
        if self.name not in registry.connectors:
            raise AssertionError(f"connector {self.name!r} is not registered: is its distribution installed "
                                 f"with an entry point in the group 'crm_audit'? Known: {sorted(registry.connectors)}")
        return registry.connectors[self.name]

    def tenant(self, **kw):
        """The generated tenant the tests read (``contacts`` and ``seed`` of this target)."""
        from ..sandbox import generate_tenant

        return generate_tenant(contacts=kw.pop("contacts", self.contacts), seed=kw.pop("seed", self.seed),
                               name=TENANT, as_of=self.as_of, **kw)

    def sandbox(self, tenant, token: str = TOKEN, **kw):
        """Start the connector's sandbox serving ``tenant`` (a SandboxHandle; use it with ``with``)."""
        info = self.info()
        if info.sandbox is None:
            raise AssertionError(f"connector {self.name!r} offers no sandbox (ConnectorInfo.sandbox)")
        return info.sandbox(tenant, token=token, **{**self.sandbox_kwargs, **kw})

    def connector_options(self, handle, info=None, **extra) -> dict:
        """The options of a test read: the sandbox's, fast retries, this target's ``options``, ``extra``."""
        info = info or self.info()
        options = dict(handle.options)
        for key, value in FAST_OPTIONS.items():
            if key in info.options:
                options[key] = value
        options.update(self.options)
        options.update(extra)
        return options

    def extract(self, handle, **extra):
        """One read into a :class:`~crm_audit_core.extract.MemorySink`: (sink, connector)."""
        from ..connector import ExtractContext
        from ..extract import MemorySink

        info = self.info()
        connector = info.factory(self.connector_options(handle, info, **extra),
                                 ExtractContext(tenant=TENANT, as_of=self.as_of))
        sink = MemorySink(tenant=TENANT)
        connector.extract(sink)
        return sink, connector

    # -- comparing -----------------------------------------------------------------------

    def row_key(self, table: str, row: dict) -> tuple:
        """How a row is matched between the tenant and a read (see ``key``)."""
        if self.key is not None:
            return self.key(table, row)
        if table == "fields":
            return (str(row.get("object")), str(row.get("name")))
        if table == "platform":
            return (str(row.get("vendor")),)
        return (str(row.get("id")),)

    def expected(self, table: str, row: dict, handle) -> dict | None:
        """A tenant row as the connector should give it back (see ``tenant_row``)."""
        return self.tenant_row(table, row, handle) if self.tenant_row else row

    def norm(self, table: str, column: str, value: Any) -> Any:
        """A value as compared (see ``normalize`` and :func:`normalize_value`)."""
        if self.normalize is not None:
            value = self.normalize(table, column, value)
        return normalize_value(value)


def normalize_value(value: Any) -> Any:
    """Values as comparable: timestamps to whole UTC seconds, NaN to None, lists sorted."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int(value.astimezone(timezone.utc).timestamp())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:
            return normalize_value(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value == int(value):
            return int(value)
    if isinstance(value, (list, tuple)):
        return sorted(str(v) for v in value)
    if value == "":
        return None
    return value


def option_args(options: dict) -> list[str]:
    """``crm-audit run`` arguments for connector options: ``--option key=value`` each
    (values that are not strings as JSON, as the CLI reads them)."""
    args: list[str] = []
    for key, value in options.items():
        args += ["--option", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return args


def comparable_rows(rows: list[dict], skip: tuple[str, ...] = ()) -> list[str]:
    """Rows as sorted JSON texts (for "two reads give the same snapshot")."""
    out = []
    for row in rows:
        clean = {k: normalize_value(v) for k, v in row.items() if k not in skip}
        out.append(json.dumps(clean, sort_keys=True, default=str))
    return sorted(out)


def audit_once(registry, connector: str, options: dict, out: Path, *, tenant: str = TENANT, as_of: datetime = AS_OF,
               checks: tuple[str, ...] = ("usage.*",), resume: bool = False, incremental: bool = False,
               secret: str = TOKEN):
    """A real audit of one tenant through ``run_audit``, and the CLI's own verdict on it
    (its exit code, output captured): (tenant info dict from report.json, folder, exit code)."""
    from .. import cli
    from ..config import AuditConfig, TenantConfig
    from ..runner import run_audit
    from ..secrets import remember

    remember(secret)
    config = AuditConfig(as_of=as_of, out=out, tenants=[TenantConfig(tenant, connector, options)])
    audit, folder = run_audit(config, registry=registry, console=Console(file=io.StringIO()), progress=False,
                              check_patterns=checks, resume=resume, incremental=incremental)
    code = 0
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            cli._finish(audit, folder, None)
        except SystemExit as exc:
            code = int(exc.code or 0)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return report["audit"]["tenants"][0], folder, code


def run_audit_of(target: ConnectorUnderTest, handle, out: Path, *, options: dict | None = None, resume=False,
                 incremental=False, checks: tuple[str, ...] = ("usage.*",)):
    """A real audit of the target's sandbox (see :func:`audit_once`)."""
    registry = target.registry()
    info = target.info(registry)
    options = options if options is not None else target.connector_options(handle, info)
    return audit_once(registry, info.name, options, out, as_of=target.as_of, checks=checks, resume=resume,
                      incremental=incremental)


def snapshot_rows(folder: Path, table: str, columns: tuple[str, ...]) -> list[dict]:
    from ..store import Store

    store = Store(folder / "snapshot.duckdb", read_only=True)
    try:
        if table not in store.supplied(TENANT):
            return []
        return [dict(zip(columns, values)) for values in store.read_columns(TENANT, table, list(columns))]
    finally:
        store.close()


def default_changes(handle, tenant) -> dict:
    """Change the tenant between two audits: two contacts updated, one added, one deleted.

    Returns ``{"updated": [...], "added": [...], "deleted": [...]}`` (tenant ids)."""
    from datetime import timedelta

    contacts = tenant.rows("contacts")
    now = datetime.now(timezone.utc) + timedelta(seconds=1)
    updated = []
    for row in contacts[:2]:
        changed = dict(row, last_name=f"{row.get('last_name') or ''} Changed".strip(), updated_at=now)
        handle.put_record("contacts", changed, when=now)
        updated.append(str(row["id"]))
    new_id = str(max(int(r["id"]) for r in contacts if str(r["id"]).isdigit()) + 1000)
    added = dict(contacts[3], id=new_id, email=f"new.{new_id}@example.com", created_at=now, updated_at=now)
    handle.put_record("contacts", added, when=now)
    gone = str(contacts[-1]["id"])
    handle.delete_record("contacts", gone, when=now)
    return {"updated": updated, "added": [new_id], "deleted": [gone]}
