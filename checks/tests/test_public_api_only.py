"""The standard checks use only the public API of crm_audit_core (what it exports).

They are the example third parties copy: a check that reaches into ``crm_audit_core.store``
or ``crm_audit_core.plugins`` shows that the public API is missing something, and the
fix belongs there, not in the check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import crm_audit_checks
import crm_audit_core

CORE = "crm_audit_core"
PUBLIC = frozenset(crm_audit_core.__all__)
PACKAGE = Path(crm_audit_checks.__file__).parent


def violations(source: str, filename: str = "<module>") -> list[str]:
    """Every use of crm_audit_core in ``source`` that goes past its public names."""
    found = []
    core_aliases = set()  # names bound to the crm_audit_core package by `import crm_audit_core [as x]`
    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == CORE:
                    core_aliases.add(alias.asname or CORE)
                elif alias.name.startswith(CORE + "."):
                    found.append(f"{where}: import {alias.name} (a submodule of {CORE})")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.startswith(CORE + "."):
                found.append(f"{where}: from {node.module} import ... (a submodule of {CORE})")
            elif node.module == CORE:
                for alias in node.names:
                    if alias.name not in PUBLIC:
                        found.append(f"{where}: from {CORE} import {alias.name} (not in {CORE}.__all__)")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.args[0].value
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in ("import_module", "__import__") and isinstance(name, str) and name.startswith(CORE + "."):
                found.append(f"{where}: {called}({name!r}) (a submodule of {CORE})")
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)):
            continue
        if node.value.id in core_aliases and node.attr not in PUBLIC:
            found.append(f"{filename}:{node.lineno}: {node.value.id}.{node.attr} (not in {CORE}.__all__)")
        # A check context's engine underneath (by the convention that names it ctx).
        if node.value.id == "ctx" and (node.attr.startswith("_") or node.attr == "connection"):
            found.append(f"{filename}:{node.lineno}: ctx.{node.attr} (the engine under CheckContext)")
    return found


def test_the_standard_checks_import_only_public_names():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 10  # the package was found
    problems = [v for path in modules for v in violations(path.read_text(encoding="utf-8"), path.name)]
    assert not problems, "the standard checks reach past the public API:\n" + "\n".join(problems)


def test_the_scan_catches_every_way_past_the_public_api():
    source = """
import crm_audit_core.store
import crm_audit_core as core
from crm_audit_core import check, ConfigError
from crm_audit_core import Store
from crm_audit_core import _private
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.config import load_config
import importlib
importlib.import_module("crm_audit_core.extract")

def f(ctx):
    ctx.connection.register("x", None)
    return core.read_tenant, core.runner, ctx._supplied, ctx.sql("SELECT 1")
"""
    found = violations(source)
    for needle in ("import crm_audit_core.store", "import Store", "import _private", "crm_audit_core.plugins",
                   "crm_audit_core.config", "import_module('crm_audit_core.extract')", "core.runner",
                   "ctx.connection", "ctx._supplied"):
        assert any(needle in v for v in found), (needle, found)
    assert len(found) == 9, found  # check, ConfigError, core.read_tenant and ctx.sql are public


def test_every_public_name_exists():
    missing = [name for name in crm_audit_core.__all__ if not hasattr(crm_audit_core, name)]
    assert not missing
