"""A CRM audit with the xero probe configured: a files tenant whose accounting sync is
served by the Xero sandbox. The counts reach ``sync_counts``; a failing probe costs one
line, marks its two counts missing, and the audit completes; no secret anywhere."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit

SECRET = "sandbox-client-secret"
AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)  # the tenant's date (conftest.AS_OF)


@pytest.fixture(scope="module")
def folder(tenant, tmp_path_factory):
    path = tmp_path_factory.mktemp("acme")
    tenant.write(path)
    return path


def audit(folder, tmp_path, probe_options):
    config = AuditConfig(as_of=AS_OF, out=tmp_path / "audits")
    config.tenants.append(TenantConfig("acme", "files", {"path": str(folder)}, probes={"xero": probe_options}))
    return run_audit(config, registry=build_plugin_manager(), progress=False)


def sync_rows(out):
    import duckdb

    con = duckdb.connect(str(out / "snapshot.duckdb"), read_only=True)
    try:
        return con.execute("SELECT probe, integration, object, measure, value, source, missing "
                           "FROM canonical.sync_counts ORDER BY object").fetchall()
    finally:
        con.close()


def no_secret_in(out, *secrets):
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".md", ".csv", ".txt", ".log"):
            text = path.read_text(encoding="utf-8", errors="replace")
            for secret in secrets:
                assert secret not in text, f"{secret!r} in {path.name}"


def test_the_audit_reads_the_counts(folder, tmp_path, sandbox, truth, capsys):
    result, out = audit(folder, tmp_path, dict(sandbox.options))
    rows = sync_rows(out)
    assert [(r[0], r[1], r[2], r[3], r[4], r[6]) for r in rows] == [
        ("xero", "Accounting Sync", "companies", "records", truth["companies"], None),
        ("xero", "Accounting Sync", "deals", "won", truth["deals"], None)]
    [tenant] = result.tenants
    assert "probe xero: read 2 counts in 4 API calls" in tenant.notes
    assert result.results and all(r.status != "error" for r in result.results)
    assert sandbox.writes() == []
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    no_secret_in(out, SECRET)


def test_a_wrong_secret_marks_the_counts_missing_and_the_audit_completes(folder, tmp_path, sandbox, capsys):
    result, out = audit(folder, tmp_path, dict(sandbox.options, client_secret="wr0ng-s3cret"))
    rows = sync_rows(out)
    assert [(r[2], r[4]) for r in rows] == [("companies", None), ("deals", None)]
    line = rows[0][6]
    assert line.startswith("probe xero (tenant acme): ") and "refused the client id and secret" in line
    assert result.results and all(r.status != "error" for r in result.results)
    err = capsys.readouterr().err
    assert "probe xero (tenant acme)" in err and "Traceback" not in err
    assert "wr0ng-s3cret" not in err and SECRET not in err
    no_secret_in(out, "wr0ng-s3cret", SECRET)
