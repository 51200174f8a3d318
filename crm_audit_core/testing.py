"""Test kit for plugin authors (a pytest plugin, entry point ``pytest11``).

Fixtures:

``crm_audit_tenant(contacts=300, seed=1, defects=True)``
    A generated tenant (:class:`crm_audit_core.sandbox.GeneratedTenant`), cached per
    arguments for the session. ``tenant.manifest["defects"][check_id]["ids"]`` is the
    ground truth.
``crm_audit_run_check(check_or_id, tenant, settings=None, config=None)``
    Run one check on a tenant (in a fresh snapshot store) and return its Result.
``crm_audit_plugin(plugin)``
    Register a plugin object for the current test only; ``crm_audit_registry()`` then
    builds a plugin manager that includes it.

Helpers: :func:`load_tenant` (a generated tenant into a Store), :func:`assert_findings`,
:func:`without` (a tenant lacking a table or column, to test skips).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pytest

from . import model
from .checks import Check
from .config import AuditConfig, config_from_dict
from .store import Store

from .plugins import TEST_PLUGINS as _TEST_PLUGINS


def load_tenant(store: Store, generated, tenant: str | None = None) -> str:
    """Load a GeneratedTenant's tables into ``store`` as a complete tenant."""
    name = tenant or generated.name
    for table_name, table in generated.tables.items():
        if table_name not in model.TABLES:
            continue
        spec = model.TABLES[table_name]
        canonical = [c for c in spec.column_names if c in table.column_names]
        typed = table.select(canonical)
        store.mark(name, table_name, status="partial")
        store.insert_arrow(name, table_name, typed)
        custom_cols = [c for c in table.column_names if c not in canonical and c not in ("tenant", "raw")]
        if custom_cols and table_name in model.CUSTOM_FIELD_TABLES:
            ids = table.column(spec.key).to_pylist()
            rec, fld, val = [], [], []
            for col in custom_cols:
                for rid, v in zip(ids, table.column(col).to_pylist()):
                    if v is not None and v != "":
                        rec.append(str(rid))
                        fld.append(col)
                        val.append(str(v))
            if rec:
                store.insert_custom_arrow(name, table_name, pa.table({"record_id": rec, "field": fld, "value": val}))
        store.mark(name, table_name, status="complete")
    return name


def without(tenant, table: str, column: str | None = None):
    """A copy of a generated tenant that lacks ``table`` (or one ``column`` of it).

    For testing that a check is skipped, with a reason, when a connector does not
    supply what it needs.
    """
    from types import SimpleNamespace

    tables = dict(tenant.tables)
    if column is None:
        tables.pop(table)
    else:
        tables[table] = tables[table].drop_columns([column])
    return SimpleNamespace(tables=tables, name=tenant.name, as_of=tenant.as_of, manifest=getattr(tenant, "manifest", {}))


def registry_with(*plugins):
    from .plugins import build_plugin_manager

    return build_plugin_manager(extra_plugins=list(plugins))


class RowsTenant:
    """A tiny tenant written by hand as rows (dicts), for what the generator would never
    produce: ``run_check(check, RowsTenant(contacts=[{"id": "1", "first_name": "Budi"}]))``.
    Each table's columns are the keys its rows use, in first-seen order; columns that are
    not canonical become custom fields, as in a real tenant."""

    def __init__(self, name: str = "hand", as_of: datetime | None = None, **tables: list[dict]):
        self.name = name
        self.as_of = as_of or datetime(2026, 12, 31, tzinfo=timezone.utc)
        self.tables = {}
        for table, rows in tables.items():
            columns: list[str] = []
            for row in rows:
                columns += [c for c in row if c not in columns]
            self.tables[table] = pa.table({c: [r.get(c) for r in rows] for c in columns})


def run_check(item: Check | str, generated, *, settings: dict | None = None, config: AuditConfig | dict | None = None,
              store_dir: Path | None = None, registry=None):
    """Run one check (object or id) on a generated tenant; returns the Result."""
    import tempfile

    from .integrations import apply_integration_counts, derive_integrations
    from .runner import run_checks

    registry = registry or registry_with()
    if isinstance(item, str):
        if item not in registry.checks:
            raise KeyError(f"no check {item!r} is installed; have: {', '.join(sorted(registry.checks))}")
        item = registry.checks[item]
    # The same door the plugin manager has: a check the registry would refuse fails its
    # author's own tests, not only once installed.
    item.validate()
    if isinstance(config, dict):
        config = config_from_dict(config)
    config = config or AuditConfig()
    merged = item.resolve_settings(config)
    merged.update(settings or {})
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(store_dir or tmp) / "test.duckdb")
        try:
            tenant = load_tenant(store, generated)
            # The same steps the runner takes: integrations the records name, counts from
            # [integrations.<tenant>] and plugins.
            derive_integrations(store, tenant)
            apply_integration_counts(registry, store, tenant, config)
            as_of = generated.as_of
            if as_of.tzinfo is None:
                as_of = as_of.replace(tzinfo=timezone.utc)
            [result] = run_checks(registry, store, tenant, [item], {item.id: merged}, as_of, config)
        finally:
            store.close()
    return result


def result_texts(result) -> dict[str, str]:
    """Every reader-facing text of a result by where it is (``title``, ``message``,
    ``remediation``, ``reason`` when skipped, ``details[<id>]``): what a translation test
    walks (each value keeps its template: ``text.domain``, ``text.render(lang)``)."""
    texts = {"title": result.title, "message": result.message, "remediation": result.remediation}
    if result.reason is not None:
        texts["reason"] = result.reason
    texts.update({f"details[{rid}]": text for rid, text in result.details.items()})
    return texts


def assert_findings(result, expected_ids, *, status: str | None = None) -> None:
    """Assert a result reports exactly ``expected_ids`` (and fails iff there are any)."""
    expected = sorted(str(i) for i in expected_ids)
    got = sorted(result.affected.ids)
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert not missing and not extra, (
        f"{result.check_id}: {len(missing)} planted ids not reported {missing[:10]}, "
        f"{len(extra)} reported ids not planted {extra[:10]} (status {result.status}: {result.reason or result.message})"
    )
    want = status or ("fail" if expected else "pass")
    assert result.status == want, f"{result.check_id}: status {result.status}, expected {want} ({result.reason or result.message})"


_tenant_cache: dict = {}


@pytest.fixture(scope="session")
def crm_audit_tenant():
    """Factory: ``crm_audit_tenant(contacts=300, seed=1, defects=True, **kw)`` (cached)."""
    from datetime import datetime

    from .sandbox import generate_tenant

    def make(contacts: int = 300, seed: int = 1, defects: bool = True, **kw):
        kw.setdefault("as_of", datetime(2026, 12, 31, tzinfo=timezone.utc))
        key = (contacts, seed, defects, tuple(sorted((k, str(v)) for k, v in kw.items())))
        if key not in _tenant_cache:
            _tenant_cache[key] = generate_tenant(contacts=contacts, seed=seed, defects=defects, **kw)
        # a copy: tests may plant rows on it (add_rows / edit) without changing the cached tenant
        return _tenant_cache[key].copy()

    return make


@pytest.fixture
def crm_audit_run_check():
    """Run one check on a tenant: ``crm_audit_run_check("data.x", tenant, settings={...})``."""
    return run_check


@pytest.fixture
def crm_audit_plugin():
    """Register plugins for this test only: ``crm_audit_plugin(module_or_object)``."""
    added = []

    def register(plugin):
        _TEST_PLUGINS.append(plugin)
        added.append(plugin)
        return plugin

    yield register
    for plugin in added:
        _TEST_PLUGINS.remove(plugin)


@pytest.fixture
def crm_audit_registry():
    """Build a plugin registry (installed plugins + those added with crm_audit_plugin)."""
    return registry_with


# The connector acceptance suite (a test class to subclass; see crm_audit_core.acceptance),
# and option_args, which it uses too.
from .acceptance import ConnectorAcceptance, ConnectorUnderTest  # noqa: E402
from .acceptance.target import option_args  # noqa: E402
