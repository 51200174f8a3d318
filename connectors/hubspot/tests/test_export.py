"""A HubSpot export read through the connector's mapping (issue 18, item 1).

The held-out export is written the way HubSpot writes one: a file per object
(``hubspot-crm-exports-all-contacts-....csv``; companies as .xlsx), property labels as
headers (``Record ID``, ``First Name``, ``Lifecycle Stage``), enumerated values as labels
(``Marketing Qualified Lead``), owners by name (``Contact owner``), stages by label
(``Closed Won``), association columns (``Associated Company IDs (Primary)``) and
``YYYY-MM-DD HH:MM`` dates. Records come from a generated tenant through the connector's
own canonical -> HubSpot function (``mapping.row_to_object``).
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.exports import ExportFiles
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit
from crm_audit_core.sandbox import generate_tenant

from crm_audit_hubspot import mapping as m
from crm_audit_hubspot.export import detect, read, slug

READS_UNDECLARED: set[str] = set()  # checks reading more than their needs (none for this export)
HEADERS = {
    "contacts": [("Record ID", "hs_object_id"), ("First Name", "firstname"), ("Last Name", "lastname"),
                 ("Email", "email"), ("Phone Number", "phone"), ("Job Title", "jobtitle"),
                 ("Company Name", "company"), ("Lifecycle Stage", "lifecyclestage"), ("Lead Status", "hs_lead_status"),
                 ("Contact owner", "hubspot_owner_id"), ("Street Address", "address"), ("City", "city"),
                 ("State/Region", "state"), ("Postal Code", "zip"), ("Country/Region", "country"),
                 ("Record source", "hs_object_source"), ("Record source detail 1", "hs_object_source_detail_1"),
                 ("Marketing emails bounced", "hs_email_bounce"), ("Create Date", "createdate"),
                 ("Last Modified Date", "lastmodifieddate"), ("Last Activity Date", "notes_last_updated")],
    "companies": [("Record ID", "hs_object_id"), ("Company name", "name"), ("Company Domain Name", "domain"),
                  ("Industry", "industry"), ("Phone Number", "phone"), ("Street Address", "address"), ("City", "city"),
                  ("State/Region", "state"), ("Postal Code", "zip"), ("Country/Region", "country"),
                  ("Company owner", "hubspot_owner_id"), ("Record source", "hs_object_source"),
                  ("Record source detail 1", "hs_object_source_detail_1"), ("Create Date", "createdate"),
                  ("Last Modified Date", "hs_lastmodifieddate")],
    "deals": [("Record ID", "hs_object_id"), ("Deal Name", "dealname"), ("Amount", "amount"),
              ("Currency", "deal_currency_code"), ("Pipeline", "pipeline"), ("Deal Stage", "dealstage"),
              ("Close Date", "closedate"), ("Closed Lost Reason", "closed_lost_reason"), ("Deal owner", "hubspot_owner_id"),
              ("Record source", "hs_object_source"), ("Create Date", "createdate"),
              ("Last Modified Date", "hs_lastmodifieddate"), ("Last Activity Date", "notes_last_updated")],
}
LIFECYCLE_LABELS = {"subscriber": "Subscriber", "lead": "Lead", "marketingqualifiedlead": "Marketing Qualified Lead",
                    "salesqualifiedlead": "Sales Qualified Lead", "opportunity": "Opportunity", "customer": "Customer",
                    "evangelist": "Evangelist", "other": "Other"}
SOURCE_LABELS = {"CRM_UI": "CRM UI", "IMPORT": "Import", "FORM": "Form", "API": "API", "INTEGRATION": "Integration"}
ASSOCIATIONS = {"contacts": [("Associated Company IDs (Primary)", "company_id")],
                "deals": [("Associated Company IDs (Primary)", "company_id"), ("Associated Contact IDs", "contact_id")]}


def _label_value(prop: str, value, owners: dict, stages: dict) -> str:
    if value in (None, ""):
        return ""
    if prop == "lifecyclestage":
        return LIFECYCLE_LABELS.get(value, value)
    if prop == "hs_object_source":
        return SOURCE_LABELS.get(value, value)
    if prop == "hubspot_owner_id":
        return owners.get(value, value)
    if prop == "dealstage":
        return stages.get(value, value)
    if prop in ("createdate", "lastmodifieddate", "hs_lastmodifieddate", "notes_last_updated", "closedate"):
        return value[:16].replace("T", " ")  # 2024-03-05 10:22
    return value


def _rows(tenant, table: str, owners: dict, stages: dict) -> list[list[str]]:
    custom = [f for f in tenant.tables["fields"].to_pylist() if f["object"] == table and f["is_custom"]]
    header = [h for h, _ in HEADERS[table]] + [f["label"] for f in custom] + [h for h, _ in ASSOCIATIONS.get(table, [])]
    out = [header]
    for row in tenant.tables[table].to_pylist():
        props = m.row_to_object(table, row, [f["name"] for f in custom])["properties"]
        line = [_label_value(p, props.get(p), owners, stages) for _, p in HEADERS[table]]
        line += [m.to_property_string(row.get(f["name"])) or "" for f in custom]
        line += [str(row.get(c) or "") for _, c in ASSOCIATIONS.get(table, [])]
        out.append(line)
    return out


def _xlsx(rows: list[list[str]]) -> bytes:
    def col(i: int) -> str:
        name = ""
        i += 1
        while i:
            i, r = divmod(i - 1, 26)
            name = chr(65 + r) + name
        return name

    sheet = ['<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             'spreadsheetml/2006/main"><sheetData>']
    for n, row in enumerate(rows, 1):
        cells = "".join(f'<c r="{col(i)}{n}" t="inlineStr"><is><t>{escape(v)}</t></is></c>' for i, v in enumerate(row) if v)
        sheet.append(f'<row r="{n}">{cells}</row>')
    sheet.append("</sheetData></worksheet>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                      'package/2006/content-types"/>')
        book.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/'
                      'spreadsheetml/2006/main"><sheets><sheet name="Sheet1" sheetId="1"/></sheets></workbook>')
        book.writestr("xl/worksheets/sheet1.xml", "".join(sheet))
    return buffer.getvalue()


def write_hubspot_export(tenant, folder: Path) -> Path:
    folder.mkdir(parents=True)
    owners = {str(u["id"]): u["name"] for u in tenant.tables["users"].to_pylist()}
    stages = {str(s["id"]): s["name"] for s in tenant.tables["stages"].to_pylist()}
    for table in ("contacts", "deals"):
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerows(_rows(tenant, table, owners, stages))
        (folder / f"hubspot-crm-exports-all-{table}-2026-12-05.csv").write_text(out.getvalue(), encoding="utf-8")
    (folder / "hubspot-crm-exports-all-companies-2026-12-05.xlsx").write_bytes(
        _xlsx(_rows(tenant, "companies", owners, stages)))
    return folder


@pytest.fixture(scope="module")
def tenant():
    return generate_tenant(contacts=300, seed=5)


@pytest.fixture(scope="module")
def folders(tenant, tmp_path_factory):
    base = tmp_path_factory.mktemp("hs-export")
    canonical = base / "canonical"
    tenant.write(canonical)
    return canonical, write_hubspot_export(tenant, base / "export")


def test_files_and_values_mapped(folders, tenant):
    _, export = folders
    files = ExportFiles(export)
    try:
        assert detect({n: files.header(n) for n in files.names}) > 0
        result = read(files)
    finally:
        files.close()
    assert {f.table for f in result.files} == {"contacts", "companies", "deals"}
    contacts = {r["id"]: r for r in result.tables["contacts"]}
    source = {str(r["id"]): r for r in tenant.tables["contacts"].to_pylist()}
    some = next(i for i, r in source.items() if r["lifecycle_stage"] == "marketingqualifiedlead")
    assert contacts[some]["lifecycle_stage"] == "marketingqualifiedlead"  # from 'Marketing Qualified Lead'
    assert contacts[some]["company_id"] == (str(source[some]["company_id"]) if source[some]["company_id"] else None)
    deals = {r["id"]: r for r in result.tables["deals"]}
    won = [r for r in tenant.tables["deals"].to_pylist() if r["is_won"]]
    assert won and all(deals[str(r["id"])]["is_won"] is True for r in won)  # from the stage label 'Closed Won'
    companies = next(f for f in result.files if f.table == "companies")
    assert companies.file.endswith(".xlsx") and companies.records == tenant.tables["companies"].num_rows


def supported(folder: Path) -> dict[str, set[str]]:
    """The columns the export fills, by table (what the reader itself gives, not what the
    store derives later, such as integrations from records' sources)."""
    files = ExportFiles(folder)
    try:
        result = read(files)
    finally:
        files.close()
    columns: dict[str, set[str]] = {}
    for table, rows in result.tables.items():
        columns[table] = {c for r in rows for c, v in r.items() if v not in (None, "", [])}
    return columns


def judged_on_export_data(check_ids, columns: dict[str, set[str]]) -> list[str]:
    """The checks whose declared needs the export fills."""
    checks = build_plugin_manager().checks
    return [c for c in check_ids
            if all(t in columns and set(cols) <= columns[t] for t, cols in checks[c].needs.items())]


def _findings(folder: Path, tmp_path: Path, as_of) -> dict:
    config = AuditConfig(out=tmp_path / f"out-{folder.name}", tenants=[TenantConfig("t", "files", {"path": str(folder)})])
    config.as_of = as_of
    audit, _ = run_audit(config, registry=build_plugin_manager(), progress=False)
    return {r.check_id: r for r in audit.results}


def test_export_gives_the_canonical_findings(folders, tenant, tmp_path, capsys):
    canonical, export = folders
    expected = _findings(canonical, tmp_path, tenant.as_of)
    got = _findings(export, tmp_path, tenant.as_of)
    assert "Detected a hubspot-export" in capsys.readouterr().err
    names = {slug(f["label"]): f["name"] for f in tenant.tables["fields"].to_pylist()}
    # without the integrations table the integration checks name the integrations a record's source gives
    names.update({str(i["id"]): i["name"] for i in tenant.tables["integrations"].to_pylist()})

    def ids(result):
        return sorted(names.get(i, i) for i in result.affected.ids)

    judged = judged_on_export_data([c for c, r in got.items() if r.status in ("pass", "fail")], supported(export))
    judged = [c for c in judged if c not in READS_UNDECLARED]
    assert len(judged) >= 10
    different = {c: ((expected[c].status, len(expected[c].affected.ids)), (got[c].status, len(got[c].affected.ids)))
                 for c in judged if (expected[c].status, ids(expected[c])) != (got[c].status, ids(got[c]))}
    assert not different, different
    assert all(expected[c].status != "skipped" or got[c].status == "skipped" for c in got)
