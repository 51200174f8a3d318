"""A Pipedrive export read through the connector's mapping (issue 18, item 1).

The held-out export is written the way Pipedrive writes its list exports: one file per
entity, ``Entity - Field`` headers, linked records and owners by name, a deal's outcome as
its status, ``YYYY-MM-DD HH:MM:SS`` times; one file as semicolon-delimited Windows-1252, as
European Excel saves it.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest

from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.exports import ExportFiles, choose
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit
from crm_audit_core.sandbox import generate_tenant

from crm_audit_pipedrive.export import detect, read


def _t(value) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def write_pipedrive_export(tenant, folder: Path) -> Path:
    folder.mkdir(parents=True)
    users = {str(u["id"]): u["name"] for u in tenant.tables["users"].to_pylist()}
    orgs = {str(c["id"]): c["name"] for c in tenant.tables["companies"].to_pylist()}
    people = {str(c["id"]): " ".join(p for p in (c["first_name"], c["last_name"]) if p)
              for c in tenant.tables["contacts"].to_pylist()}
    stages = {str(s["id"]): s["name"] for s in tenant.tables["stages"].to_pylist()}
    files = {
        "organizations-12345-1.csv": (["Organization - ID", "Organization - Name", "Organization - Owner",
                                       "Organization - Organization created", "Organization - Update time"],
                                      [[c["id"], c["name"], users.get(str(c["owner_id"]), ""), _t(c["created_at"]),
                                        _t(c["updated_at"])] for c in tenant.tables["companies"].to_pylist()]),
        "people-12345-2.csv": (["Person - ID", "Person - Name", "Person - First name", "Person - Last name",
                                "Person - Email", "Person - Phone", "Person - Job title", "Person - Organization",
                                "Person - Owner", "Person - Label", "Person - Person created", "Person - Update time",
                                "Person - Preferred language"],
                               [[c["id"], people[str(c["id"])], c["first_name"] or "", c["last_name"] or "",
                                 c["email"] or "", c["phone"] or "", c["title"] or "",
                                 orgs.get(str(c["company_id"]), ""), users.get(str(c["owner_id"]), ""),
                                 ", ".join(c["segments"] or []), _t(c["created_at"]), _t(c["updated_at"]),
                                 c.get("preferred_language") or ""]
                                for c in tenant.tables["contacts"].to_pylist()]),
        "deals-12345-3.csv": (["Deal - ID", "Deal - Title", "Deal - Value", "Deal - Currency", "Deal - Pipeline",
                               "Deal - Stage", "Deal - Status", "Deal - Lost reason", "Deal - Owner",
                               "Deal - Organization", "Deal - Contact person", "Deal - Deal created",
                               "Deal - Update time", "Deal - Deal closed on"],
                              [[d["id"], d["name"], "" if d["amount"] is None else f"{d['amount']:.2f}",
                                d["currency"] or "", d["pipeline"] or "", stages.get(str(d["stage"]), ""),
                                ("Won" if d["is_won"] else "Lost") if d["is_closed"] else "Open",
                                d["lost_reason"] or "", users.get(str(d["owner_id"]), ""),
                                orgs.get(str(d["company_id"]), ""), people.get(str(d["contact_id"]), ""),
                                _t(d["created_at"]), _t(d["updated_at"]),
                                _t(d["close_date"]) if d["is_closed"] else ""]
                               for d in tenant.tables["deals"].to_pylist()]),
    }
    for name, (header, rows) in files.items():
        out = io.StringIO(newline="")
        delimiter = ";" if name.startswith("deals") else ","
        csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows([header] + rows)
        data = out.getvalue()
        if name.startswith("deals"):
            (folder / name).write_bytes(data.encode("cp1252", errors="replace"))
        else:
            (folder / name).write_text(data, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def tenant():
    return generate_tenant(contacts=300, seed=3)


@pytest.fixture(scope="module")
def export(tenant, tmp_path_factory):
    return write_pipedrive_export(tenant, tmp_path_factory.mktemp("pd-export") / "export")


def test_detected_and_mapped(export, tenant):
    build_plugin_manager()  # the registry hands the connectors' export readers to --files
    assert choose(export, None, None, "t").name == "pipedrive-export"
    files = ExportFiles(export)
    try:
        assert detect({n: files.header(n) for n in files.names}) > 0
        result = read(files)
    finally:
        files.close()
    assert {f.table for f in result.files} == {"companies", "contacts", "deals"}
    deals = {r["id"]: r for r in result.tables["deals"]}
    source = {str(d["id"]): d for d in tenant.tables["deals"].to_pylist()}
    assert Counter(r["is_won"] for r in deals.values()) == Counter(bool(d["is_won"]) for d in source.values())
    assert all(deals[i]["is_closed"] == bool(d["is_closed"]) for i, d in source.items())
    # links written by name resolve to the one exported record of that name
    # (a name two organizations share, or one Windows-1252 cannot write, resolves to nothing)
    orgs = {str(c["id"]): c["name"] for c in tenant.tables["companies"].to_pylist()}
    shared = {n for n, k in Counter(orgs.values()).items() if k > 1}

    def resolvable(org_id: str) -> bool:
        name = orgs[org_id]
        try:
            name.encode("cp1252")
        except UnicodeEncodeError:
            return False
        return name not in shared

    linked = [i for i, d in source.items() if d["company_id"]]
    expected = {i: str(source[i]["company_id"]) if resolvable(str(source[i]["company_id"])) else None for i in linked}
    assert {i: deals[i]["company_id"] for i in linked} == expected
    assert sum(1 for v in expected.values() if v) >= 0.7 * len(linked)
    contacts = {r["id"]: r for r in result.tables["contacts"]}
    some = next(c for c in tenant.tables["contacts"].to_pylist() if c["segments"])
    assert contacts[str(some["id"])]["segments"] == list(some["segments"])
    assert contacts[str(some["id"])]["custom"].get("Preferred language") == some["preferred_language"] or \
        not some["preferred_language"]


def test_audit_of_the_export_runs_and_skips_what_it_lacks(export, tenant, tmp_path):
    config = AuditConfig(out=tmp_path / "out", tenants=[TenantConfig("t", "files", {"path": str(export)})])
    config.as_of = tenant.as_of
    audit, _ = run_audit(config, registry=build_plugin_manager(), progress=False)
    status = {r.check_id: r.status for r in audit.results}
    assert sum(1 for s in status.values() if s in ("pass", "fail")) >= 8
    assert all(s != "error" for s in status.values())
    assert status.get("security.mfa-disabled", "skipped") == "skipped"
