"""Integration probes (the other side of an integration), derived integrations and
connector limitations in skip reasons: the core's part, with small plugins of its own."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crm_audit_core import ConnectorInfo, ProbeInfo, SyncCount, hookimpl
from crm_audit_core.config import AuditConfig, TenantConfig, tenant_from_dict
from crm_audit_core.errors import ConfigError, ConnectorError
from crm_audit_core.kit import Option, Options
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit
from crm_audit_core.sandbox import generate_tenant

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)


class CountingProbe:
    def __init__(self, options, context):
        opts = Options(options, "counting")
        self.fail = opts.text("fail")
        self.key = opts.secret("api_key")
        self.integration = opts.text("integration", default="Mailchimp")
        self.empty = opts.text("empty")
        self.api_calls = 0

    def read(self, context):
        self.api_calls += 1
        if self.fail:
            raise ConnectorError(f"401 from the counting API: {self.fail} (key {self.key})", hint="check api_key")
        if self.empty:
            return []  # an account with no audience and no campaigns
        names = {i["name"] for i in context.integrations}
        assert self.integration in names  # the probe sees what the CRM lists
        return [SyncCount(self.integration, "contacts", "records", 1234, source="counting audience (GET /lists/1)"),
                SyncCount(self.integration, "campaigns", "sent", 500, key="Newsletter 2026-05", source="counting reports")]


class Plugin:
    @hookimpl
    def crm_audit_register_probes(self, register):
        register(ProbeInfo(
            name="counting", factory=CountingProbe, integration="Mailchimp",
            options={"api_key": Option("the API key", required=True), "fail": "make read() fail with this text",
                     "empty": "read no counts at all",
                     "integration": "the integration's name in the CRM"},
            expected=(("contacts", "records"),),
        ))

    @hookimpl
    def crm_audit_register_connectors(self, register):
        from crm_audit_core.files_connector import FilesConnector

        register(ConnectorInfo(
            name="limited", factory=lambda options, context: FilesConnector(Path(options["path"])),
            options={"path": "folder"},
            limitations={"users.mfa_enabled": "the Limited CRM does not say who has two-factor authentication "
                                              "(docs/connectors/limited.md#limits)",
                         "login_events": "the Limited CRM keeps no login history"},
        ))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("tenant")
    tenant = generate_tenant(contacts=300, seed=5, name="acme", as_of=AS_OF)
    tenant.write(path)
    return path


def audit(folder, tmp_path, probes, connector="files"):
    config = AuditConfig(as_of=AS_OF, out=tmp_path / "audits")
    config.tenants.append(TenantConfig("acme", connector, {"path": str(folder)}, probes=probes))
    registry = build_plugin_manager(extra_plugins=[Plugin()])
    result, out = run_audit(config, registry=registry, progress=False)
    return result, out


def sync_rows(out):
    import duckdb

    con = duckdb.connect(str(out / "snapshot.duckdb"), read_only=True)
    try:
        return con.execute("SELECT integration, object, key, measure, value, source, missing FROM canonical.sync_counts "
                           "ORDER BY object, measure").fetchall()
    finally:
        con.close()


def test_probe_counts_reach_the_snapshot(folder, tmp_path):
    result, out = audit(folder, tmp_path, {"counting": {"api_key": "k-123"}})
    rows = sync_rows(out)
    assert ("Mailchimp", "contacts", None, "records", 1234, "counting audience (GET /lists/1)", None) in rows
    assert ("Mailchimp", "campaigns", "Newsletter 2026-05", "sent", 500, "counting reports", None) in rows
    [tenant] = result.tenants
    assert "probe counting: read 2 counts in 1 API calls" in tenant.notes


def test_a_failing_probe_marks_its_counts_missing_and_the_audit_completes(folder, tmp_path, capsys):
    result, out = audit(folder, tmp_path, {"counting": {"api_key": "s3cr3t-key", "fail": "wrong key"}})
    [row] = sync_rows(out)
    assert row[:5] == ("Mailchimp", "contacts", None, "records", None)
    assert row[6].startswith("probe counting (tenant acme): 401 from the counting API: wrong key")
    assert "s3cr3t-key" not in row[6]
    assert result.results and all(r.status != "error" for r in result.results)
    err = capsys.readouterr().err
    assert "probe counting (tenant acme)" in err and "s3cr3t-key" not in err and "Traceback" not in err
    report = (out / "report.json").read_text(encoding="utf-8")
    assert "s3cr3t-key" not in report and "s3cr3t-key" not in (out / "settings.json").read_text(encoding="utf-8")


def test_an_expected_count_the_probe_did_not_give_is_missing(folder, tmp_path):
    # the other side answered with nothing to count: the total the probe is registered to
    # give is stored as missing, with why, and the check says it could not read it (a
    # silent absence would let the check judge as if no probe had been configured)
    result, out = audit(folder, tmp_path, {"counting": {"api_key": "k-123", "empty": "yes"}})
    assert sync_rows(out) == [("Mailchimp", "contacts", None, "records", None, "counting probe",
                               "probe counting (tenant acme): the answer holds no contacts records count")]
    check = next(r for r in result.results if r.check_id == "integrations.sync-count-mismatch")
    assert "1 count could not be read" in check.message
    assert "the answer holds no contacts records count" in check.reason
    [tenant] = result.tenants
    assert "probe counting: read 0 counts in 1 API calls" in tenant.notes


def test_probe_configuration_errors_are_usage_errors(folder, tmp_path):
    with pytest.raises(ConfigError, match="configures probe 'mailchimpp', which is not installed"):
        audit(folder, tmp_path, {"mailchimpp": {"api_key": "x"}})
    with pytest.raises(ConfigError, match="'apikey' is not an option of the counting probe") as exc:
        audit(folder, tmp_path, {"counting": {"apikey": "x"}})
    assert "did you mean 'api_key'" in str(exc.value.hint)
    with pytest.raises(ConfigError, match="the counting probe is missing option 'api_key'"):
        audit(folder, tmp_path, {"counting": {}})
    assert not (tmp_path / "audits").exists() or not any((tmp_path / "audits").iterdir())


def test_probes_in_crm_audit_toml():
    t = tenant_from_dict("acme", {"connector": "files", "path": "x",
                                  "probes": {"counting": {"api_key": "${KEY}"}}}, env={"KEY": "abc"})
    assert t.probes == {"counting": {"api_key": "abc"}} and "probes" not in t.options
    with pytest.raises(ConfigError, match=r"\[tenants.acme.probes\] must hold tables"):
        tenant_from_dict("acme", {"connector": "files", "probes": {"counting": "x"}})


def test_integrations_are_derived_from_records_when_the_crm_lists_none(folder, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in folder.iterdir():
        if f.name != "integrations.csv":
            (bare / f.name).write_bytes(f.read_bytes())
    result, out = audit(bare, tmp_path, {})
    by_id = {r.check_id: r for r in result.results}
    stopped = by_id["integrations.stopped-integrations"]
    assert stopped.status in ("pass", "fail"), stopped.reason
    assert by_id["integrations.stale-syncs"].status == "skipped"  # no status: the CRM did not say
    assert "integrations.status" in by_id["integrations.stale-syncs"].reason
    [tenant] = result.tenants
    assert any(n.startswith("integrations: 5 taken from the records' source_detail") for n in tenant.notes), tenant.notes


def test_limitation_names_the_vendor_reason(folder, tmp_path):
    bare = tmp_path / "nologins"
    bare.mkdir()
    for f in folder.iterdir():
        if f.name != "login_events.csv":
            (bare / f.name).write_bytes(f.read_bytes())
    result, out = audit(bare, tmp_path, {}, connector="limited")
    reason = {r.check_id: r for r in result.results}["security.failed-login-bursts"].reason
    assert reason == "needs the login_events table, which the CRM does not give: the Limited CRM keeps no login history"
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert any("the Limited CRM keeps no login history" in (r.get("reason") or "") for r in report["results"])
