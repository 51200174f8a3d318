"""report.json is written streaming (crm_audit_core.reports.jsonstream) with the bytes
``json.dump(audit.to_json(), fh, ensure_ascii=False, indent=1, default=str)`` wrote before,
but each record's detail template (``templates.details``) on one line."""

from __future__ import annotations

import copy
import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import given, settings, strategies as st

from crm_audit_core.config import AuditConfig
from crm_audit_core.findings import Affected, AuditResult, Result, TenantInfo
from crm_audit_core.reports import ReportContext, jsonstream
from crm_audit_core.reports.builtin import write_json
from crm_audit_core.runner import run_checks
from crm_audit_core.scoring import score
from crm_audit_core.store import Store
from crm_audit_core.testing import load_tenant, registry_with

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)


def reference(audit: AuditResult) -> str:
    """``json.dump(indent=1)`` of the audit, but each detail template on one line."""
    doc = copy.deepcopy(audit.to_json())
    marks = {}
    for result in doc["results"]:
        details = (result.get("templates") or {}).get("details")
        if details:
            for rid, template in details.items():
                mark = f"\u0000one-line-{len(marks)}\u0000"
                marks[json.dumps(mark)] = json.dumps(template, ensure_ascii=False, default=str, separators=(", ", ": "))
                details[rid] = mark
    text = json.dumps(doc, ensure_ascii=False, indent=1, default=str)
    for mark, line in marks.items():
        text = text.replace(mark, line, 1)
    return text


def written(audit: AuditResult, folder: Path) -> str:
    context = ReportContext(folder=folder, link=lambda *a: None, registry=None, history=[])
    [path] = write_json(audit, context)
    return path.read_text(encoding="utf-8")


def test_a_whole_audit_of_a_generated_tenant(crm_audit_tenant, tmp_path):
    tenant = crm_audit_tenant(contacts=600, seed=5)
    registry = registry_with()
    checks = [registry.checks[c] for c in sorted(registry.checks)]
    store = Store(tmp_path / "s.duckdb")
    name = load_tenant(store, tenant)
    results = run_checks(registry, store, name, checks, {c.id: c.resolve_settings(AuditConfig()) for c in checks},
                         AS_OF, AuditConfig())
    store.close()
    audit = AuditResult(id="a", as_of=AS_OF.isoformat(), started_at=AS_OF.isoformat(), tool_version="t",
                        tenants=[TenantInfo(name=name, connector="files", records={"contacts": 600}, notes=["x"])],
                        results=results, plugin_errors=["plugin 'p': \u201cquoted\u201d"])
    audit.score = score(results)
    assert sum(len(r.affected.ids) for r in results) > 100 and any(r.details for r in results)
    audit = audit.localised("en")  # as write_reports hands it to the reporters: with templates
    assert any((r.templates or {}).get("details") for r in audit.results)
    text = written(audit, tmp_path)
    assert text == reference(audit)
    assert json.loads(text) == json.loads(json.dumps(audit.to_json(), ensure_ascii=False, default=str))
    # each detail template is one line
    detail_lines = [line for line in text.splitlines() if line.startswith(" " * 5 + '"') and '{"msgid": ' in line]
    assert len(detail_lines) == sum(len((r.templates or {}).get("details") or {}) for r in audit.results)


def test_an_audit_without_results(tmp_path):
    audit = AuditResult(id="a", as_of="2026-12-31", started_at="")
    assert written(audit, tmp_path) == reference(audit)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8))
keys = st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none())
values = st.recursive(
    scalars | st.datetimes(),
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(metrics=st.dictionaries(st.text(max_size=6), values, max_size=5),
       ids=st.lists(st.text(max_size=10), max_size=6),
       details=st.dictionaries(st.text(max_size=5), st.text(max_size=12), max_size=4),
       groups=st.lists(st.lists(st.text(max_size=4), max_size=3), max_size=3))
def test_any_values_are_written_as_json_dump_writes_them(metrics, ids, details, groups):
    result = Result(check_id="x.y", title="T \u00e9", step="s", area="data", severity="low", tenant="t",
                    status="fail", metrics=metrics, affected=Affected("contacts", ids, len(ids)), groups=groups,
                    details=details, accepted_ids=ids[:1])
    audit = AuditResult(id="a", as_of="2026-12-31", started_at="", results=[result, result],
                        score={"overall": 71.5, "areas": {"data": None}})
    with tempfile.TemporaryDirectory() as folder:
        assert written(audit, Path(folder)) == reference(audit)
    for value in (metrics, ids, details, groups):
        assert jsonstream.encode(value, 0) == json.dumps(value, ensure_ascii=False, indent=1, default=str)


def old_fixlist(results, link) -> str:
    """The fix-list as write_fixlists wrote it before it streamed rows (the reference)."""
    import csv
    import io

    from crm_audit_core.reports.builtin import FIXLIST_COLUMNS, _first_sentence
    from crm_audit_core.reports.safe import neutralise_cell

    fh = io.StringIO(newline="")
    writer = csv.writer(fh)
    writer.writerow(FIXLIST_COLUMNS)
    for result in results:
        obj = result.affected.object or ""
        fix = _first_sentence(result.remediation)
        accepted = set(result.accepted_ids)
        for rid in result.affected.ids:
            problem = result.details.get(rid) or result.title
            if rid in accepted or result.accepted:
                problem = f"[accepted risk] {problem}"
            cell = link(result.tenant, obj, rid) or ""
            writer.writerow([neutralise_cell(v) for v in (result.tenant, obj, rid, cell, problem, fix)])
    return fh.getvalue()


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.text(max_size=6), max_size=8, unique=True), accepted=st.booleans(),
       details=st.dictionaries(st.text(max_size=6), st.text(max_size=8), max_size=4),
       tenant=st.sampled_from(["t", "=cmd", "-x"]), remediation=st.sampled_from(["Fix it.", "@once  more", ""]))
def test_fix_lists_are_written_as_before(ids, accepted, details, tenant, remediation):
    from crm_audit_core.reports.builtin import write_fixlists

    details.update({i: "+1 formula" for i in ids[:1]})
    result = Result(check_id="x.y", title="-Title", step="s", area="data", severity="low", tenant=tenant,
                    status="fail", affected=Affected("contacts", ids, None), details=details,
                    accepted=accepted, accepted_ids=ids[1:2], remediation=remediation)
    link = lambda t, o, rid: None if rid.startswith("a") else f"=https://crm/{o}/{rid}"  # noqa: E731
    audit = AuditResult(id="a", as_of="2026-12-31", started_at="", results=[result, result])
    with tempfile.TemporaryDirectory() as folder:
        context = ReportContext(folder=Path(folder), link=link, registry=None, history=[])
        paths = write_fixlists(audit, context)
        if ids:
            assert paths[0].read_bytes().decode("utf-8") == old_fixlist([result, result], link)
        else:
            assert paths == []
