"""The worked example of docs/plugins/writing-a-connector.md runs as written.

The guide's files are written to a folder next to the ``.dist-info`` an install of its
pyproject.toml would write (its name, version and ``crm_audit`` entry point), so a Python
with that folder on its path finds the plugin the way an installed one is found, and the
test environment stays as it was. Then a real audit runs over the example's sandbox through
``crm-audit run --connector tinycrm``, and the example's own acceptance test runs in pytest.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from crm_audit_core.sandbox import generate_tenant

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "plugins" / "writing-a-connector.md"
FILES = {"pyproject.toml", "crm_audit_tinycrm/__init__.py", "crm_audit_tinycrm/connector.py",
         "crm_audit_tinycrm/sandbox.py", "crm_audit_tinycrm/plugin.py", "tests/test_acceptance.py"}
TOKEN = "guide-secret-token-5d1e7c"


def files_of(page: Path) -> dict[str, str]:
    """The files a doc page gives: a line naming `path`: followed by a fenced block."""
    return dict(re.findall(r"^`([\w/.-]+)`:\n\n```\w*\n(.*?)```", page.read_text(encoding="utf-8"), re.M | re.S))


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crm-audit-tinycrm")
    files = files_of(GUIDE)
    assert set(files) == FILES, "the guide's files changed: update FILES or the guide"
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body, encoding="utf-8")
    project = tomllib.loads(files["pyproject.toml"])["project"]
    entry_points = project["entry-points"]["crm_audit"]
    assert entry_points == {"tinycrm": "crm_audit_tinycrm.plugin"}
    dist = root / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    (dist / "entry_points.txt").write_text(
        "[crm_audit]\n" + "".join(f"{name} = {target}\n" for name, target in entry_points.items()))
    return root


def environment(package: Path, **extra: str) -> dict:
    """The environment of a Python that finds the example by its entry point."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CRM_AUDIT_DISABLE_PLUGIN_AUTOLOAD", "CRM_AUDIT_DISABLE_PLUGINS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(package), os.environ.get("PYTHONPATH", "")) if p)
    return {**env, **extra}


@pytest.fixture
def tinycrm(package, monkeypatch):
    """The example's package imported in this process for one test."""
    monkeypatch.syspath_prepend(str(package))
    yield importlib.import_module("crm_audit_tinycrm.sandbox")
    for name in [m for m in sys.modules if m.startswith("crm_audit_tinycrm")]:
        del sys.modules[name]


def crm_audit_command() -> list[str]:
    script = Path(sys.executable).parent / "crm-audit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crm_audit_core.cli"]


def test_audit_over_the_example_sandbox_through_the_cli(package, tinycrm, tmp_path):
    tenant = generate_tenant(contacts=150, seed=11)
    users, contacts = (tenant.tables[t].num_rows for t in ("users", "contacts"))
    out = tmp_path / "audits"
    with tinycrm.start_sandbox(tenant, token=TOKEN) as handle:
        base_url = handle.options["base_url"]
        result = subprocess.run(
            [*crm_audit_command(), "run", "--connector", "tinycrm", "--option", f"base_url={base_url}",
             "--out", str(out), "--as-of", "2026-12-31", "--no-progress"],
            env=environment(package, TINYCRM_API_TOKEN=TOKEN), capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert handle.writes() == [] and {r["path"] for r in handle.requests} == {"/v1/users", "/v1/contacts"}
        assert all(r["query"]["limit"] == "200" for r in handle.requests)
    [folder] = [p for p in out.iterdir() if p.is_dir()]
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    [summary] = report["audit"]["tenants"]
    assert summary["records"] == {"users": users, "contacts": contacts}
    assert summary["api_calls"] == math.ceil(users / 200) + math.ceil(contacts / 200) == len(handle.requests)
    assert not summary.get("error") and not summary.get("partial_tables")
    by_id = {r["check_id"]: r for r in report["results"]}
    assert by_id["security.dormant-users"]["status"] in ("pass", "fail")
    assert by_id["data.unreachable-contacts"]["status"] in ("pass", "fail")
    no_deals = [r for r in report["results"] if r["status"] == "skipped" and "deals table" in r["reason"]]
    assert no_deals and all("did not supply" in r["reason"] for r in no_deals)
    listed = [row for fixlist in sorted((folder / "fixlists").glob("*.csv"))
              if not fixlist.name.startswith("merge-plan-")  # attachments have their own columns
              for row in csv.DictReader(io.StringIO(fixlist.read_text(encoding="utf-8")))
              if row["object"] == "contacts"]
    assert listed and all(row["link"] == f"{base_url}/app/contacts/{row['id']}" for row in listed)
    outputs = [result.stdout, result.stderr] + [p.read_bytes().decode("utf-8", "replace")
                                                for p in folder.rglob("*") if p.is_file()]
    assert not [text for text in outputs if TOKEN in text], "the API token leaked into an output"


def test_the_errors_the_guide_quotes_are_the_examples_own(tinycrm, monkeypatch):
    from crm_audit_core.connector import ExtractContext
    from crm_audit_core.errors import ConfigError

    connector = importlib.import_module("crm_audit_tinycrm.connector")
    text = " ".join(GUIDE.read_text(encoding="utf-8").split())
    context = ExtractContext(tenant="t", as_of=None)
    with pytest.raises(ConfigError) as bad_page:
        connector.create_connector({"base_url": "http://x", "api_token": TOKEN, "page_limit": "lots"}, context)
    assert f"`{bad_page.value.message}`" in text
    monkeypatch.delenv("TINYCRM_API_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="needs option 'api_token'.*TINYCRM_API_TOKEN"):
        connector.create_connector({"base_url": "http://x"}, context)


def test_the_example_passes_the_acceptance_suite(package):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_acceptance.py"],
        cwd=package, env=environment(package), capture_output=True, text=True, timeout=300)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", summary) and not re.search(r"failed|error|skipped", summary), summary
