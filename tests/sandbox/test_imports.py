"""The package's import graph has no cycle, counting imports inside functions too.

Built with ``ast`` over the source files of crm_audit_core and of each connector package
(no module is imported), so an
import hidden in a function body (the old generator <-> defects_* cycle was one) counts
like a top-level one. A cycle that exists and is owed a fix is listed in KNOWN_CYCLES
(and the test says when it is gone); any other cycle fails. Also: no module of the
tenant generator is over the size limit or without a docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

import crm_audit_core

PACKAGE = Path(crm_audit_core.__file__).resolve().parent
ROOT = "crm_audit_core"
MAX_LINES = 600


def _module_name(path: Path, package: Path) -> str:
    parts = (package.name,) + path.relative_to(package).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a (possibly relative) ``from ... import`` target."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its source)."""
    files = {_module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        # `if TYPE_CHECKING:` imports are for type checkers only: never run, never a cycle.
        typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                       and getattr(block.test, "id", getattr(block.test, "attr", None)) == "TYPE_CHECKING"
                       for n in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.level, node.module)
                # `from . import pools` imports the submodule; `from .x import f` imports x
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            for name in names:
                while name and name not in files:  # `import a.b.c` of a non-module attribute
                    name = name.rpartition(".")[0]
                if name.startswith(package.name) and name != module:
                    graph[module].add(name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def cycle_groups(graph: dict[str, set[str]]) -> list[set[str]]:
    """Every group of modules that import each other (strongly connected, > 1 module)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return groups


# Cycles known and owed a fix, each with where it closes. Remove an entry once it is
# fixed (test_known_cycles_still_exist says when); never add one to make a test pass.
KNOWN_CYCLES: list[set] = []


def test_the_import_graph_is_acyclic():
    graph = import_graph()
    assert "crm_audit_core.sandbox.generator" in graph and graph["crm_audit_core.sandbox.generator"]
    new = [g for g in cycle_groups(graph) if g not in KNOWN_CYCLES]
    assert not new, "import cycles: " + "; ".join(" -> ".join(find_cycle({m: graph[m] & g for m in g})) for g in new)
    sandbox = {m: deps for m, deps in graph.items() if m.startswith(f"{ROOT}.sandbox")}
    assert find_cycle(sandbox) is None


CONNECTOR_PACKAGES = sorted(p for p in (PACKAGE.parent / "connectors").glob("*/crm_audit_*") if (p / "__init__.py").exists())


def test_connector_packages_have_no_import_cycle():
    assert CONNECTOR_PACKAGES, "no connector packages found"
    for package in CONNECTOR_PACKAGES:
        graph = import_graph(package)
        assert len(graph) > 3, package
        cycle = find_cycle(graph)
        assert cycle is None, f"import cycle in {package.name}: {' -> '.join(cycle)}"


def test_known_cycles_still_exist():
    groups = cycle_groups(import_graph())
    fixed = [sorted(g) for g in KNOWN_CYCLES if g not in groups]
    assert not fixed, f"fixed: remove from KNOWN_CYCLES {fixed}"


def test_the_graph_sees_function_level_imports(tmp_path):
    """The detector itself: a cycle closed by an import inside a function is found."""
    pkg = tmp_path / ROOT / "sandbox"
    pkg.mkdir(parents=True)
    (tmp_path / ROOT / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from .generator import generate\n")
    (pkg / "generator.py").write_text("def generate():\n    from .defects import PLANTERS\n    return PLANTERS\n")
    (pkg / "defects.py").write_text("from .generator import generate\nPLANTERS = []\n")
    (pkg / "clean.py").write_text("from crm_audit_core.sandbox import defects\n")
    graph = import_graph(tmp_path / ROOT)
    assert graph[f"{ROOT}.sandbox.clean"] == {f"{ROOT}.sandbox.defects"}
    cycle = find_cycle(graph)
    assert cycle is not None and {f"{ROOT}.sandbox.generator", f"{ROOT}.sandbox.defects"} <= set(cycle)
    assert cycle_groups(graph) == [{f"{ROOT}.sandbox.generator", f"{ROOT}.sandbox.defects"}]


def test_generator_modules_stay_small_and_say_what_they_are_for():
    for path in sorted((PACKAGE / "sandbox").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n")
        assert lines <= MAX_LINES, f"{path.name}: {lines} lines (split it by responsibility)"
        assert ast.get_docstring(ast.parse(text)), f"{path.name}: no module docstring"
