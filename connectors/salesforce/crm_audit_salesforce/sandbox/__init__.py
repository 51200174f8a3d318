"""A local Salesforce: serves a canonical tenant as Salesforce REST + Bulk 2.0 over HTTPS.

Built on the kit's sandbox base (:mod:`crm_audit_core.sandbox.server`: request log, fault
queue, rate window, daily counters, TLS and the server); this package holds what is
Salesforce's. simple-salesforce always speaks ``https://`` (shared/CRM-APIS.md, section 0),
so the sandbox serves real TLS on 127.0.0.1 with a throwaway CA made at start (trustme); the
connector trusts it through its ``ca_bundle`` option (``SandboxHandle.options``).

What it emulates (shapes from shared/CRM-APIS.md section 1):

* ``GET /services/data/`` version list (no auth, no usage header);
* ``GET /services/data/vXX.X/query[/]?q=`` with a small SOQL engine (SELECT fields and
  parent fields up to five levels FROM object, WHERE of ANDed or ORed comparisons on dates, ids,
  strings, numbers and booleans, ORDER BY, LIMIT, ``COUNT()``); anything else is a
  ``MALFORMED_QUERY``; unknown fields ``INVALID_FIELD``; unknown objects ``INVALID_TYPE``.
  Batches honour ``Sforce-Query-Options: batchSize=N`` (200..2000, default 2000) and page
  with ``nextRecordsUrl`` (``/query/<locator>-<offset>``);
* ``GET tooling/query[/]?q=``: the Tooling API's setup objects (Health Check, installed
  packages), which the data API does not serve (``INVALID_TYPE`` either way round);
* ``GET sobjects``, ``sobjects/{Name}/describe``, ``limits/``;
* ``GET ui-api/object-info/Opportunity/picklist-values/{recordTypeId}/StageName`` (API
  41.0 and later): each Opportunity record type's stages (:mod:`.pipelines`; 403 with
  ``ui_api=False``);
* ``GET limits/recordCount[?sObjects=A,B]`` (API 40.0 and later): ``{"sObjects": [{"count",
  "name"}]}``, a cached snapshot as in Salesforce: taken when the sandbox starts and not
  moved by changes to the org until :meth:`SalesforceSandbox.refresh_record_counts`
  (``record_counts=`` at start, or ``app.record_counts[...] = n``, serves stale counts);
* Bulk 2.0 query jobs (``POST jobs/query``, job info, CSV results with ``Sforce-Locator``
  and ``Sforce-NumberOfRecords``; 409 when read under another API version);
* ``Sforce-Limit-Info: api-usage=N/M`` on every metered response; over the daily
  allowance or the optional ``rate_limit`` per ``rate_window``: 403 ``REQUEST_LIMIT_EXCEEDED``;
* URLs over 16,384 characters: 414; SOQL over 100,000 characters: ``MALFORMED_QUERY``;
* a wrong or expired session: 401 with Salesforce's JSON *list* body;
* login endpoints for the password (SOAP ``/services/Soap/u/{v}``) and OAuth
  (``/services/oauth2/token``: JWT bearer and password grants) modes;
* ``GET sobjects/{Name}/deleted/?start=&end=`` (getDeleted: the delete log of the last
  15 days, ``earliestDateAvailable`` moved by ``app.changes.purge_delete_log()``);
  every record object has ``SystemModstamp`` (= ``LastModifiedDate``);
* changing the org between audits: ``handle.put_record(table, row)`` /
  ``handle.delete_record(table, id)`` (canonical rows), and ``handle.app.changes`` for
  Salesforce-level edits (``update_sobject``, ``add_sobject``, ``delete_sobject``);
  timestamps move to ``when`` (default now);
* the request log (``handle.requests``) notes for query, queryMore and Bulk result
  pages the ``object`` and how many ``records`` it served;
* fault injection (``FAULT_KINDS``; ``match=handle.app.reads("Contact")`` narrows a fault
  to the requests that read one object): ``"429"`` is Salesforce's throttle, which is a 403
  ``REQUEST_LIMIT_EXCEEDED`` (Salesforce does not send 429) for the concurrent-request
  limit ("ConcurrentRequests (Concurrent API Requests) Limit exceeded.", SalesforceLabs/OrgCheck#432);
  the spent daily allowance is the same 403 with "TotalRequests Limit exceeded." (shared/CRM-APIS.md
  1.5), answered once ``daily_used`` reaches ``daily_limit``; ``handle.spend_daily_allowance(after=N)``
  lets other integrations spend it mid-run.

Canonical decimal ids become 18-character Salesforce ids with the right key prefix
(:func:`crm_audit_salesforce.mapping.to_salesforce_id`); ``handle.extra["ids"]`` maps
each canonical id to the Salesforce id it was served under.

Rooms: :mod:`.org` (the org model, field types, value conversions), :mod:`.builder` (the
org built from a canonical tenant, one builder per object), :mod:`.access` (users,
profiles, permission sets and groups), :mod:`.setup` (Health Check, OAuth grants, audit
trail, packages), :mod:`.soql` (the SOQL
engine), :mod:`.bulk` (Bulk 2.0 query jobs), :mod:`.login` (SOAP and OAuth logins,
sessions), :mod:`.changes` (the mutation API), :mod:`.responses` (Salesforce's JSON and
error bodies), :mod:`.app` (the WSGI app on the kit's ``SandboxApp``: routes, auth,
Salesforce's limit answers) and :mod:`.server` (``start_sandbox``).
"""

from .app import SalesforceSandbox
from .builder import build_org, is_event
from .org import Org, salesforce_versions
from .soql import Soql, SoqlError, parse_soql, rest_record, run_soql
from .server import start_sandbox

__all__ = ["Org", "SalesforceSandbox", "Soql", "SoqlError", "build_org", "is_event", "parse_soql", "rest_record",
           "run_soql", "salesforce_versions", "start_sandbox"]
