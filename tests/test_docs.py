"""Docs enforced by tests: every hook has a section; every standard check has a page and
is in the catalogue; the worked example of 'Writing a check' runs as written."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
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
    assert set(files) == {"vip_checks/checks.py", "vip_checks/i18n.py", "vip_checks/locale/ko.po", "pyproject.toml",
                          "tests/test_vip.py"}
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


# ---------------------------------------------------------------------------
# API reference (docs/reference): mkdocstrings targets and the vocabulary page
# ---------------------------------------------------------------------------

REFERENCE = DOCS / "reference"
# Classes whose every public field and instance attribute must be described in an
# "Attributes:" section of the class docstring (mkdocstrings renders it as a table).
ATTRIBUTES_DOCUMENTED = (
    "crm_audit_core.checks.Check",
    "crm_audit_core.checks.CheckContext",
    "crm_audit_core.findings.Result",
    "crm_audit_core.findings.Affected",
    "crm_audit_core.findings.AuditResult",
    "crm_audit_core.findings.TenantInfo",
    "crm_audit_core.reports.Reporter",
    "crm_audit_core.reports.ReportContext",
    "crm_audit_core.plugins.PluginFailure",
)


def _targets() -> list[tuple[str, str]]:
    """(page, dotted path) of every `::: target` in docs/reference."""
    out = []
    for page in sorted(REFERENCE.glob("*.md")):
        for target in re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), re.M):
            out.append((page.name, target))
    return out


def _resolve(dotted: str):
    """Import the longest module prefix of ``dotted`` and get the rest as attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj, ".".join(parts[:i]), parts[i:]
    raise ImportError(dotted)


def _own_doc(obj) -> str:
    """The object's own docstring (a dataclass's generated signature does not count)."""
    doc = obj.__dict__.get("__doc__") if inspect.isclass(obj) else getattr(obj, "__doc__", None)
    doc = (doc or "").strip()
    if inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""
    return doc


def _attribute_doc(module_name: str, name: str) -> str:
    """The docstring written under a module-level assignment (how griffe reads it)."""
    import ast

    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    body = tree.body
    for node, after in zip(body, body[1:]):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            if isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
                return after.value.value.strip()
    return ""


def test_reference_pages_exist_and_are_in_the_nav():
    mkdocs = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(p.name for p in REFERENCE.glob("*.md"))
    assert {"index.md", "checks.md", "results.md", "reporters.md", "plugins.md", "vocabulary.md"} <= set(pages)
    for name in pages:
        assert f"reference/{name}" in mkdocs, f"docs/reference/{name} is not in mkdocs.yml's nav"
    assert "- mkdocstrings:" in mkdocs


def test_every_reference_target_imports_and_has_a_docstring():
    targets = _targets()
    wanted = {"crm_audit_core.checks.check", "crm_audit_core.checks.CheckContext", "crm_audit_core.findings.Result",
              "crm_audit_core.findings.AuditResult", "crm_audit_core.reports.Reporter", "crm_audit_core.connector.ConnectorInfo",
              "crm_audit_core.hookimpl"}
    assert wanted <= {t for _, t in targets}, f"missing from docs/reference: {sorted(wanted - {t for _, t in targets})}"
    undocumented = []
    for page, target in targets:
        obj, module_name, attrs = _resolve(target)
        if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
            doc = _own_doc(obj)
        else:  # a module-level value (hookimpl, STATUSES): its docstring follows the assignment
            assert len(attrs) == 1, f"{page}: {target} is neither a class, a function nor a module attribute"
            doc = _attribute_doc(module_name, attrs[0])
        if not doc:
            undocumented.append(f"{page}: {target}")
    assert undocumented == [], f"reference targets without a docstring: {undocumented}"


def _public_members(cls) -> dict:
    """Methods and properties a class defines itself (dataclass fields are attributes, not here)."""
    fields = set(getattr(cls, "__dataclass_fields__", {}))
    return {name: value for name, value in vars(cls).items()
            if not name.startswith("_") and name not in fields
            and (inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod)))}


def test_every_public_member_of_the_reference_classes_has_a_docstring():
    missing = []
    for _, target in _targets():
        obj, _, _ = _resolve(target)
        if not inspect.isclass(obj) or issubclass(obj, BaseException):
            continue
        for name, member in _public_members(obj).items():
            func = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            if not (func.__doc__ or "").strip():
                missing.append(f"{target}.{name}")
    assert missing == [], f"public members without a docstring: {missing}"
    from crm_audit_core.checks import CheckContext

    members = set(_public_members(CheckContext))
    assert {"rows", "scalar", "sql", "skip", "supplied", "result", "ids", "count", "arrow"} <= members


def _attributes_section(doc: str) -> set[str]:
    section = re.search(r"^Attributes:\n(.*?)(?:\n\n\S|\Z)", inspect.cleandoc(doc), re.M | re.S)
    return set(re.findall(r"^    (\w+):", section.group(1), re.M)) if section else set()


def test_every_attribute_of_the_reference_classes_is_described():
    from crm_audit_core.checks import CheckContext, check

    sample = check(id="docs.sample", title="t", step="security", area="security", severity="low")(lambda ctx: None)
    instances = {"crm_audit_core.checks.CheckContext": CheckContext(check=sample, tenant="t", connection=None, as_of=None, settings={})}
    problems = []
    for dotted in ATTRIBUTES_DOCUMENTED:
        cls, _, _ = _resolve(dotted)
        described = _attributes_section(_own_doc(cls))
        attributes = set(getattr(cls, "__dataclass_fields__", {}))
        if dotted in instances:
            attributes |= set(vars(instances[dotted]))
        attributes = {a for a in attributes if not a.startswith("_")}
        if attributes - described:
            problems.append(f"{dotted}: {sorted(attributes - described)} not in its docstring's Attributes section")
        if described - attributes:
            problems.append(f"{dotted}: Attributes section names {sorted(described - attributes)}, which it does not have")
    assert problems == [], problems


STATUS_MEANINGS = {
    "pass": "the check ran and found nothing to fix",
    "fail": "the check found records (or a condition) to fix; listed in a fix-list",
    "error": "the check raised; its message is kept and the audit went on; not scored",
    "skipped": "the data it needs was not supplied or could not be read; the reason is shown; not scored",
    "not-applicable": "the check is for other CRMs than the tenant's (its vendors); listed once per tenant, "
                      "not counted as skipped, not scored",
}


def vocabulary_page() -> str:
    """docs/reference/vocabulary.md, generated from the code's constants."""
    from crm_audit_core import model
    from crm_audit_core.checks import CHECK_ID
    from crm_audit_core.findings import STATUSES
    from crm_audit_core.scoring import SEVERITY_WEIGHTS

    assert set(STATUS_MEANINGS) == set(STATUSES), "describe every status in STATUS_MEANINGS"
    lines = [
        "# Steps, areas, severities",
        "",
        "<!-- Generated from crm_audit_core.model, .checks, .scoring and .findings by tests/test_docs.py;",
        "     do not edit by hand: `CRM_AUDIT_WRITE_DOCS=1 pytest tests/test_docs.py -k vocabulary` rewrites it. -->",
        "",
        "The values a check's metadata may take. Registration refuses a check with any other",
        "value (that check alone, naming its plugin and the value).",
        "",
        "## Check ids",
        "",
        f"A check id matches `{CHECK_ID.pattern}`: lowercase, dotted, with dashes, e.g.",
        "`security.dormant-users`. The first part usually names your plugin or the area.",
        "",
        "## Steps",
        "",
        "`step`: where the check appears in the reports, in this order.",
        "",
        "| step | title in reports |",
        "|---|---|",
        *[f"| `{step}` | {model.STEP_TITLES[step]} |" for step in model.STEPS],
        "",
        "## Areas",
        "",
        "`area`: the part of the score the check counts in.",
        "",
        *[f"- `{area}`" for area in model.AREAS],
        "",
        "## Severities",
        "",
        "`severity`: how much a failed check weighs in the score (see [the score](../scoring.md)).",
        "",
        "| severity | weight |",
        "|---|---|",
        *[f"| `{severity}` | {SEVERITY_WEIGHTS[severity]} |" for severity in model.SEVERITIES],
        "",
        "## Result statuses",
        "",
        "| status | meaning |",
        "|---|---|",
        *[f"| `{status}` | {STATUS_MEANINGS[status]} |" for status in STATUSES],
        "",
        "## Enumerated columns",
        "",
        "The values of these canonical columns the checks understand. Before the checks run, values are",
        "compared lower-cased and trimmed, and the synonyms are rewritten to the canonical value; any other",
        "value is reported by [data.unrecognised-values](../checks/data.unrecognised-values.md), and a check",
        "that needs the column is skipped rather than passed on rows it could not judge.",
        "",
        "| column | understood values | synonyms |",
        "|---|---|---|",
        *[f"| {', '.join(f'`{t}.{c}`' for t, c in cols)} | {', '.join(f'`{v}`' for v in allowed)} | "
          + (", ".join(f"{k} → {v}" for k, v in sorted(model.SYNONYMS.get(allowed, {}).items())) or "none") + " |"
          for allowed, cols in _vocabularies(model)],
        "",
        "Booleans (`is_active`, `is_won`, ...) read `true`, `t`, `1`, `yes`, `y` and `false`, `f`, `0`, `no`,",
        "`n` in any case. A stage's name tells whether it closes a deal where a CRM's export gives no flag: "
        + ", ".join(f"`{k}`" for k in sorted(model.STAGE_OUTCOMES)) + ".",
        "",
    ]
    return "\n".join(lines)


def _vocabularies(model):
    """(allowed values, [(table, column), ...]) in the order of model.VOCABULARIES."""
    out: dict = {}
    for (table, column), allowed in model.VOCABULARIES.items():
        out.setdefault(allowed, []).append((table, column))
    return list(out.items())


def test_vocabulary_page_matches_the_constants():
    import os

    page = REFERENCE / "vocabulary.md"
    expected = vocabulary_page()
    if os.environ.get("CRM_AUDIT_WRITE_DOCS") == "1":
        page.write_text(expected, encoding="utf-8")
    committed = page.read_text(encoding="utf-8") if page.exists() else ""
    assert committed == expected, (
        "docs/reference/vocabulary.md differs from the code's constants; "
        "run `CRM_AUDIT_WRITE_DOCS=1 pytest tests/test_docs.py -k vocabulary` and commit it")


def test_extras_testkit_is_what_plugin_tests_need_and_is_documented():
    import tomllib

    extras = tomllib.loads((DOCS.parent / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    names = {extra: {re.split(r"[<>=\[ ]", req)[0] for req in reqs} for extra, reqs in extras.items()}
    assert names["testkit"] == {"pytest", "hypothesis"}
    assert names["testkit"] <= names["test"] and "playwright" in names["test"]
    assert {"mkdocs", "mkdocstrings"} <= names["docs"]
    page = (DOCS / "plugins" / "writing-a-check.md").read_text(encoding="utf-8")
    assert "pip install 'crm-audit[testkit]'" in page and 'test = ["crm-audit[testkit]"]' in page


def test_reporter_example_runs_as_written(tmp_path):
    from crm_audit_core.findings import AuditResult, Result
    from crm_audit_core.reports import ReportContext

    page = (REFERENCE / "reporters.md").read_text(encoding="utf-8")
    [code] = re.findall(r"```python\n(.*?)```", page, re.S)
    namespace: dict = {}
    exec(compile(code, "reporters.md", "exec"), namespace)

    class Example:
        crm_audit_register_reporters = staticmethod(namespace["crm_audit_register_reporters"])

    registry = build_plugin_manager(extra_plugins=[Example()])
    assert registry.reporters["txt"].plugin == "Example" and not [f for f in registry.failures if f.name == "Example"]
    result = Result(check_id="x.y", title="t", step="security", area="security", severity="low", tenant="acme", status="pass")
    audit = AuditResult(id="a", as_of="2026-11-24", started_at="2026-11-24", results=[result])
    [path] = registry.reporters["txt"].write(audit, ReportContext(folder=tmp_path))
    assert path.read_text(encoding="utf-8") == "acme\tx.y\tpass\t0\n"


def test_sphinx_roles_render_as_inline_code():
    spec = importlib.util.spec_from_file_location("sphinx_roles", REFERENCE / "sphinx_roles.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "the :class:`Check` being run; :func:`~crm_audit_core.read_tenant`; :py:meth:`Check.resolve_settings`"
    assert module.plain_roles(text) == "the ``Check`` being run; ``read_tenant``; ``Check.resolve_settings``"
    mkdocs = (DOCS.parent / "mkdocs.yml").read_text(encoding="utf-8")
    assert "- docs/reference/sphinx_roles.py" in mkdocs and "reference/*.py" in mkdocs
