"""Docs enforced by tests: every hook has a section; every standard check has a page and
is in the catalogue; the worked example of 'Writing a check' runs as written."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from crm_audit_core import hookspecs
from crm_audit_core.plugins import build_plugin_manager

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_hook_has_a_section_in_the_reference():
    text = (DOCS / "plugins" / "hooks.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (crm_audit_\w+)$", text, re.M))
    hooks = {name for name in dir(hookspecs) if name.startswith("crm_audit_")}
    assert hooks, "no hooks found"
    assert hooks - sections == set(), f"hooks without a section in docs/plugins/hooks.md: {sorted(hooks - sections)}"
    assert sections - hooks == set(), f"sections for hooks that do not exist: {sorted(sections - hooks)}"


def test_every_hook_has_a_docstring():
    for name in dir(hookspecs):
        if name.startswith("crm_audit_"):
            doc = getattr(hookspecs, name).__doc__ or ""
            assert "Called" in doc, f"{name}: the docstring must say when it is called"


def test_every_standard_check_has_a_page_and_is_in_the_catalogue():
    registry = build_plugin_manager()
    standard = sorted(cid for cid, c in registry.checks.items() if c.plugin == "standard")
    assert standard
    catalogue = (DOCS / "checks" / "index.md").read_text(encoding="utf-8")
    missing_pages = [cid for cid in standard if not (DOCS / "checks" / f"{cid}.md").exists()]
    missing_rows = [cid for cid in standard if f"({cid}.md)" not in catalogue]
    assert missing_pages == [], f"checks without docs/checks/<id>.md: {missing_pages}"
    assert missing_rows == [], f"checks missing from docs/checks/index.md: {missing_rows}"


def _files_of(page: Path) -> dict[str, str]:
    """The files a doc page gives: a line naming `path`: followed by a fenced block."""
    text = page.read_text(encoding="utf-8")
    return dict(re.findall(r"^`([\w/.-]+)`:\n\n```\w*\n(.*?)```", text, re.M | re.S))


def test_writing_a_check_runs_as_written(tmp_path, monkeypatch):
    files = _files_of(DOCS / "plugins" / "writing-a-check.md")
    assert set(files) == {"vip_checks/checks.py", "pyproject.toml", "tests/test_vip.py"}
    for name, body in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    (tmp_path / "vip_checks" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    for mod in [m for m in sys.modules if m.startswith(("vip_checks", "test_vip"))]:
        del sys.modules[mod]
    sys.path.insert(0, str(tmp_path / "tests"))
    try:
        test_module = importlib.import_module("test_vip")
        for name in dir(test_module):
            if name.startswith("test_"):
                getattr(test_module, name)(tmp_path)
    finally:
        sys.path.remove(str(tmp_path / "tests"))
    checks = importlib.import_module("vip_checks.checks")
    registry = build_plugin_manager(extra_plugins=[checks])
    assert "vip.unowned-vip-contacts" in registry.checks and not [f for f in registry.failures if "vip" in f.name]
