"""Report formats. One result model, many reporters: each reads the same AuditResult.

A reporter is registered through ``crm_audit_register_reporters`` and writes files into
the audit folder. Built-ins (json, csv fix-lists, markdown) live in :mod:`.builtin`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class ReportContext:
    """What a reporter may need besides the results."""

    folder: Path
    # link(tenant, object, id) -> URL into the CRM, or None
    link: Callable[[str, str, str], str | None] = lambda tenant, obj, rid: None
    history: list = field(default_factory=list)  # past audits (id, as_of, score) for trends
    registry: object = None


@dataclass
class Reporter:
    """``write(audit, context) -> list[Path]`` writes files into ``context.folder``."""

    name: str
    write: Callable
    description: str = ""
    default: bool = True  # written on every audit
    plugin: str = ""
