"""The plugin manager: built-ins plus installed plugins (entry-point group ``crm_audit``).

Built inside each session (no module-level manager). Each entry point is loaded in its
own ``try``: a plugin that fails to import is recorded with its name and the error, and
everything else goes on. ``pm.check_pending()`` then makes a misspelled hook loud.

Environment:
* ``CRM_AUDIT_DISABLE_PLUGIN_AUTOLOAD=1`` loads no installed plugin (built-ins only);
* ``CRM_AUDIT_DISABLE_PLUGINS=name,name`` skips the named entry points;
* ``CRM_AUDIT_TRACE_PLUGINS=1`` logs every hook call to stderr.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .checks import Check
from .connector import ConnectorInfo
from .errors import PluginError
from .secrets import redact

ENTRY_POINT_GROUP = "crm_audit"
BUILTIN_PLUGINS = ("crm_audit_core.files_connector", "crm_audit_core.reports.builtin")

# Plugins registered for the current test only (crm_audit_core.testing's fixture).
TEST_PLUGINS: list = []


@dataclass
class PluginFailure:
    name: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name!r} failed to load: {self.error}"


@dataclass
class Registry:
    """Everything the plugins registered, validated at the door."""

    pm: pluggy.PluginManager
    connectors: dict[str, ConnectorInfo] = field(default_factory=dict)
    checks: dict[str, Check] = field(default_factory=dict)
    reporters: dict[str, Any] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def hook(self):
        return self.pm.hook


def _plugin_name(pm: pluggy.PluginManager, plugin) -> str:
    return pm.get_name(plugin) or getattr(plugin, "__name__", repr(plugin))


def build_plugin_manager(*, autoload: bool | None = None, extra_plugins: list | tuple = ()) -> Registry:
    pm = pluggy.PluginManager("crm_audit")
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm=pm)
    import importlib

    for modname in BUILTIN_PLUGINS:
        module = importlib.import_module(modname)
        pm.register(module, name=modname)
        registry.versions[modname] = "builtin"

    if autoload is None:
        autoload = os.environ.get("CRM_AUDIT_DISABLE_PLUGIN_AUTOLOAD", "").strip() in ("", "0", "false")
    disabled = {n.strip() for n in os.environ.get("CRM_AUDIT_DISABLE_PLUGINS", "").split(",") if n.strip()}
    if autoload:
        for dist in metadata.distributions():
            for ep in dist.entry_points:
                if ep.group != ENTRY_POINT_GROUP or ep.name in disabled:
                    continue
                if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                    continue
                try:
                    plugin = ep.load()
                    pm.register(plugin, name=ep.name)
                    registry.versions[ep.name] = f"{dist.metadata['Name']} {dist.version}"
                except Exception as exc:  # a broken plugin never takes the CLI down
                    registry.failures.append(PluginFailure(ep.name, _short(exc)))
                    try:
                        pm.unregister(name=ep.name)
                    except Exception:
                        pass
    for plugin in [*TEST_PLUGINS, *extra_plugins]:
        name = getattr(plugin, "__name__", None) or f"plugin-{id(plugin)}"
        pm.register(plugin, name=name)
        registry.versions.setdefault(name, "registered")

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        bad = getattr(exc, "plugin", None)
        name = _plugin_name(pm, bad) if bad is not None else "?"
        registry.failures.append(PluginFailure(name, f"unknown hook: {exc}"))
        if bad is not None:
            pm.unregister(bad)

    if os.environ.get("CRM_AUDIT_TRACE_PLUGINS"):
        pm.trace.root.setwriter(lambda msg: sys.stderr.write("[crm-audit trace] " + msg))
        pm.enable_tracing()

    _collect(registry)
    return registry


def _short(exc: BaseException) -> str:
    text = redact(str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


def _call_register(registry: Registry, hook_name: str, make_register) -> None:
    """Call a registration hook plugin by plugin, so the register callback knows who calls."""
    pm = registry.pm
    hook = getattr(pm.hook, hook_name)
    trace = pm.trace.root.get("hook")  # writes only when CRM_AUDIT_TRACE_PLUGINS set a writer
    for impl in hook.get_hookimpls():  # registration order: built-ins, installed, then extras
        name = impl.plugin_name
        trace(f"{hook_name} [{name}]")
        try:
            impl.function(make_register(name))
        except PluginError as exc:
            registry.failures.append(PluginFailure(name, exc.message))
        except Exception as exc:
            registry.failures.append(PluginFailure(name, f"{hook_name} raised {_short(exc)}"))


def _collect(registry: Registry) -> None:
    def connectors(plugin_name):
        def register(info: ConnectorInfo):
            if not isinstance(info, ConnectorInfo):
                raise PluginError(f"register() expects a ConnectorInfo, got {type(info).__name__}")
            if info.name in registry.connectors:
                other = registry.connectors[info.name].plugin
                raise PluginError(f"connector {info.name!r} is registered twice (by {other!r} and {plugin_name!r})")
            info.plugin = plugin_name
            registry.connectors[info.name] = info

        return register

    def checks(plugin_name):
        def register(item: Check):
            if not isinstance(item, Check):
                raise PluginError(f"register() expects a Check (use the @check decorator), got {type(item).__name__}")
            item = _with_plugin(item, plugin_name)
            item.validate()
            if item.id in registry.checks:
                other = registry.checks[item.id].plugin
                raise PluginError(f"check {item.id!r} is registered twice (by {other!r} and {plugin_name!r})")
            registry.checks[item.id] = item

        return register

    def reporters(plugin_name):
        def register(reporter):
            if reporter.name in registry.reporters:
                raise PluginError(f"report format {reporter.name!r} is registered twice")
            reporter.plugin = plugin_name
            registry.reporters[reporter.name] = reporter

        return register

    _call_register(registry, "crm_audit_register_connectors", connectors)
    _call_register(registry, "crm_audit_register_checks", checks)
    _call_register(registry, "crm_audit_register_reporters", reporters)


def _with_plugin(item: Check, plugin_name: str) -> Check:
    from dataclasses import replace

    return replace(item, plugin=plugin_name)


def plugin_table(registry: Registry) -> list[dict]:
    """One row per plugin: name, version, hooks it implements (for `crm-audit plugins`)."""
    out = []
    for name, plugin in registry.pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(h.name for h in registry.pm.get_hookcallers(plugin) or [])
        out.append({"name": name, "version": registry.versions.get(name, ""), "hooks": hooks})
    return sorted(out, key=lambda r: (r["version"] != "builtin", r["name"]))
