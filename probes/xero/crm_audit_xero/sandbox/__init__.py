"""A local emulator of the Xero API a probe reads, serving a generated tenant over real HTTP.

What the organisation holds is :mod:`.organisation` (the tenant's companies and won deals
that its accounting integration synced, plus the archived contacts and supplier bills a
real organisation also has); the HTTP side (token endpoint, /connections, Contacts and
Invoices with Xero's paging, filters, limits and error bodies) is :mod:`.app`, on the
kit's :class:`crm_audit_core.sandbox.server.SandboxApp` (request log, faults, rate window,
daily counter, server). ``start_sandbox(tenant)`` serves it and returns a handle whose
``options`` configure the xero probe.
"""

from .app import XeroSandbox, start_sandbox
from .organisation import Organisation

__all__ = ["Organisation", "XeroSandbox", "start_sandbox"]
