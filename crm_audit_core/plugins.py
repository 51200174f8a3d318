"""The plugin manager: built-ins plus installed plugins (entry-point group ``crm_audit``).

Built inside each session (no module-level manager). Each entry point is loaded in its
own ``try``: a plugin that fails to import is recorded with its name and the error, and
everything else goes on. ``pm.check_pending()`` then makes a misspelled hook loud.

Registration refuses one item at a time: a check with bad metadata, a duplicate check
id, a malformed or duplicate report format or connector is recorded as a
``PluginFailure`` naming the plugin, the item and why, and the plugin's other
checks, reporters and connectors still register. Every failure reaches the audit's
``plugin_errors`` (terminal summary, report.json, report.md, report.html);
``crm-audit run --strict`` refuses to run while there is one.

Environment:
* ``CRM_AUDIT_DISABLE_PLUGIN_AUTOLOAD=1`` loads no installed plugin (built-ins only);
* ``CRM_AUDIT_DISABLE_PLUGINS=name,name`` skips the named entry points;
* ``CRM_AUDIT_TRACE_PLUGINS=1`` logs every hook call to stderr.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .checks import Check
from .connector import ConnectorInfo
from .errors import PluginError
from .reports import Reporter
from .secrets import redact

ENTRY_POINT_GROUP = "crm_audit"
REPORTER_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
BUILTIN_PLUGINS = ("crm_audit_core.files_connector", "crm_audit_core.reports.builtin", "crm_audit_core.i18n_plugin")

# Plugins registered for the current test only (crm_audit_core.testing's fixture).
TEST_PLUGINS: list = []


@dataclass
class PluginFailure:
    """Something a plugin offered that was not loaded, in one line.

    Attributes:
        name: the plugin (entry-point name, or the module/object name of a built-in or
            test plugin).
        error: why, in one line.
        kind: ``"plugin"`` when the plugin as a whole failed (import error, unknown hook,
            a registration hook that raised); ``"check"``, ``"reporter"`` or
            ``"connector"`` when only that item was refused.
        item: the refused check id, report format or connector name (None for ``"plugin"``).
    """

    name: str
    error: str
    kind: str = "plugin"
    item: str | None = None

    def __str__(self) -> str:
        if self.item is None:
            return f"plugin {self.name!r} failed to load: {self.error}"
        return f"plugin {self.name!r}: {self.kind} {self.item!r} refused: {self.error}"


@dataclass
class Registry:
    """Everything the plugins registered, validated at the door, and what was refused."""

    pm: pluggy.PluginManager
    connectors: dict[str, ConnectorInfo] = field(default_factory=dict)
    probes: dict[str, Any] = field(default_factory=dict)  # name -> crm_audit_core.probes.ProbeInfo
    checks: dict[str, Check] = field(default_factory=dict)
    reporters: dict[str, Any] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    export_formats: dict[str, Any] = field(default_factory=dict)  # name -> connector.ExportFormat
    translations: dict[str, Any] = field(default_factory=dict)  # plugin name -> crm_audit_core.i18n.Domain

    @property
    def hook(self):
        """The pluggy hook relay (``registry.hook.crm_audit_result(...)``)."""
        return self.pm.hook

    def refused(self, kind: str) -> dict[str, PluginFailure]:
        """The refused items of one kind (``"check"``, ``"reporter"``, ``"connector"``) by name."""
        return {f.item: f for f in self.failures if f.kind == kind and f.item is not None}


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
        # Modules by their name, objects by their class's name, so refusals name something readable.
        name = getattr(plugin, "__name__", None) or type(plugin).__name__
        if pm.get_plugin(name) is not None or pm.is_blocked(name):
            name = f"{name}-{id(plugin)}"
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
    from . import exports  # the files connector offers the export readers registered here

    exports.activate(registry.export_formats)
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
    """Call the three registration hooks; each ``register`` refuses one bad item and returns."""

    def refuse(plugin_name: str, kind: str, item, why: str) -> None:
        registry.failures.append(PluginFailure(plugin_name, redact(why), kind=kind, item=str(item)))

    def connectors(plugin_name):
        def register(info: ConnectorInfo):
            if not isinstance(info, ConnectorInfo):
                return refuse(plugin_name, "connector", getattr(info, "name", type(info).__name__),
                              f"register() expects a ConnectorInfo, got {type(info).__name__}")
            if info.name in registry.connectors:
                other = registry.connectors[info.name].plugin
                return refuse(plugin_name, "connector", info.name, f"registered twice (by {other!r} and {plugin_name!r})")
            info.plugin = plugin_name
            registry.connectors[info.name] = info
            if info.export_reader is not None:
                registry.export_formats[info.export_reader.name] = info.export_reader

        return register

    def probes(plugin_name):
        from .probes import ProbeInfo

        def register(info: ProbeInfo):
            if not isinstance(info, ProbeInfo):
                return refuse(plugin_name, "probe", getattr(info, "name", type(info).__name__),
                              f"register() expects a ProbeInfo, got {type(info).__name__}")
            if info.name in registry.probes:
                other = registry.probes[info.name].plugin
                return refuse(plugin_name, "probe", info.name, f"registered twice (by {other!r} and {plugin_name!r})")
            info.plugin = plugin_name
            registry.probes[info.name] = info

        return register

    def checks(plugin_name):
        def register(item: Check):
            if not isinstance(item, Check):
                name = getattr(item, "__name__", type(item).__name__)
                return refuse(plugin_name, "check", name,
                              f"register() expects a Check (use the @check decorator), got {type(item).__name__}")
            item = _with_plugin(item, plugin_name, registry.translations.get(plugin_name))
            try:
                item.validate()
            except PluginError as exc:
                # validate() names the check and the plugin; keep only the reasons here.
                return refuse(plugin_name, "check", item.id, exc.message.split(" is invalid: ", 1)[-1])
            if item.id in registry.checks:
                other = registry.checks[item.id].plugin
                return refuse(plugin_name, "check", item.id, f"registered twice (by {other!r} and {plugin_name!r})")
            registry.checks[item.id] = item

        return register

    def reporters(plugin_name):
        def register(reporter: Reporter):
            name = getattr(reporter, "name", None)
            if not isinstance(reporter, Reporter):
                return refuse(plugin_name, "reporter", name or type(reporter).__name__,
                              f"register() expects a Reporter, got {type(reporter).__name__}")
            problems = []
            if not isinstance(name, str) or not REPORTER_NAME.match(name):
                problems.append("name must be a short lowercase word (letters, digits, dashes)")
            if not callable(reporter.write):
                problems.append("write is not callable")
            if problems:
                return refuse(plugin_name, "reporter", name, "; ".join(problems))
            if name in registry.reporters:
                other = registry.reporters[name].plugin
                return refuse(plugin_name, "reporter", name, f"registered twice (by {other!r} and {plugin_name!r})")
            reporter.plugin = plugin_name
            registry.reporters[name] = reporter

        return register

    def translations(plugin_name):
        from .i18n import Domain

        def register(domain: Domain):
            if not isinstance(domain, Domain):
                return refuse(plugin_name, "translations", getattr(domain, "name", type(domain).__name__),
                              f"register() expects a crm_audit_core.i18n.Domain, got {type(domain).__name__}")
            registry.translations[plugin_name] = domain

        return register

    _call_register(registry, "crm_audit_register_translations", translations)
    _call_register(registry, "crm_audit_register_connectors", connectors)
    _call_register(registry, "crm_audit_register_probes", probes)
    _call_register(registry, "crm_audit_register_checks", checks)
    _call_register(registry, "crm_audit_register_reporters", reporters)


def _with_plugin(item: Check, plugin_name: str, domain=None) -> Check:
    from dataclasses import replace

    return replace(item, plugin=plugin_name, domain=item.domain or (domain.name if domain is not None else ""))


def plugin_table(registry: Registry) -> list[dict]:
    """One row per plugin: name, version, hooks it implements (for `crm-audit plugins`)."""
    out = []
    for name, plugin in registry.pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = sorted(h.name for h in registry.pm.get_hookcallers(plugin) or [])
        out.append({"name": name, "version": registry.versions.get(name, ""), "hooks": hooks})
    return sorted(out, key=lambda r: (r["version"] != "builtin", r["name"]))
