"""Segments and integrations: what HubSpot's lists and record-source properties tell.

* ``read_list_memberships``: contact segments are HubSpot's lists (now called segments):
  ``POST /crm/v3/lists/search`` pages through every list (500 a call, HubSpot's maximum),
  and ``GET /crm/v3/lists/{listId}/memberships`` pages through each contact list's
  members (250 a call, the maximum): one call per page, never one per record. The result
  maps each contact id to the names of the lists it is in (``contacts.segments``).
* ``AppTracker`` and ``write_integrations``: HubSpot has no API that lists the apps
  connected to an account. Every record names the tool that created it
  (``hs_object_source``); for an app that is ``INTEGRATION`` with the app's id in
  ``hs_object_source_id`` and its name in ``hs_object_source_detail_1``. One
  ``integrations`` row per app found: id = app id, name = the name records carry,
  last_sync_at = the newest record it created (its last activity HubSpot shows), status
  "active" while it created records in the last ``ACTIVE_DAYS`` days, else "inactive".
  HubSpot does not say what kind of app it is nor when it was installed: ``kind`` and
  ``created_at`` are not supplied (ConnectorInfo.limitations).

Sources: docs/connectors/hubspot.md#segments-lists and #integrations.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from crm_audit_core.kit import Unavailable

from . import mapping
from .i18n import _
from .transport import HubSpotTransport

LIST_SEARCH_COUNT = 500  # the maximum `count` of POST /crm/v3/lists/search
MEMBERSHIP_PAGE = 250  # the maximum `limit` of GET /crm/v3/lists/{listId}/memberships
CONTACT_OBJECT_TYPE = "0-1"
ACTIVE_DAYS = 30  # an app that created records within this many days is "active"

Note = Callable[[str], None]


def read_list_memberships(transport: HubSpotTransport, note: Note) -> dict[str, list[str]] | None:
    """{contact id: [list names]} of every contact list, or None when the token cannot read
    lists (then ``contacts.segments`` is not supplied)."""
    from hubspot.crm.lists.models import ListSearchRequest

    lists: list[dict] = []
    offset = 0
    try:
        while True:
            body = transport.request("lists", transport.client_call(
                transport.lists_api.do_search, ListSearchRequest(query="", count=LIST_SEARCH_COUNT, offset=offset)))
            page = body.get("lists") or []
            lists += page
            if not body.get("hasMore") or not page:
                break
            offset = int(body.get("offset") or offset + len(page))
        members: dict[str, list[str]] = {}
        for item in lists:
            if str(item.get("objectTypeId")) != CONTACT_OBJECT_TYPE or item.get("deletedAt"):
                continue
            name = item.get("name") or str(item.get("listId"))
            for page in transport.pages(f"members of list {name!r}", lambda after, list_id=str(item["listId"]):
                                        transport.client_call(transport.list_members_api.get_page, list_id,
                                                              limit=MEMBERSHIP_PAGE, after=after), required=False):
                for member in page.get("results") or []:
                    members.setdefault(str(member["recordId"]), []).append(name)
    except Unavailable as exc:
        note(_("contact lists not available (segments not supplied; needs the {scope} scope): {problem}",
               scope="crm.lists.read", problem=exc.message))
        return None
    return members


class AppTracker:
    """The apps seen on records while they are read: {app id: name} (for names met again
    on resume or carried forward, the search below finds the id)."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}

    def see(self, obj: dict) -> None:
        props = obj.get("properties") or {}
        if props.get("hs_object_source") != "INTEGRATION":
            return
        name = props.get("hs_object_source_detail_1") or props.get(mapping.SOURCE_LABEL)
        app_id = props.get(mapping.SOURCE_ID)
        if name and app_id and name not in self.ids:
            self.ids[name] = str(app_id)


def previous_app_ids(previous, tenant: str) -> dict[str, str]:
    """{name: app id} of the previous audit's integrations (incremental audits: the apps whose
    records were carried forward, not re-read); {} when it has none."""
    if previous is None:
        return {}
    import duckdb

    try:
        con = duckdb.connect(str(previous.path), read_only=True)
    except (duckdb.Error, OSError):
        return {}
    try:
        rows = con.execute("SELECT name, id FROM canonical.integrations WHERE tenant = $tenant",
                           {"tenant": tenant}).fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {str(name): str(app_id) for name, app_id in rows if name and app_id}


def _app_id_by_search(transport: HubSpotTransport, name: str, object_types=tuple(mapping.TYPED_PROPERTIES)
                      ) -> str | None:
    """The id of the app a record names ``name`` (one search call per object type tried, for
    names whose records were not read by this run: resumed or carried forward)."""
    from hubspot.crm.objects.models import Filter, FilterGroup, PublicObjectSearchRequest

    for object_type in object_types:
        request = PublicObjectSearchRequest(
            filter_groups=[FilterGroup(filters=[
                Filter(property_name="hs_object_source", operator="EQ", value="INTEGRATION"),
                Filter(property_name="hs_object_source_detail_1", operator="EQ", value=name)])],
            properties=[mapping.SOURCE_ID], limit=1)
        body = transport.required(f"{object_type} search", transport.client_call(
            transport.objects_search.do_search, object_type, public_object_search_request=request))
        for obj in body.get("results") or []:
            app_id = (obj.get("properties") or {}).get(mapping.SOURCE_ID)
            if app_id:
                return str(app_id)
    return None


def integration_rows(stored: list[tuple], app_ids: dict[str, str], as_of: datetime,
                     find_id: Callable[[str, str], str | None]) -> list[dict]:
    """One row per app from the stored (table, source, source_detail, created_at) of the
    record tables; ``find_id(name, table)`` looks up an id ``app_ids`` does not have."""
    newest: dict[str, datetime] = {}
    table_of: dict[str, str] = {}
    for table, source, name, created in stored:
        if source != "integration" or not name or created is None:
            continue
        created = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
        table_of.setdefault(name, table)
        if name not in newest or created > newest[name]:
            newest[name] = created
    as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=timezone.utc)
    cut = as_of - timedelta(days=ACTIVE_DAYS)
    rows = []
    for name in sorted(newest):
        app_id = app_ids.get(name) or find_id(name, table_of[name])
        if app_id is None:  # no record names it any more (deleted meanwhile)
            continue
        rows.append({"id": app_id, "name": name, "status": "active" if newest[name] >= cut else "inactive",
                     "last_sync_at": newest[name],
                     "raw": {"hs_object_source": "INTEGRATION", "hs_object_source_id": app_id,
                             "hs_object_source_detail_1": name}})
    return rows


def write_integrations(transport: HubSpotTransport, sink, tracker: AppTracker, as_of: datetime,
                       previous=None) -> None:
    """The integrations table, from the record tables as stored (read, resumed or carried
    forward). App ids: those seen on the records read, else the previous audit's, else one
    search in a table whose records name the app."""
    progress = transport.progress = sink.progress("integrations")
    stored: list[tuple] = []
    for table in mapping.TYPED_PROPERTIES:
        stored += [(table, *row) for row in sink.stored(table, ("source", "source_detail", "created_at"))]
    app_ids = {**previous_app_ids(previous, sink.tenant), **tracker.ids}
    rows = integration_rows(stored, app_ids, as_of, lambda name, table: _app_id_by_search(transport, name, (table,)))
    sink.write("integrations", rows)
    progress.advance(records=len(rows))
    sink.complete("integrations")
