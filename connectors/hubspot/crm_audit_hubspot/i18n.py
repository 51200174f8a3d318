"""The HubSpot connector's translation domain: ``locale/messages.pot`` and ``locale/<lang>.po``.

Every module of this package writes reader-facing text (vendor limitations, notes, the
reasons a table could not be read) with these two functions::

    from .i18n import _, ngettext

    note = ngettext("{n} record was skipped", "{n} records were skipped", len(ids))

(see :mod:`crm_audit_core.i18n`; the glossary for translators is docs/reference/glossary.md).
The sandbox emulates the vendor and stays English: ``crm-audit i18n extract`` skips it.
"""

from __future__ import annotations

from pathlib import Path

from crm_audit_core import Domain

DOMAIN = Domain("crm_audit_hubspot", Path(__file__).parent / "locale")
_, ngettext = DOMAIN.gettext, DOMAIN.ngettext
