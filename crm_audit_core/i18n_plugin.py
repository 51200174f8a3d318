"""The core's own translation domain, registered like any plugin's (see :mod:`.i18n`)."""

from __future__ import annotations

from . import hookimpl
from .i18n import CORE


@hookimpl
def crm_audit_register_translations(register):
    register(CORE)
