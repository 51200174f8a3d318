"""Built-in reporters: report.json, fixlists/<check-id>.csv and report.md."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

from .. import hookimpl
from ..findings import AuditResult
from ..i18n import _, render
from . import ReportContext, Reporter, jsonstream
from .safe import neutralise_cell

FIXLIST_COLUMNS = ["tenant", "object", "id", "link", "problem", "suggested_fix"]
"""The fix-lists' columns (stable keys: report.json and code use these)."""

# TRANSLATORS: the header row of a fix-list (CSV of records to fix), one word or two per column
FIXLIST_HEADERS = {"tenant": _("tenant"), "object": _("object"), "id": _("id"), "link": _("link"),
                   "problem": _("problem"), "suggested_fix": _("suggested fix")}
"""Each column's header as the reader sees it, in the report's language."""


def fixlist_header(lang: str = "en") -> list[str]:
    """The fix-lists' header row in ``lang`` (English: the column keys, as before)."""
    if lang == "en":
        return list(FIXLIST_COLUMNS)
    return [render(FIXLIST_HEADERS[c], lang) for c in FIXLIST_COLUMNS]


def write_json(audit: AuditResult, context: ReportContext) -> list[Path]:
    """report.json, one result encoded and written at a time (see :mod:`.jsonstream`)."""
    path = context.folder / "report.json"
    head = replace(audit, results=[]).to_json()
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as fh:
        jsonstream.write(fh, head, "results", (r.to_json() for r in audit.results),
                         one_line=frozenset({("templates", "details")}))
    return [path]


def fixlist_name(check_id: str) -> str:
    return f"{check_id}.csv"


def write_fixlists(audit: AuditResult, context: ReportContext) -> list[Path]:
    folder = context.folder / "fixlists"
    folder.mkdir(exist_ok=True)
    by_check: dict[str, list] = {}
    for result in audit.results:
        if result.status == "fail" and result.affected.ids:
            by_check.setdefault(result.check_id, []).append(result)
    written = []
    for check_id, results in sorted(by_check.items()):
        path = folder / fixlist_name(check_id)
        with open(path, "w", encoding="utf-8", newline="", buffering=1 << 20) as fh:
            writer = csv.writer(fh)
            writer.writerow(fixlist_header(context.lang))
            for result in results:
                writer.writerows(_fixlist_rows(result, context))
        written.append(path)
    return written


def _fixlist_rows(result, context: ReportContext):
    """One fix-list row per affected id, each cell neutralised (cells that repeat, once)."""
    obj = result.affected.object or ""
    tenant, obj_cell = neutralise_cell(result.tenant), neutralise_cell(obj)
    fix = neutralise_cell(_first_sentence(result.remediation))
    accepted = set(result.accepted_ids)
    problems: dict[str, str] = {}
    for rid in result.affected.ids:
        problem = result.details.get(rid) or result.title
        if rid in accepted or result.accepted:
            problem = render(_("[accepted risk] {problem}", problem=problem), context.lang)
        cell = problems.get(problem)
        if cell is None:
            cell = problems[problem] = neutralise_cell(problem)
        link = context.link(result.tenant, obj, rid)
        yield tenant, obj_cell, neutralise_cell(rid), neutralise_cell(link) if link else "", cell, fix


def _first_sentence(text: str) -> str:
    text = " ".join((text or "").split())
    return text


def write_attachments(audit: AuditResult, context: ReportContext) -> list[Path]:
    """fixlists/<name>.csv for each table the results attach (e.g. merge plans): all tenants in one
    file, a ``tenant`` column first and a ``link`` column after the id column, every cell neutralised."""
    by_name: dict[str, list] = {}
    for result in audit.results:
        for table in result.attachments:
            if table.rows:
                by_name.setdefault(table.name, []).append((result, table))
    written = []
    for name, tables in sorted(by_name.items()):
        first = tables[0][1]
        path = context.folder / first.file
        path.parent.mkdir(exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="", buffering=1 << 20) as fh:
            writer = csv.writer(fh)
            at = first.columns.index(first.id_column) + 1 if first.id_column and first.object else None
            header = ["tenant", *first.columns]
            writer.writerow([neutralise_cell(c) for c in (header if at is None else header[:at + 1] + ["link"] + header[at + 1:])])
            for result, table in tables:
                tenant = neutralise_cell(result.tenant)
                for row in table.rows:
                    cells = [tenant, *(neutralise_cell(v) for v in row)]
                    if at is not None:
                        link = context.link(result.tenant, table.object, str(row[at - 1])) if row[at - 1] else None
                        cells.insert(at + 1, neutralise_cell(link) if link else "")
                    writer.writerow(cells)
        written.append(path)
    return written


def write_markdown(audit: AuditResult, context: ReportContext) -> list[Path]:
    from .markdown import render_markdown

    path = context.folder / "report.md"
    path.write_text(render_markdown(audit, context.lang), encoding="utf-8")
    return [path]


def write_html(audit: AuditResult, context: ReportContext) -> list[Path]:
    from .html import write_html as write

    return write(audit, context)


@hookimpl
def crm_audit_register_reporters(register):
    register(Reporter("html", write_html, "report.html: one self-contained page with charts, for the CRM admin",
                      separate=True))  # its charts and fonts: the slowest format, beside the others
    register(Reporter("json", write_json, "report.json: the machine-readable contract (schema_version 1)"))
    register(Reporter("csv", write_fixlists, "fixlists/<check-id>.csv: one row per affected record"))
    register(Reporter("md", write_markdown, "report.md: the summary for email and wikis"))
    register(Reporter("attachments", write_attachments, "fixlists/<name>.csv: tables checks attach, e.g. merge plans"))
