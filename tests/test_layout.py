"""The layout promises of DESIGN.md and STYLE.md, checked on the source tree.

* small modules: no module of the core, a connector or a probe over ~600 lines, unless its
  docstring says why (a line starting "Long because" or "Longer than 600 lines");
* every module says what its room is for (a module docstring);
* the core never imports a connector, a probe or a check; checks never import a connector
  or a probe.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 600
PACKAGES = [ROOT / "crm_audit_core", *sorted((ROOT / "connectors").glob("*/crm_audit_*")),
            *sorted((ROOT / "probes").glob("*/crm_audit_*"))]
PLUGIN_PACKAGES = ("crm_audit_hubspot", "crm_audit_salesforce", "crm_audit_pipedrive", "crm_audit_xero")


def _modules():
    for package in PACKAGES:
        for path in sorted(package.rglob("*.py")):
            yield path


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


@pytest.mark.parametrize("path", list(_modules()), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_is_small_and_says_what_it_is_for(path):
    lines = path.read_text(encoding="utf-8").count("\n")
    doc = _docstring(path)
    if path.name != "__init__.py" or lines > 20:
        assert doc.strip(), f"{path.relative_to(ROOT)} has no module docstring saying what the room is for"
    if lines > LIMIT:
        reason = any(line.strip().lower().startswith(("long because", "longer than 600 lines"))
                     for line in doc.splitlines())
        assert reason, (f"{path.relative_to(ROOT)} has {lines} lines (over ~{LIMIT}) and its docstring does not "
                        "say why: split it by responsibility, or add a line 'Long because ...'")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_core_names_no_connector_and_no_check():
    bad = []
    for path in (ROOT / "crm_audit_core").rglob("*.py"):
        for name in _imports(path):
            if name.startswith((*PLUGIN_PACKAGES, "crm_audit_checks")):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, bad


def test_checks_and_connectors_do_not_import_each_other():
    bad = []
    for path in (ROOT / "checks").rglob("*.py"):
        bad += [f"{path.relative_to(ROOT)} imports {n}" for n in _imports(path)
                if n.startswith(PLUGIN_PACKAGES)]
    for path in [*(ROOT / "connectors").rglob("*.py"), *(ROOT / "probes").rglob("*.py")]:
        bad += [f"{path.relative_to(ROOT)} imports {n}" for n in _imports(path) if n.startswith("crm_audit_checks")]
    assert not bad, bad
