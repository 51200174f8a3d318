"""The standard checks' translation domain: ``locale/messages.pot`` and ``locale/<lang>.po``.

Every module of this package writes reader-facing text with these two functions::

    from .i18n import _, ngettext

    message = ngettext("{n} contact has no owner", "{n} contacts have no owner", len(ids))

(see :mod:`crm_audit_core.i18n`; the glossary for translators is docs/reference/glossary.md).
"""

from __future__ import annotations

from pathlib import Path

from crm_audit_core import Domain

DOMAIN = Domain("crm_audit_checks", Path(__file__).parent / "locale")
_, ngettext = DOMAIN.gettext, DOMAIN.ngettext
