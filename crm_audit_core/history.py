"""The audit archive: past audits, accepted risks, and what changed between two audits.

Every audit folder under ``[audit] out`` holds ``report.json``, ``settings.json`` and the
snapshot; this module lists them for ``crm-audit history`` and trends, and compares two
of them for ``crm-audit diff`` (tenant by tenant: a tenant only one audit read is "not
audited" in the other, never "resolved").
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from .config import AuditConfig, parse_as_of
from .errors import ConfigError
from .findings import AuditResult
from .i18n import _
from .scoring import tenant_scores


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
            raise ConfigError(_("{entry} needs a {key} id", entry="accepted_risks[" + str(i) + "]", key="'check'"),
                              where=where)
        for key in ("reason", "owner"):
            if not str(entry.get(key) or "").strip():
                raise ConfigError(_("{entry} ({check}) needs a {key}", entry="accepted_risks[" + str(i) + "]",
                                    check=entry["check"], key=repr(key)), where=where)
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
    """Past audits in ``out``, oldest first: id, as_of, tenants, score, areas, coverage,
    tenant_scores (tenant -> overall, for audits that hold it) and folder."""
    rows = []
    if not out.exists():
        return rows
    for report in sorted(out.glob("*/report.json")):
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
            audit = data["audit"]
        except (OSError, ValueError, KeyError):
            continue
        score = data.get("score") or {}
        per_tenant = score.get("tenants") if isinstance(score.get("tenants"), dict) else {}
        rows.append({
            "id": audit["id"],
            "as_of": audit.get("as_of"),
            "tenants": [t["name"] for t in audit.get("tenants", [])],
            "score": score.get("overall"),
            "areas": score.get("areas", {}),
            "coverage": score.get("coverage"),
            "tenant_scores": {name: (s or {}).get("overall") for name, s in per_tenant.items()},
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
                raise ConfigError(_("no archived audit {ref}", ref=repr(ref)) if not match
                                  else _("{ref} matches several audits", ref=repr(ref)),
                                  where=str(out), hint=_("see {command}", command="`crm-audit history`"))
            folder = match[0]["folder"]
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return AuditResult.from_json(data), folder


def _numeric_metrics(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _tenants(audit: AuditResult) -> list[str]:
    names = [t.name for t in audit.tenants]
    return names + sorted({r.tenant for r in audit.results} - set(names))


def diff_audits(old: AuditResult, new: AuditResult) -> dict:
    """What changed between two audits, tenant by tenant.

    Only tenants both audits read are compared. ``not_audited["from"]`` lists the
    tenants the older audit did not read, ``not_audited["to"]`` those the newer one did
    not read: their findings are neither new nor resolved. ``tenants`` compares each
    tenant's score and coverage; ``score`` compares the overall scores, which are
    ``comparable`` only when both audits read the same tenants.

    Findings are matched by (tenant, check id). A finding is *resolved* when the check
    passes in the newer audit, *not_rechecked* when the newer audit did not judge it
    (the check was not run, skipped or errored), *changed* when it fails in both with a
    different set of affected records.
    """
    names_old, names_new = _tenants(old), _tenants(new)
    common = [t for t in names_new if t in names_old]
    scores_old = tenant_scores(old.score, old.results, names_old)
    scores_new = tenant_scores(new.score, new.results, names_new)
    old_score, new_score = old.score or {}, new.score or {}
    out = {"from": old.id, "to": new.id,
           "score": {"from": old_score.get("overall"), "to": new_score.get("overall"),
                     "comparable": set(names_old) == set(names_new),
                     "coverage": {"from": old_score.get("coverage"), "to": new_score.get("coverage")}, "areas": {}},
           "tenants": [],
           "not_audited": {"from": [t for t in names_new if t not in names_old],
                           "to": [t for t in names_old if t not in names_new]},
           "not_audited_findings": {},
           "new": [], "resolved": [], "not_rechecked": [], "changed": [], "metric_deltas": []}
    for area in sorted(set(old_score.get("areas") or {}) | set(new_score.get("areas") or {})):
        out["score"]["areas"][area] = {"from": (old_score.get("areas") or {}).get(area),
                                       "to": (new_score.get("areas") or {}).get(area)}
    for name in common:
        a, b = scores_old.get(name) or {}, scores_new.get(name) or {}
        out["tenants"].append({
            "tenant": name, "from": a.get("overall"), "to": b.get("overall"),
            "coverage": {"from": a.get("coverage"), "to": b.get("coverage")},
            "areas": {area: {"from": (a.get("areas") or {}).get(area), "to": (b.get("areas") or {}).get(area)}
                      for area in sorted(set(a.get("areas") or {}) | set(b.get("areas") or {}))},
        })
    for side, audit in (("from", new), ("to", old)):
        for name in out["not_audited"][side]:
            out["not_audited_findings"][name] = sum(1 for r in audit.results if r.tenant == name and r.status == "fail")
    before = {(r.tenant, r.check_id): r for r in old.results if r.tenant in common}
    after = {(r.tenant, r.check_id): r for r in new.results if r.tenant in common}
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        failed_a = a is not None and a.status == "fail"
        failed_b = b is not None and b.status == "fail"
        row = {"tenant": key[0], "check_id": key[1]}
        if failed_b and not failed_a:
            out["new"].append({**row, "severity": b.severity, "count": b.affected.count, "title": b.title,
                               "before": a.status if a else "not run"})
        elif failed_a and b is not None and b.status == "pass":
            out["resolved"].append({**row, "severity": a.severity, "count": a.affected.count, "title": a.title, "now": "pass"})
        elif failed_a and not failed_b:
            out["not_rechecked"].append({**row, "severity": a.severity, "count": a.affected.count, "title": a.title,
                                         "now": b.status if b else "not run", "reason": (b.reason if b else None) or ""})
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


def score_drops(diff: dict) -> list[tuple[str, float, float]]:
    """(what, from, to) for every score that fell: the overall score when both audits read
    the same tenants, otherwise each tenant both read. Scores that are n/a are left out."""
    if diff["score"]["comparable"]:
        pairs = [(_("overall score"), diff["score"]["from"], diff["score"]["to"])]
    else:
        pairs = [(_("score of tenant {tenant}", tenant=repr(t["tenant"])), t["from"], t["to"]) for t in diff["tenants"]]
    return [(what, a, b) for what, a, b in pairs if a is not None and b is not None and b < a]
