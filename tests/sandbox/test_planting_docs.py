"""The example of 'Planting rows for your check's tests' (docs/plugins/writing-a-check.md)
runs as written, against the page's own `vip_checks/checks.py`, with pytest's fixtures."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "plugins" / "writing-a-check.md"
SECTION = "## Planting rows for your check's tests"


def _section(text: str) -> str:
    start = text.index(SECTION)
    rest = text[start + len(SECTION):]
    following = re.search(r"^## ", rest, re.M)
    return rest[: following.start()] if following else rest


def test_the_planting_example_runs_as_written(tmp_path, monkeypatch, request):
    text = PAGE.read_text(encoding="utf-8")
    [example] = re.findall(r"^```python\n(.*?)```", _section(text), re.M | re.S)
    [plugin] = re.findall(r"^`vip_checks/checks\.py`:\n\n```python\n(.*?)```", text, re.M | re.S)
    [i18n] = re.findall(r"^`vip_checks/i18n\.py`:\n\n```python\n(.*?)```", text, re.M | re.S)
    (tmp_path / "vip_checks").mkdir()
    (tmp_path / "vip_checks" / "__init__.py").write_text("")
    (tmp_path / "vip_checks" / "checks.py").write_text(plugin, encoding="utf-8")
    (tmp_path / "vip_checks" / "i18n.py").write_text(i18n, encoding="utf-8")  # the page's translations module
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("vip_checks")]:
        monkeypatch.delitem(sys.modules, name)
    namespace: dict = {"__name__": "planting_example"}
    exec(compile(example, f"{PAGE}#planting", "exec"), namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    assert tests, "the example defines no test"
    for test in tests:
        test(**{p: request.getfixturevalue(p) for p in inspect.signature(test).parameters})
