"""Report formats. One result model, many reporters: each reads the same AuditResult.

A reporter is registered through ``crm_audit_register_reporters`` and writes files into
the audit folder. Built-ins (json, csv fix-lists, markdown) live in ``.builtin``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable


@dataclass
class ReportContext:
    """What a reporter may need besides the results.

    Attributes:
        folder: the audit's archive folder; write your files here.
        link: ``link(tenant, object, id)`` -> a URL into the CRM for that record, or None.
            Treat it as untrusted text (keep only http(s) links in HTML).
        history: past audits in the same archive, oldest first, then this one:
            dicts with ``id``, ``as_of`` and ``score`` (for trends).
        registry: the plugin registry (checks' metadata, connectors, other reporters).
        lang: the language to write in (``en``, ``id``, ``ko``). The results' text
            fields arrive already rendered in it; a reporter renders its own headings
            and labels with :meth:`t` (or ``crm_audit_core.i18n.tr``) and formats
            numbers and dates for it (``babel.numbers``, ``babel.dates``).
    """

    folder: Path
    link: Callable[[str, str, str], str | None] = lambda tenant, obj, rid: None
    history: list = field(default_factory=list)
    registry: object = None
    lang: str = "en"

    def t(self, msgid: str, **values) -> str:
        """A core text (heading, label) in the report's language."""
        from ..i18n import tr

        return tr(self.lang, msgid, **values)

    def text(self, value) -> str:
        """Any translatable text (a check's description, a Message) in the report's language."""
        from ..i18n import render

        return render(value, self.lang)


@dataclass
class Reporter:
    """A report format: ``write(audit, context) -> list[Path]`` writes files into ``context.folder``.

    Register it with ``register(Reporter("txt", write_txt, "report.txt: ..."))`` in a
    ``crm_audit_register_reporters`` hook. Everything in the audit that came from the CRM
    is untrusted: escape it for your format. A reporter that raises is recorded in
    ``audit.plugin_errors``; the other formats are still written.

    Attributes:
        name: the format's name for ``crm-audit report --format NAME``: a short lowercase
            word (letters, digits, dashes), unique across plugins.
        write: ``write(audit: AuditResult, context: ReportContext) -> list[Path]``.
        description: one line: the file it writes and for whom.
        default: written on every audit (False: only on ``crm-audit report --format``).
        plugin: the plugin that registered it (filled by the registry).
        separate: may be written in a process of its own, on another core, while the other
            formats are written (Linux; not with ``--debug``). Only for a reporter that
            writes files and changes nothing in the audit (a change would not be seen).
    """

    name: str
    write: Callable
    description: str = ""
    default: bool = True
    plugin: str = ""
    separate: bool = False
