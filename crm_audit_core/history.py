"""The audit archive: past audits, accepted risks.

Every audit folder under ``[audit] out`` holds ``report.json``, ``settings.json`` and the
snapshot; this module lists them for ``crm-audit history`` and trends.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from .config import AuditConfig, parse_as_of
from .errors import ConfigError
from .findings import AuditResult


def apply_accepted_risks(audit: AuditResult, config: AuditConfig, as_of: datetime) -> None:
    """Mark findings the config accepts as risks (until they expire).

    ``[[accepted_risks]]`` entries: ``check`` (id), optional ``ids`` (records; all when
    absent), optional ``tenant``, ``reason``, ``owner``, ``expires`` (date). Accepted
    findings stay in the report, marked, and leave the score; expired ones count again.
    """
    entries = config.sections.get("accepted_risks") or []
    if isinstance(entries, dict):
        entries = [entries]
    where = str(config.path or "config")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("check"):
            raise ConfigError(f"accepted_risks[{i}] needs a 'check' id", where=where)
        for key in ("reason", "owner"):
            if not str(entry.get(key) or "").strip():
                raise ConfigError(f"accepted_risks[{i}] ({entry['check']}) needs a '{key}'", where=where)
        expires = entry.get("expires")
        if expires is not None and parse_as_of(expires, where=f"{where}: accepted_risks[{i}].expires") <= as_of:
            continue
        ids = {str(x) for x in entry.get("ids") or []}
        for result in audit.results:
            if result.check_id != entry["check"] or result.status != "fail":
                continue
            if entry.get("tenant") and entry["tenant"] != result.tenant:
                continue
            note = f"accepted by {entry['owner']}: {entry['reason']}" + (f" (until {expires})" if expires else "")
            if ids:
                hit = sorted(ids & set(result.affected.ids))
                result.accepted_ids = sorted(set(result.accepted_ids) | set(hit))
                if hit and set(result.accepted_ids) >= set(result.affected.ids):
                    result.accepted = True
                if hit:
                    result.metrics.setdefault("accepted_risk", note)
            else:
                result.accepted = True
                result.accepted_ids = list(result.affected.ids)
                result.metrics["accepted_risk"] = note


def list_audits(out: Path) -> list[dict]:
    """Past audits in ``out``, oldest first: id, as_of, tenants, score, folder."""
    rows = []
    if not out.exists():
        return rows
    for report in sorted(out.glob("*/report.json")):
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
            audit = data["audit"]
        except (OSError, ValueError, KeyError):
            continue
        rows.append({
            "id": audit["id"],
            "as_of": audit.get("as_of"),
            "tenants": [t["name"] for t in audit.get("tenants", [])],
            "score": (data.get("score") or {}).get("overall"),
            "areas": (data.get("score") or {}).get("areas", {}),
            "folder": report.parent,
        })
    rows.sort(key=lambda r: (r["id"]))
    return rows


def load_audit(out: Path, ref: str) -> tuple[AuditResult, Path]:
    """An archived audit by id, folder path or 'latest'."""
    folder = Path(ref)
    if not (folder / "report.json").exists():
        audits = list_audits(out)
        if ref == "latest" and audits:
            folder = audits[-1]["folder"]
        else:
            match = [a for a in audits if a["id"] == ref or a["id"].startswith(ref)]
            if len(match) != 1:
                raise ConfigError(f"no archived audit {ref!r}" if not match else f"{ref!r} matches several audits",
                                  where=str(out), hint="see `crm-audit history`")
            folder = match[0]["folder"]
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return AuditResult.from_json(data), folder


def _numeric_metrics(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def diff_audits(old: AuditResult, new: AuditResult) -> dict:
    """What changed between two audits: findings new, resolved and changed; metric and score deltas.

    Findings are matched by (tenant, check id). A finding is *changed* when it fails in
    both audits with a different set of affected records.
    """
    before = {(r.tenant, r.check_id): r for r in old.results}
    after = {(r.tenant, r.check_id): r for r in new.results}
    out = {"from": old.id, "to": new.id, "new": [], "resolved": [], "changed": [], "metric_deltas": [],
           "score": {"from": (old.score or {}).get("overall"), "to": (new.score or {}).get("overall"), "areas": {}}}
    for area in sorted(set((old.score or {}).get("areas", {})) | set((new.score or {}).get("areas", {}))):
        out["score"]["areas"][area] = {"from": old.score.get("areas", {}).get(area), "to": new.score.get("areas", {}).get(area)}
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        failed_a = a is not None and a.status == "fail"
        failed_b = b is not None and b.status == "fail"
        row = {"tenant": key[0], "check_id": key[1]}
        if failed_b and not failed_a:
            out["new"].append({**row, "severity": b.severity, "count": b.affected.count, "title": b.title})
        elif failed_a and not failed_b:
            out["resolved"].append({**row, "severity": a.severity, "count": a.affected.count, "title": a.title,
                                    "now": b.status if b else "not run"})
        elif failed_a and failed_b:
            ids_a, ids_b = set(a.affected.ids), set(b.affected.ids)
            if ids_a != ids_b:
                out["changed"].append({**row, "severity": b.severity, "from": len(ids_a), "to": len(ids_b),
                                       "added": len(ids_b - ids_a), "removed": len(ids_a - ids_b), "title": b.title})
        if a is not None and b is not None:
            ma, mb = _numeric_metrics(a.metrics), _numeric_metrics(b.metrics)
            for metric in sorted(set(ma) & set(mb)):
                if ma[metric] != mb[metric]:
                    out["metric_deltas"].append({**row, "metric": metric, "from": ma[metric], "to": mb[metric],
                                                 "delta": round(mb[metric] - ma[metric], 6)})
    return out
