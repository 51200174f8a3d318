"""A local emulator of Pipedrive's REST API, serving a canonical tenant over real HTTP.

It maps a :class:`crm_audit_core.sandbox.GeneratedTenant` (or a plain ``{table: rows}``
dict) to Pipedrive JSON with the inverse functions of :mod:`.mapping`, and answers the
way Pipedrive does (shared/CRM-APIS.md section 3):

* ``/api/v2/{persons,organizations,deals,activities,pipelines,stages,personFields,
  organizationFields,dealFields,activityFields}``: cursor pagination, ``limit`` at most
  500, ``additional_data.next_cursor`` (``null`` on the last page);
* ``/api/v1/users``, ``/api/v1/webhooks`` and ``/api/v1/permissionSets`` (unpaginated; the
  list without each set's ``contents``, ``/api/v1/permissionSets/{id}`` with them; users'
  ``access`` and the sets come from the tenant's ``permissions`` rows, webhooks from its
  ``integrations`` and ``oauth_grants``; ``admin=False``: both refused with 403), ``/api/v1/roles``,
  ``/api/v1/notes``, ``/api/v1/leads`` and ``/api/v1/leads/archived`` (``start``/``limit``,
  ``additional_data.pagination``); the same v1 paths are served under ``/v1`` too;
* auth by ``x-api-token``, ``?api_token=`` or ``Authorization: Bearer``; anything else
  is a 401 ``{"success":false,"error":"unauthorized access","errorCode":401,...}``;
* the success and error envelopes, ``x-ratelimit-*`` burst headers (429 once more than
  ``rate_limit`` requests arrive within ``rate_window`` seconds) and
  ``x-daily-ratelimit-token-limit/-remaining`` (429 with remaining 0 once the
  ``daily_limit`` of tokens is spent);
* for incremental and resumed audits: ``updated_since`` / ``sort_by`` on the v2 lists,
  ``status=deleted`` on deals, ``/v1/recents``, keyset cursors (``records.expire_cursors()``
  invalidates them); ``put_record`` / ``delete_record`` change the company between two
  audits (canonical rows), ``records.update`` / ``add`` / ``delete`` in Pipedrive's shape.

The request log, fault injection (:data:`crm_audit_core.connector.FAULT_KINDS`), rate
window, daily counter and the server are the kit's
(:class:`crm_audit_core.sandbox.server.SandboxApp`).

It is read-only: writes get a 405 envelope and are logged, so tests can assert none.

Rooms: :mod:`.company` builds the records from the tenant (one builder per entity),
:mod:`.records` holds them and answers list queries, :mod:`.app` is the HTTP side.
"""

from .app import PipedriveSandbox, start_sandbox
from .company import PipedriveData

__all__ = ["PipedriveData", "PipedriveSandbox", "start_sandbox"]
