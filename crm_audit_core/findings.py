"""The result model: one :class:`Result` per (check, tenant), gathered in an :class:`AuditResult`.

Its JSON form is the ``results`` array of report.json (DESIGN.md, Outputs), validated by
``crm_audit_core/schemas/report.schema.json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("pass", "fail", "error", "skipped")


@dataclass
class Affected:
    object: str | None = None
    ids: list[str] = field(default_factory=list)
    # How many records the check examined, so the score can weigh the share affected.
    population: int | None = None

    @property
    def count(self) -> int:
        return len(self.ids)

    def to_json(self) -> dict:
        return {"object": self.object, "count": self.count, "ids": list(self.ids), "population": self.population}


@dataclass
class Result:
    check_id: str
    title: str
    step: str
    area: str
    severity: str
    tenant: str
    status: str
    reason: str | None = None
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    affected: Affected = field(default_factory=Affected)
    groups: list[list[str]] = field(default_factory=list)
    remediation: str = ""
    # Per-record problem text for fix-lists: {id: "why this record is listed"}.
    details: dict[str, str] = field(default_factory=dict)
    # Set by accepted risks (config): the finding stays visible but leaves the score.
    accepted: bool = False
    accepted_ids: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    def to_json(self) -> dict:
        return {
            "check_id": self.check_id,
            "title": self.title,
            "step": self.step,
            "area": self.area,
            "severity": self.severity,
            "tenant": self.tenant,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "metrics": self.metrics,
            "affected": self.affected.to_json(),
            "groups": [list(g) for g in self.groups],
            "remediation": self.remediation,
            "details": dict(self.details),
            "accepted": self.accepted,
            "accepted_ids": list(self.accepted_ids),
            "duration_seconds": round(self.duration_seconds, 4),
        }

    @classmethod
    def from_json(cls, data: dict) -> "Result":
        affected = data.get("affected") or {}
        return cls(
            check_id=data["check_id"],
            title=data.get("title", ""),
            step=data.get("step", ""),
            area=data.get("area", ""),
            severity=data.get("severity", "info"),
            tenant=data.get("tenant", ""),
            status=data["status"],
            reason=data.get("reason"),
            message=data.get("message", ""),
            metrics=data.get("metrics") or {},
            affected=Affected(affected.get("object"), list(affected.get("ids") or []), affected.get("population")),
            groups=[list(g) for g in data.get("groups") or []],
            remediation=data.get("remediation", ""),
            details=data.get("details") or {},
            accepted=bool(data.get("accepted")),
            accepted_ids=list(data.get("accepted_ids") or []),
            duration_seconds=float(data.get("duration_seconds") or 0.0),
        )


@dataclass
class TenantInfo:
    name: str
    connector: str
    api_calls: int = 0
    records: dict[str, int] = field(default_factory=dict)
    # Tables begun but not completed, and the error that stopped extraction (if any).
    partial_tables: list[str] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    record_url_template: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        return data


@dataclass
class AuditResult:
    id: str
    as_of: str
    started_at: str
    finished_at: str = ""
    tool_version: str = ""
    tenants: list[TenantInfo] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    score: dict = field(default_factory=lambda: {"overall": None, "areas": {}})
    plugin_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "schema_version": 1,
            "audit": {
                "id": self.id,
                "as_of": self.as_of,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "tool_version": self.tool_version,
                "tenants": [t.to_json() for t in self.tenants],
                "plugin_errors": list(self.plugin_errors),
            },
            "score": self.score,
            "results": [r.to_json() for r in self.results],
        }

    @classmethod
    def from_json(cls, data: dict) -> "AuditResult":
        audit = data["audit"]
        tenants = [TenantInfo(**{k: v for k, v in t.items() if k in TenantInfo.__dataclass_fields__}) for t in audit.get("tenants", [])]
        return cls(
            id=audit["id"],
            as_of=audit["as_of"],
            started_at=audit.get("started_at", ""),
            finished_at=audit.get("finished_at", ""),
            tool_version=audit.get("tool_version", ""),
            tenants=tenants,
            results=[Result.from_json(r) for r in data.get("results", [])],
            score=data.get("score") or {"overall": None, "areas": {}},
            plugin_errors=list(audit.get("plugin_errors") or []),
        )

    def failed(self) -> list[Result]:
        return [r for r in self.results if r.status == "fail"]
