"""What the audit knows about a tenant's integrations before the checks run.

Three sources are merged into the snapshot, in this order:

1. **Derived from the records**: every distinct ``source_detail`` of contacts, companies
   and deals whose ``source`` is ``integration`` is an integration, whether or not the CRM
   lists it (many vendors list none). Such rows get the name as id, their first and last
   record as ``created_at`` and ``last_sync_at``, and no status (the CRM did not say).
2. **Probes** (:mod:`crm_audit_core.probes`): the other side's counts, into ``sync_counts``.
3. **Reported counts** from ``[integrations.<tenant>]`` in crm-audit.toml and the
   ``crm_audit_integration_counts`` hook, into ``integrations.records_reported``.
"""

from __future__ import annotations

from datetime import datetime

from rich.markup import escape

from .config import AuditConfig, TenantConfig
from .errors import ConfigError
from .findings import TenantInfo
from .i18n import _, ngettext, render
from .plugins import Registry
from .probes import ProbeContext, run_probe
from .store import SCHEMA, Store

RECORD_TABLES = ("contacts", "companies", "deals")


def derive_integrations(store: Store, tenant: str) -> int:
    """Add an ``integrations`` row for every integration the records name that the CRM
    did not list; returns how many were added."""
    supplied = store.supplied(tenant)
    parts, params = [], []
    for t in RECORD_TABLES:
        cols = supplied.get(t, set())
        if not {"source", "source_detail"} <= cols:
            continue
        created = "created_at" if "created_at" in cols else "CAST(NULL AS TIMESTAMP)"
        parts.append(f"SELECT trim(source_detail) AS name, {created} AS created_at FROM {SCHEMA}.{t} "
                     "WHERE tenant = ? AND lower(trim(source)) = 'integration' AND nullif(trim(source_detail), '') IS NOT NULL")
        params.append(tenant)
    if not parts:
        return 0
    found = store.execute(f"SELECT name, min(created_at), max(created_at) FROM ({' UNION ALL '.join(parts)}) "
                          "GROUP BY name ORDER BY name", params).fetchall()
    listed: set[str] = set()
    if "name" in supplied.get("integrations", set()):
        listed = {str(r[0]).strip().lower() for r in store.execute(
            f"SELECT name FROM {SCHEMA}.integrations WHERE tenant = ? AND name IS NOT NULL", [tenant]).fetchall()}
    rows = [{"id": name, "name": name, "created_at": first, "last_sync_at": last}
            for name, first, last in found if name.lower() not in listed]
    if rows:
        store.insert_rows(tenant, "integrations", rows)
        store.mark(tenant, "integrations", status="complete")
    return len(rows)


def run_probes(registry: Registry, store: Store, tenant: TenantConfig, tinfo: TenantInfo, config: AuditConfig,
               as_of: datetime, console) -> None:
    """Read the tenant's configured probes into ``sync_counts``; a failing probe prints one
    line and leaves its counts missing."""
    if not tenant.probes:
        return
    integrations = []
    if "integrations" in store.supplied(tenant.name):
        integrations = [{"id": r[0], "name": r[1], "kind": r[2]} for r in store.execute(
            f"SELECT id, name, kind FROM {SCHEMA}.integrations WHERE tenant = ? ORDER BY id", [tenant.name]).fetchall()]
    store.execute(f"DELETE FROM {SCHEMA}.sync_counts WHERE tenant = ?", [tenant.name])  # a resumed audit reads them again
    rows: list[dict] = []
    for name, options in tenant.probes.items():
        info = registry.probes[name]
        context = ProbeContext(tenant=tenant.name, as_of=as_of, integrations=integrations, debug=config.debug,
                               settings=config.section("probes").get(name, {}) if "probes" in config.sections else {})
        outcome = run_probe(info, options, context)
        rows.extend(outcome.rows)
        tinfo.api_calls += outcome.api_calls
        if outcome.error:
            warning = render(_("warning"), config.lang)
            console.print(f"[yellow]{escape(warning)}[/yellow] {escape(render(outcome.error, config.lang))}", markup=True,
                          highlight=False)
            tinfo.notes.append(_("{error}; its counts are missing", error=outcome.error))
        else:
            tinfo.notes.append(ngettext("probe {probe}: read {n} count in {calls} API calls",
                                        "probe {probe}: read {n} counts in {calls} API calls",
                                        sum(1 for r in outcome.rows if r.get("missing") is None),
                                        probe=name, calls=outcome.api_calls))
    if rows:
        store.insert_rows(tenant.name, "sync_counts", rows)
    store.mark(tenant.name, "sync_counts", status="complete",
               columns=["id", "probe", "integration", "object", "key", "measure", "value", "source", "missing", "observed_at"])


def apply_integration_counts(registry: Registry, store: Store, tenant: str, config: AuditConfig) -> None:
    """Merge counts from config ``[integrations.<tenant>]`` and the integration-counts hook."""
    if "integrations" not in store.supplied(tenant):
        return
    rows = store.execute(f"SELECT id, name, kind FROM {SCHEMA}.integrations WHERE tenant = ?", [tenant]).fetchall()
    integrations = [{"id": r[0], "name": r[1], "kind": r[2]} for r in rows]
    merged: dict = {}
    for answer in registry.hook.crm_audit_integration_counts(tenant=tenant, integrations=integrations, config=config) or []:
        if isinstance(answer, dict):
            merged.update(answer)
    from_config = config.section("integrations").get(tenant)
    if isinstance(from_config, dict):
        merged.update(from_config)
    for key, count in merged.items():
        try:
            count = int(count)
        except (TypeError, ValueError):
            raise ConfigError(_("integration count for {key} is not a number: {value}", key=repr(key), value=repr(count)),
                              where=f"integrations.{tenant}") from None
        store.execute(
            f"UPDATE {SCHEMA}.integrations SET records_reported = ? WHERE tenant = ? AND (id = ? OR name = ?)",
            [count, tenant, str(key), str(key)],
        )
    if merged:
        store.mark(tenant, "integrations", columns=["records_reported"])


def prepare_integrations(registry: Registry, store: Store, tenant: TenantConfig, tinfo: TenantInfo,
                         config: AuditConfig, as_of: datetime, console) -> None:
    """Derive unlisted integrations, read the probes, apply reported counts."""
    added = derive_integrations(store, tenant.name)
    if added:
        tinfo.notes.append(_("integrations: {n} taken from the records' source_detail (the CRM does not list them)", n=added))
    run_probes(registry, store, tenant, tinfo, config, as_of, console)
    apply_integration_counts(registry, store, tenant.name, config)
