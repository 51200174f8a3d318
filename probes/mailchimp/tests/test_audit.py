"""The CRM audit of a files tenant with the Mailchimp probe configured, against the sandbox
of the same tenant: the probe's counts reach the snapshot's sync_counts; a wrong key, a
timeout or an audience that does not exist costs one line, marks the probe's totals
missing, and the audit completes."""

from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pytest

from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit
from crm_audit_core.sandbox import generate_tenant
from crm_audit_mailchimp.probe import EXPECTED
from crm_audit_mailchimp.sandbox import start_sandbox

from .conftest import FAST

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def acme(tmp_path_factory):
    tenant = generate_tenant(contacts=400, seed=3, name="acme", as_of=AS_OF)
    folder = tmp_path_factory.mktemp("acme")
    tenant.write(folder)
    return tenant, folder


def audit(folder, out, probe_options):
    config = AuditConfig(as_of=AS_OF, out=out)
    config.tenants.append(TenantConfig("acme", "files", {"path": str(folder)},
                                       probes={"mailchimp": {**FAST, **probe_options}}))
    result, archive = run_audit(config, registry=build_plugin_manager(), progress=False)
    return result, archive


def sync_counts(archive) -> list[tuple]:
    con = duckdb.connect(str(archive / "snapshot.duckdb"), read_only=True)
    try:
        return con.execute("SELECT integration, object, key, measure, value, source, missing "
                           "FROM canonical.sync_counts ORDER BY object, key, measure").fetchall()
    finally:
        con.close()


def test_probe_counts_reach_the_audit(acme, tmp_path, capsys):
    tenant, folder = acme
    with start_sandbox(tenant) as handle:
        result, archive = audit(folder, tmp_path / "audits", handle.options)
        requests = list(handle.requests)
    assert requests and {r["method"] for r in requests} == {"GET"}  # zero writes
    rows = sync_counts(archive)
    totals = {(o, m): v for _, o, k, m, v, _, _ in rows if k is None}
    reported = int(next(r for r in tenant.rows("integrations") if r["name"] == "Mailchimp")["records_reported"])
    assert totals[("contacts", "records")] == reported
    assert set(totals) == set(EXPECTED) and all(r[6] is None for r in rows)
    keyed = {(k, m): v for _, o, k, m, v, _, _ in rows if k is not None}
    for campaign in tenant.rows("campaigns"):
        if campaign["type"] == "email":
            assert keyed[(campaign["name"], "sent")] == campaign["sent"]
        elif campaign["type"] == "survey":
            assert keyed[(campaign["name"], "responses")] == min(campaign["responses"], campaign["sent"])
    [info] = result.tenants
    assert f"probe mailchimp: read {len(rows)} counts in {len(requests)} API calls" in info.notes
    assert all(r.status != "error" for r in result.results)
    assert handle.options["api_key"] not in capsys.readouterr().err
    assert handle.options["api_key"] not in (archive / "report.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("fault", ["wrong key", "timeout", "unknown audience"])
def test_a_failing_probe_is_one_line_and_the_audit_completes(acme, tmp_path, capsys, fault):
    tenant, folder = acme
    wrong = "f" * 32 + "-us21"
    with start_sandbox(tenant, slow_seconds=1.0) as handle:
        options = dict(handle.options)
        if fault == "wrong key":
            options["api_key"] = wrong
        elif fault == "timeout":
            handle.inject("slow", times=10)
            options.update(timeout=0.2, retry_attempts=2)
        else:
            options["list_id"] = "0000000000"
        result, archive = audit(folder, tmp_path / "audits", options)
        requests = list(handle.requests)
    assert {r["method"] for r in requests} == {"GET"}
    err = capsys.readouterr().err
    text = " ".join(err.split())  # the console wraps long lines
    assert text.count("probe mailchimp (tenant acme)") == 1, err
    line = text[text.index("probe mailchimp (tenant acme)"):]
    expected_text = {"wrong key": "Mailchimp refused the API key (HTTP 401 API Key Invalid",
                     "timeout": "Mailchimp did not answer within 0.2 seconds",
                     "unknown audience": "Mailchimp has no audience with list_id '0000000000'"}[fault]
    assert expected_text in line
    rows = sync_counts(archive)
    assert {(o, m) for _, o, k, m, v, _, _ in rows} == set(EXPECTED)
    assert all(v is None and missing.startswith("probe mailchimp (tenant acme): ") and expected_text in missing
               for _, _, _, _, v, _, missing in rows)
    assert all(r.status != "error" for r in result.results)
    report = (archive / "report.json").read_text(encoding="utf-8")
    for secret in (handle.options["api_key"], wrong):
        assert secret not in err and secret not in report
        assert secret not in (archive / "settings.json").read_text(encoding="utf-8")


def test_sync_count_mismatch_names_the_missing_counts(acme, tmp_path):
    tenant, folder = acme
    with start_sandbox(tenant) as handle:
        result, _ = audit(folder, tmp_path / "audits", {**handle.options, "api_key": "f" * 32 + "-us21"})
    check = next(r for r in result.results if r.check_id == "integrations.sync-count-mismatch")
    assert "contacts records" in (check.reason or "") and "missing" in (check.reason or "")
