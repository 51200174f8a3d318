"""A local emulator of HubSpot's REST API, serving a canonical tenant as HubSpot JSON.

Rooms: builders.py (canonical tenant -> HubSpot objects, one builder per entity),
store.py (the portal and its mutations between audits), search.py (CRM search filters
and sorts), app.py (the WSGI app: auth, faults, rate limits, routes; ``start_sandbox``).
"""

from __future__ import annotations

from .app import READ_ONLY_POSTS, HubSpotSandbox, start_sandbox
from .store import HubSpotData

__all__ = ["HubSpotData", "HubSpotSandbox", "READ_ONLY_POSTS", "start_sandbox"]
