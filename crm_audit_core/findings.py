"""The result model: one ``Result`` per (check, tenant), gathered in an ``AuditResult``.

Its JSON form is the ``results`` array of report.json (DESIGN.md, Outputs), validated by
``crm_audit_core/schemas/report.schema.json``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

STATUSES = ("pass", "fail", "error", "skipped", "not-applicable")
"""The statuses a ``Result`` may have (see the vocabulary page for what each means).
``not-applicable``: the check is for other CRMs (its ``vendors``); never scored, not
counted as skipped, listed once per tenant in the reports."""

WARNING_PREFIX = "warning: "
"""A tenant note starting with this is a warning: printed in the terminal summary too.
It is a marker, not a word a reader sees: the reports strip it and show their own
translated label. Make a warning with :func:`warning_note`."""


def warning_note(text):
    """A tenant note that is a warning: ``warning: `` (:data:`WARNING_PREFIX`) then ``text``
    (a :class:`~crm_audit_core.i18n.Message` keeps its template, so the warning is rendered
    in the report's language while the marker stays)."""
    from .i18n import Message

    return Message(WARNING_PREFIX + "{warning}", {"warning": text}, domain="crm_audit_core")


def _localised_note(note, lang: str) -> str:
    """A tenant note in ``lang``; a warning keeps its (untranslated) ``warning: `` marker."""
    from .i18n import Message, render

    if isinstance(note, Message) and note.msgid == WARNING_PREFIX + "{warning}":
        return WARNING_PREFIX + render(note.values.get("warning"), lang)
    if isinstance(note, str) and not isinstance(note, Message) and note.startswith(WARNING_PREFIX):
        return note
    return render(note, lang)


@dataclass
class Affected:
    """The records a result is about.

    Attributes:
        object: the canonical object the ids refer to (``contacts``, ``users``, ...).
        ids: the affected records' ids, as strings (one fix-list row each).
        population: how many records the check examined, so the score can weigh the
            share affected; None when the check has no natural population. A pass over
            a population of 0 examined nothing: it is not scored nor counted as judged
            (docs/scoring.md, Coverage).
    """

    object: str | None = None
    ids: list[str] = field(default_factory=list)
    population: int | None = None

    @property
    def count(self) -> int:
        """How many records are affected (``len(ids)``)."""
        return len(self.ids)

    def to_json(self) -> dict:
        """The ``affected`` object of report.json (with ``count``)."""
        return {"object": self.object, "count": self.count, "ids": list(self.ids), "population": self.population}


ATTACHMENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}$")


@dataclass
class Attachment:
    """A table a result carries besides its fix-list (e.g. a merge plan).

    The ``attachments`` reporter writes it as ``fixlists/<name>.csv`` (one file per
    name, all tenants, every cell neutralised against spreadsheet formulas);
    report.json only names the file, the columns and the number of rows, so a large
    table does not grow the report.

    Attributes:
        name: the file name without ``.csv``: lowercase letters, digits, ``-`` and ``_``.
        columns: the column names.
        rows: the rows, each a list of cells (one per column; None for an empty cell).
        object: the canonical object of the ids in ``id_column`` (``contacts``, ...):
            the reporter then adds a ``link`` column into the CRM after it.
        id_column: the column holding record ids of ``object``.
        row_count: the number of rows (read back from report.json, where ``rows`` is empty).
    """

    name: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    object: str | None = None
    id_column: str | None = None
    row_count: int | None = None

    def __post_init__(self) -> None:
        if not ATTACHMENT_NAME.match(self.name or ""):
            raise ValueError(f"attachment name {self.name!r} must be lowercase letters, digits, '-' and '_' "
                             "(it becomes fixlists/<name>.csv)")
        if self.id_column is not None and self.id_column not in self.columns:
            raise ValueError(f"attachment {self.name}: id_column {self.id_column!r} is not one of its columns")
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"attachment {self.name}: a row has {len(row)} cells for {len(self.columns)} columns")
        if self.row_count is None:
            self.row_count = len(self.rows)

    @property
    def file(self) -> str:
        """The attachment's path in the audit folder."""
        return f"fixlists/{self.name}.csv"

    def localised(self, lang: str) -> "Attachment":
        """A copy whose text cells (templates such as a merge plan's carry-over) are
        rendered in ``lang``; ids and numbers stay as they are."""
        from dataclasses import replace

        from .i18n import Joined, Message, render

        rows = [[render(c, lang) if isinstance(c, (Message, Joined)) else c for c in row] for row in self.rows]
        return replace(self, rows=rows)

    def to_json(self) -> dict:
        """The reference report.json holds (the rows are in the CSV file only)."""
        return {"name": self.name, "file": self.file, "columns": list(self.columns), "rows": self.row_count,
                "object": self.object, "id_column": self.id_column}

    @classmethod
    def from_json(cls, data: dict) -> "Attachment":
        """Read a reference back from report.json (``rows`` stays empty: the rows are in the CSV)."""
        return cls(name=data["name"], columns=list(data.get("columns") or []), object=data.get("object"),
                   id_column=data.get("id_column"), row_count=int(data.get("rows") or 0))


CHART_TEXTS = ("title", "x_label", "y_label")
"""The text fields of a chart spec (``metrics["charts"]``) whose templates report.json keeps."""


@dataclass
class Result:
    """One check on one tenant: what ``ctx.result(...)`` and ``ctx.skip(...)`` return.

    Its JSON form is one entry of report.json's ``results``.

    Attributes:
        check_id: the check's id.
        title: the check's title.
        step: the check's audit step.
        area: the check's score area.
        severity: the check's severity.
        tenant: the tenant it ran on.
        status: ``pass``, ``fail``, ``error`` (the check raised; the audit went on),
            ``skipped`` (data missing; never scored) or ``not-applicable`` (a check for
            other CRMs than the tenant's, see ``Check.vendors``; never scored).
        reason: why it was skipped or errored, or a note such as "based on partial data".
        message: one line for the reports.
        metrics: numbers and small structures (dicts, lists) shown in the reports and
            compared by ``crm-audit diff``; ``metrics["charts"]`` holds chart specs.
        affected: the ``Affected`` records.
        groups: lists of ids that belong together (e.g. duplicate clusters).
        remediation: how to fix it (the check's remediation).
        details: id -> why this record is listed (the fix-list's problem column).
        accepted: the whole finding is an accepted risk (config): shown, not scored.
        accepted_ids: the records covered by an accepted risk.
        duration_seconds: how long the check took.
        references: the check's references (benchmark controls, vendor documentation).
        templates: the translatable form of the text fields (``title``, ``remediation``,
            ``message``, ``reason``, ``details`` id -> template), set when the result is
            rendered in a language (:meth:`AuditResult.localised`) and read back from
            report.json, so an archived audit can be rendered again in another language.
            While a check runs, the text fields themselves are
            :class:`~crm_audit_core.i18n.Message` objects and this is empty.
        attachments: tables the check attaches (:class:`Attachment`, e.g. a merge plan),
            written as CSV files beside the fix-lists and referenced from report.json.
    """

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
    details: dict[str, str] = field(default_factory=dict)
    accepted: bool = False
    accepted_ids: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    references: list[str] = field(default_factory=list)
    templates: dict[str, Any] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")

    def to_json(self) -> dict:
        """This result as one entry of report.json's ``results``."""
        out = {
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
            "references": list(self.references),
            **({"templates": self.templates} if self.templates else {}),
        }
        if self.attachments:
            out["attachments"] = [a.to_json() for a in self.attachments]
        return out

    @classmethod
    def from_json(cls, data: dict) -> "Result":
        """Read one entry of report.json's ``results`` back (archived audits, ``crm-audit diff``)."""
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
            references=list(data.get("references") or []),
            attachments=[Attachment.from_json(a) for a in data.get("attachments") or []],
        )._with_templates(data.get("templates") or {})

    def _with_templates(self, templates: dict) -> "Result":
        """The text fields as translatable messages again, from report.json's ``templates``."""
        from .i18n import Strings, message_from_json

        for name in ("title", "remediation", "message", "reason"):
            if templates.get(name):
                setattr(self, name, message_from_json(templates[name]))
        strings = Strings(templates.get("strings") or [])
        for rid, template in (templates.get("details") or {}).items():
            if rid in self.details and template:
                self.details[rid] = message_from_json(template, strings)
        charts = templates.get("charts") or {}
        for chart in self.metrics.get("charts") or []:
            for key, template in (charts.get(str(chart.get("id"))) or {}).items() if isinstance(chart, dict) else ():
                if key in CHART_TEXTS and template:
                    chart[key] = message_from_json(template)
        return self

    def localised(self, lang: str) -> "Result":
        """A copy whose text fields are rendered in ``lang``, with their templates kept."""
        from dataclasses import replace

        from .i18n import Strings, render, template_of

        templates: dict[str, Any] = {}
        for name in ("title", "remediation", "message", "reason"):
            t = template_of(getattr(self, name))
            if t:
                templates[name] = t
        # details repeat a few templates many times: their texts are stored once, in "strings"
        strings = Strings()
        details_t = {rid: t for rid, v in self.details.items() if (t := template_of(v, strings))}
        if details_t:
            templates["details"] = details_t
            templates["strings"] = strings.texts
        charts_t = {}
        for chart in self.metrics.get("charts") or []:
            if isinstance(chart, dict) and chart.get("id"):
                texts = {k: t for k in CHART_TEXTS if (t := template_of(chart.get(k)))}
                if texts:
                    charts_t[str(chart["id"])] = texts
        if charts_t:  # a chart's title and axis labels, rendered again in another language later
            templates["charts"] = charts_t
        return replace(
            self,
            title=render(self.title, lang),
            remediation=render(self.remediation, lang),
            message=render(self.message, lang),
            reason=None if self.reason is None else render(self.reason, lang),
            details={rid: render(v, lang) for rid, v in self.details.items()},
            templates=templates or dict(self.templates),
            attachments=[a.localised(lang) for a in self.attachments],
        )


@dataclass
class TenantInfo:
    """What happened to one tenant's extraction.

    Attributes:
        name: the tenant's name (``[tenants.<name>]``).
        connector: the connector that read it.
        api_calls: calls made to the CRM's API.
        records: table -> rows in the snapshot.
        partial_tables: tables begun but not completed.
        error: the error that stopped extraction, in one line (None when it finished).
        notes: lines the connector or the runner add (incremental read, tables not supplied, ...).
            A note that starts with ``warning: `` (``WARNING_PREFIX``) is also printed in the
            terminal summary and flagged in the reports (e.g. a file none of whose columns
            was recognised).
        record_url_template: how the reports link records into the CRM.
        unavailable: what the connector could not read on this tenant (``table`` or
            ``table.column`` -> why, e.g. a permission the audit user lacks); the runner
            adds it to the connector's limitations when it runs the checks.
        templates: the translatable form of ``notes`` (a list, None for a plain note) and
            ``error``, set when the tenant is rendered in a language
            (:meth:`TenantInfo.localised`) and read back from report.json, so an archived
            audit's notes can be rendered again in another language.
    """

    name: str
    connector: str
    api_calls: int = 0
    records: dict[str, int] = field(default_factory=dict)
    partial_tables: list[str] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    record_url_template: dict = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)

    templates: dict[str, Any] = field(default_factory=dict)

    @property
    def warnings(self) -> list[str]:
        """The notes that are warnings, without their ``warning: `` prefix (a warning made
        by :func:`warning_note` keeps its template)."""
        out = []
        for n in self.notes:
            if getattr(n, "msgid", None) == WARNING_PREFIX + "{warning}":
                out.append(n.values.get("warning"))
            elif n.startswith(WARNING_PREFIX):
                out.append(n[len(WARNING_PREFIX):])
        return out

    def to_json(self) -> dict:
        """One entry of report.json's ``audit.tenants`` (``templates``: the notes' and the
        error's translatable form, so an archived audit can be rendered in another language)."""
        from .i18n import template_of

        data = asdict(self)
        data["notes"], data["error"] = [str(n) for n in self.notes], None if self.error is None else str(self.error)
        templates = self._templates()
        if templates:
            data["templates"] = templates
        else:
            data.pop("templates", None)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "TenantInfo":
        """One entry of report.json's ``audit.tenants`` back, its notes translatable again."""
        from .i18n import message_from_json

        info = cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "templates"})
        templates = data.get("templates") or {}
        notes_t = templates.get("notes") or []
        if len(notes_t) == len(info.notes):
            info.notes = [message_from_json(t) if t else n for n, t in zip(info.notes, notes_t)]
        if templates.get("error") and info.error is not None:
            info.error = message_from_json(templates["error"])
        return info

    def localised(self, lang: str) -> "TenantInfo":
        """A copy whose notes and error are rendered in ``lang``, with their templates kept."""
        from dataclasses import replace

        from .i18n import render

        return replace(self, notes=[_localised_note(n, lang) for n in self.notes],
                       error=None if self.error is None else render(self.error, lang), templates=self._templates())

    def _templates(self) -> dict:
        """The kept templates plus the notes' and the error's translatable form."""
        from .i18n import template_of

        templates = dict(self.templates)
        notes_t = [template_of(n) for n in self.notes]
        if any(notes_t):
            templates["notes"] = notes_t
        error_t = template_of(self.error)
        if error_t:
            templates["error"] = error_t
        return templates


@dataclass
class AuditResult:
    """A whole audit: what every reporter reads and what report.json holds.

    Attributes:
        id: the audit id, also its archive folder's name (``20261124T090000Z``).
        as_of: the audit date (ISO 8601).
        started_at: when the audit started (ISO 8601).
        finished_at: when it finished (ISO 8601; empty while running).
        tool_version: the crm-audit version.
        tenants: one ``TenantInfo`` per tenant.
        results: one ``Result`` per (check, tenant).
        score: ``{"overall": 0-100 or None, "areas": {area: score}, "coverage": {...},
            "tenants": {tenant: {"overall", "areas", "coverage"}}}``; None (``n/a``) when
            too little of the audit was judged (see docs/scoring.md). Audits archived
            before coverage existed have only ``overall`` and ``areas``.
        plugin_errors: one line per plugin problem: a plugin that failed to load, a
            check or report format refused at registration, a report format that failed
            to write. Shown in the terminal summary and every report.
        lang: the language the reports' text is rendered in (``en``, ``id``, ``ko``);
            report.json keeps English keys and stable ids whatever it is.
    """

    id: str
    as_of: str
    started_at: str
    finished_at: str = ""
    tool_version: str = ""
    tenants: list[TenantInfo] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    score: dict = field(default_factory=lambda: {"overall": None, "areas": {}})
    plugin_errors: list[str] = field(default_factory=list)
    lang: str = "en"

    def localised(self, lang: str) -> "AuditResult":
        """A copy whose results' text is rendered in ``lang`` (what every reporter reads)."""
        from dataclasses import replace

        return replace(self, lang=lang, results=[r.localised(lang) for r in self.results],
                       tenants=[t.localised(lang) for t in self.tenants])

    def to_json(self) -> dict:
        """report.json (``schema_version`` 1, ``crm_audit_core/schemas/report.schema.json``)."""
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
                "lang": self.lang,
            },
            "score": self.score,
            "results": [r.to_json() for r in self.results],
        }

    @classmethod
    def from_json(cls, data: dict) -> "AuditResult":
        """Read report.json back (``crm-audit report``, ``history``, ``diff``)."""
        audit = data["audit"]
        tenants = [TenantInfo.from_json(t) for t in audit.get("tenants", [])]
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
            lang=audit.get("lang") or "en",
        )

    def failed(self) -> list[Result]:
        """The results with status ``fail`` (accepted risks included)."""
        return [r for r in self.results if r.status == "fail"]

    def applicable_results(self) -> list[Result]:
        """Every result but the ``not-applicable`` ones (checks for other CRMs)."""
        return [r for r in self.results if r.status != "not-applicable"]

    def not_applicable(self) -> dict[str, list[str]]:
        """Tenant -> the ids of the checks that do not apply to its CRM (sorted), for the
        reports' one line per tenant; tenants with none are absent."""
        out: dict[str, list[str]] = {}
        for r in self.results:
            if r.status == "not-applicable":
                out.setdefault(r.tenant, []).append(r.check_id)
        return {t: sorted(set(ids)) for t, ids in out.items()}
