"""Checks for some CRMs only (``vendors``), their ``references``, the ``not-applicable``
status, and what a connector says at run time it could not read (``sink.unavailable``):
the core's part, with small connectors of the test's own over the files connector."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from crm_audit_core import ConnectorInfo, check, hookimpl
from crm_audit_core.cli import main
from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.errors import ConnectorError, PluginError
from crm_audit_core.extract import MemorySink
from crm_audit_core.files_connector import FilesConnector
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit
from crm_audit_core.sandbox import generate_tenant
from crm_audit_core.scoring import score

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)
SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "crm_audit_core" / "schemas" / "report.schema.json")
                    .read_text(encoding="utf-8"))
VENDOR_CHECKS = ("security.health-check-score", "security.guest-access", "security.admin-changes",
                 "updates.outdated-packages", "updates.clients-on-old-api-versions")
PERMISSION = ("the audit user lacks the 'View Setup and Configuration' permission: grant it to read who holds "
              "which permission (docs/connectors/otherfiles.md#permissions)")


class PartialFiles(FilesConnector):
    """The files connector without permissions.csv, saying why it could not read it."""

    def extract(self, sink):
        sink.unavailable("permissions", PERMISSION)
        super().extract(sink)


class Plugin:
    @hookimpl
    def crm_audit_register_connectors(self, register):
        register(ConnectorInfo(name="otherfiles", factory=lambda options, context: FilesConnector(Path(options["path"])),
                               options={"path": "folder"}))
        register(ConnectorInfo(name="partialfiles", factory=lambda options, context: PartialFiles(Path(options["path"])),
                               options={"path": "folder"}))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("tenant")
    generate_tenant(contacts=300, seed=5, name="acme", as_of=AS_OF).write(path)
    return path


def audit(folder, tmp_path, connector, patterns=()):
    config = AuditConfig(as_of=AS_OF, out=tmp_path / "audits")
    config.tenants.append(TenantConfig("acme", connector, {"path": str(folder)}))
    return run_audit(config, registry=build_plugin_manager(extra_plugins=[Plugin()]), progress=False,
                     check_patterns=patterns)


@pytest.fixture(scope="module")
def other_audit(folder, tmp_path_factory):
    return audit(folder, tmp_path_factory.mktemp("other"), "otherfiles")


def test_checks_for_other_crms_are_not_applicable_and_listed_once(other_audit):
    result, out = other_audit
    by_id = {r.check_id: r for r in result.results}
    for check_id in VENDOR_CHECKS:
        assert by_id[check_id].status == "not-applicable", check_id
        assert "this tenant is read by the otherfiles connector" in by_id[check_id].reason
    # checks for every CRM still run on it
    assert by_id["security.dangerous-permissions"].status == "fail"
    assert by_id["security.connected-app-access"].status == "fail"
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, SCHEMA)
    markdown = (out / "report.md").read_text(encoding="utf-8")
    not_run = markdown.split("## Not run", 1)[1].split("## Not applicable", 1)[0] if "## Not run" in markdown else ""
    assert not any(check_id in not_run for check_id in VENDOR_CHECKS), "not-applicable checks are not skipped"
    na = markdown.split("## Not applicable", 1)[1]
    assert na.count("- acme:") == 1 and all(check_id in na for check_id in VENDOR_CHECKS)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('class="muted not-applicable"') == 1
    assert 'data-check="security.health-check-score"' not in html
    # references: in the HTML (linked when a URL) and the Markdown of a finding
    assert "SBS-ACS-004: Documented Justification for All Super Admin-Equivalent Users" in html
    assert '<a href="https://docs.securitybenchmark.org/benchmark/access-controls.html"' in html
    assert "References: SBS-ACS-004" in markdown


def test_not_applicable_is_never_scored_nor_applicable(other_audit):
    result, _ = other_audit
    with_na = score(result.results)
    without = score([r for r in result.results if r.status != "not-applicable"])
    assert with_na["overall"] == without["overall"]
    assert with_na["coverage"]["checks_applicable"] == without["coverage"]["checks_applicable"]


def test_the_files_connector_takes_every_vendor_check_whose_data_it_holds(folder, tmp_path):
    registry = build_plugin_manager()
    assert registry.connectors["files"].any_vendor and not registry.connectors["salesforce"].any_vendor
    result, _ = audit(folder, tmp_path, "files", patterns=VENDOR_CHECKS)
    assert {r.check_id: r.status for r in result.results} == dict.fromkeys(VENDOR_CHECKS, "fail")
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    (bare / "packages.csv").unlink()
    result, _ = audit(bare, tmp_path / "second", "files", patterns=("updates.outdated-packages",))
    [only] = result.results
    assert only.status == "not-applicable"
    assert only.reason == ("applies to salesforce tenants only, and this tenant's files connector supplied "
                           "no packages table")


def test_unavailable_table_skips_with_the_connectors_reason(folder, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(folder, partial)
    (partial / "permissions.csv").unlink()
    result, out = audit(partial, tmp_path, "partialfiles",
                        patterns=("security.dangerous-permissions", "security.connected-app-access"))
    by_id = {r.check_id: r for r in result.results}
    skipped = by_id["security.dangerous-permissions"]
    assert skipped.status == "skipped"
    assert skipped.reason == f"needs the permissions table, which could not be read: {PERMISSION}"
    assert by_id["security.connected-app-access"].status == "fail"
    [tenant] = result.tenants
    assert tenant.unavailable == {"permissions": PERMISSION}
    assert f"could not read permissions: {PERMISSION}" in tenant.notes
    jsonschema.validate(json.loads((out / "report.json").read_text(encoding="utf-8")), SCHEMA)


def test_unavailable_refuses_unknown_names_and_empty_reasons():
    sink = MemorySink("acme")
    sink.unavailable("users.mfa_enabled", "the plan does not say who has MFA")
    assert sink.unavailable_reasons == {"users.mfa_enabled": "the plan does not say who has MFA"}
    with pytest.raises(ConnectorError, match="unknown table 'setings'"):
        sink.unavailable("setings", "x")
    with pytest.raises(ConnectorError, match="unknown column 'users.mfa'"):
        sink.unavailable("users.mfa", "x")
    with pytest.raises(ConnectorError, match="without a reason"):
        sink.unavailable("users", "  ")


def test_vendors_and_references_are_validated():
    def body(ctx):
        return ctx.result(ids=[])

    common = dict(id="acme.thing", title="A thing", step="security", area="security", severity="low",
                  description="Why.", remediation="Fix it.", needs={"users": ["id"]})
    check(**common, vendors=("salesforce", "hubspot"), references=("SBS-ACS-004: ...",))(body).validate()
    with pytest.raises(PluginError, match="vendors must be a tuple of connector names"):
        check(**common, vendors="salesforce")(body).validate()
    with pytest.raises(PluginError, match="references must be a tuple of non-empty strings"):
        check(**common, references=("",))(body).validate()


def test_checks_list_shows_crms_and_references():
    result = CliRunner().invoke(main, ["checks", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in json.loads(result.output)}
    assert rows["security.guest-access"]["vendors"] == ["salesforce"]
    assert rows["security.dangerous-permissions"]["vendors"] == []
    assert any(r.startswith("SBS-CPORTAL-002") for r in rows["security.guest-access"]["references"])
    table = CliRunner().invoke(main, ["checks", "list"], terminal_width=250)
    assert "SBS-SECCONF-001" in table.output
