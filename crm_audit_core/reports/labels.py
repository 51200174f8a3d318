"""The words every report shows for the audit's fixed values, in the report's language.

Severities, score areas, result statuses, a step's status and the step titles are stable
English keys in report.json; a reporter shows them with :func:`severity_text`,
:func:`area_text`, :func:`status_text`, :func:`step_status_text`, :func:`object_text` and
:func:`step_title`
(English for a key it does not know, e.g. one a newer version adds).
"""

from __future__ import annotations

from .. import model
from ..i18n import Message, _, render, untranslated

# TRANSLATORS: a finding's severity (a label in tables), as in the glossary
SEVERITIES: dict[str, Message] = {"critical": _("critical"), "high": _("high"), "medium": _("medium"),
                                  "low": _("low"), "info": _("info")}
# TRANSLATORS: a score area (the three parts of the score)
AREAS: dict[str, Message] = {"usage": _("usage"), "security": _("security"), "data": _("data")}
# TRANSLATORS: a check's result on one tenant (a label in tables), as in the glossary
STATUSES: dict[str, Message] = {"pass": _("pass"), "fail": _("findings"), "error": _("error"),
                                "skipped": _("skipped"), "not-applicable": _("not applicable")}
# TRANSLATORS: an audit step's status in the summary table
STEP_STATUSES: dict[str, Message] = {"ok": _("ok"), "findings": _("findings"), "error": _("error"),
                                     "skipped": _("skipped"), "not covered": _("not covered")}
# TRANSLATORS: the kind of records a finding is about ("Affected contacts: 12"); the English
# reports show the canonical table name itself (contacts, audit_trail)
OBJECTS: dict[str, Message] = {
    "users": _("users"), "login_events": _("login events"), "companies": _("companies"), "contacts": _("contacts"),
    "deals": _("deals"), "leads": _("leads"), "stages": _("stages"), "activities": _("activities"),
    "campaigns": _("campaigns"), "fields": _("fields"), "integrations": _("integrations"),
    "sync_counts": _("sync counts"), "permissions": _("permissions"), "security_settings": _("security settings"),
    "oauth_grants": _("OAuth grants"), "audit_trail": _("audit trail entries"), "packages": _("packages"),
    "platform": _("platform settings"), "segments": _("segments"), "records": _("records"),
}


def _label(words: dict, key, lang: str) -> str:
    word = words.get(key)
    return render(word, lang) if word is not None else str(key if key is not None else "")


def severity_text(severity: str, lang: str = "en") -> str:
    return _label(SEVERITIES, severity, lang)


def area_text(area: str, lang: str = "en") -> str:
    return _label(AREAS, area, lang)


def status_text(status: str, lang: str = "en") -> str:
    return _label(STATUSES, status, lang)


def step_status_text(status: str, lang: str = "en") -> str:
    return _label(STEP_STATUSES, status, lang)


def object_text(obj: str | None, lang: str = "en") -> str:
    """The records' kind (an ``Affected.object``) for a reader: the table name in English,
    its word in other languages (the name itself when it has none)."""
    if not obj:
        return _label(OBJECTS, "records", lang) if lang != "en" else "records"
    return obj if lang == "en" else _label(OBJECTS, obj, lang)


def step_title(step: str, lang: str = "en") -> str:
    """The step's title (``model.STEP_TITLES``) in ``lang``."""
    title = model.STEP_TITLES.get(step)
    return render(untranslated(title, "crm_audit_core"), lang) if title else step
