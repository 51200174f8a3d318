"""The sandbox's portal: the tenant held as HubSpot objects, and its mutations.

``HubSpotData`` assembles what the builders (builders.py) make of a canonical tenant:
objects per type in id order (for keyset list cursors), associations, property
definitions, owners, users (super admins from ``users.is_admin`` and ``permissions``), roles,
logins, the audit log (``audit_trail``), pipelines, marketing emails, contact lists
with their members, and the app id of each integration (on the records it created). Between two
audits tests change it through ``put_record`` / ``delete_record``, as a user or an
integration would: records are created, replaced (stamped modified) or archived.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timezone
from typing import Any

from crm_audit_core.sandbox.server import tenant_rows

from .. import mapping
from .builders import (ALL_OBJECT_TYPES, RECORD_LINKS, associate, build_audit_logs, build_engagements,
                       build_lists, build_logins,
                       build_marketing_emails, build_pipelines, build_properties, build_records, build_users,
                       custom_fields, id_key, row_to_list)


class AppIds(dict):
    """{integration name: app id}; a name the tenant does not list gets an id of its own (in
    HubSpot every record an app created carries the app's id)."""

    def __missing__(self, name: str) -> str:
        self[name] = app_id = str(9_000_000 + len(self))
        return app_id


class HubSpotData:
    """The tenant held as HubSpot objects."""

    def __init__(self, tenant: Any, extra_properties: int = 0, edition: str | None = None,
                 login_history: bool = True, marketing: bool = True, lists: bool = True,
                 audit_logs: bool = True):
        self.login_history = login_history
        self.audit_logs = audit_logs
        self.marketing = marketing
        self.lists_scope = lists
        self.tenant = tenant  # the canonical tenant served (tests compare reads with it)
        fields = tenant_rows(tenant, "fields")
        custom = custom_fields(fields)
        self.custom_of_table = {t: [f["name"] for f in custom.get(t, [])]
                                for t in ("contacts", "companies", "deals", "activities")}
        self.properties = build_properties(fields, extra_properties)

        # Apps: a record an integration created names it (hs_object_source_id = the app id).
        self.app_ids = AppIds({str(i["name"]): str(i["id"]) for i in tenant_rows(tenant, "integrations")
                               if i.get("name")})
        self.objects: dict[str, list[dict]] = {t: [] for t in ALL_OBJECT_TYPES}
        self.associations: dict[tuple[str, str], dict[str, list[str]]] = {}
        segments: dict[str, list[str]] = {}
        for table in ("contacts", "companies", "deals"):
            build_records(tenant, table, self.custom_of_table[table], self.objects, self.associations,
                          self.app_ids, segments if table == "contacts" else None)
        # Contact lists (segments) and their members: {list id: contact ids}.
        self.lists, self.list_members = build_lists(segments)
        build_engagements(tenant, self.custom_of_table["activities"], self.objects, self.associations)
        for object_type in self.objects:
            self.objects[object_type].sort(key=lambda o: id_key(o["id"]))
        self.by_id = {t: {o["id"]: o for o in objs} for t, objs in self.objects.items()}
        self.archived: dict[str, list[dict]] = {t: [] for t in ALL_OBJECT_TYPES}  # deleted, newest last
        self._keys: dict[str, list] = {}

        users = tenant_rows(tenant, "users")
        self.owners, self.users, self.roles = build_users(users, tenant_rows(tenant, "permissions"))
        self.audit_log = build_audit_logs(tenant_rows(tenant, "audit_trail"), users)
        self.logins = build_logins(tenant_rows(tenant, "login_events"), self.owners)
        self.pipelines = build_pipelines(tenant_rows(tenant, "stages"))
        self.emails = build_marketing_emails(tenant_rows(tenant, "campaigns"))

        platform = (tenant_rows(tenant, "platform") or [{}])[0]
        self.edition = str(edition or platform.get("edition") or "professional").lower()
        self.daily_limit = mapping.DAILY_LIMIT_BY_EDITION.get(self.edition, 625_000)

    def keys(self, object_type: str) -> list:
        """Sorted id keys of ``object_type`` (cached; mutations reset it), for keyset cursors."""
        keys = self._keys.get(object_type)
        if keys is None:
            keys = self._keys[object_type] = [id_key(o["id"]) for o in self.objects[object_type]]
        return keys

    # -- mutations between two audits (tests of incremental audits) ---------------------

    def _object_type_of(self, table: str, record_id: str) -> str | None:
        if table != "activities":
            return table if record_id in self.by_id[table] else None
        return next((t for t in mapping.ACTIVITY_TYPE_OF if record_id in self.by_id[t]), None)

    def _unlink(self, object_type: str, record_id: str, *, inbound: bool = True) -> None:
        """Drop the record's associations (``inbound``: also those of other records to it)."""
        for (from_type, to_type), links in self.associations.items():
            if from_type == object_type:
                links.pop(record_id, None)
            elif to_type == object_type and inbound:
                for from_id in [k for k, v in links.items() if record_id in v]:
                    links[from_id] = [x for x in links[from_id] if x != record_id]
                    if not links[from_id]:
                        del links[from_id]

    def put_record(self, table: str, row: dict, *, modified: datetime | None = None) -> dict:
        """Create or replace a contacts/companies/deals/activities record from a canonical row.

        Stamps the record's last-modified date with ``modified`` (default now) and, for
        record tables, sets ``row["updated_at"]`` to it so the caller's copy matches.
        """
        record_id = str(row["id"])
        when = modified or datetime.now(timezone.utc)
        existing = self._object_type_of(table, record_id)
        if table == "activities":
            object_type, obj = mapping.row_to_engagement(row, self.custom_of_table.get("activities", []))
            obj["properties"]["hs_lastmodifieddate"] = obj["updatedAt"] = mapping.format_time(when)
        else:
            row["updated_at"] = when
            object_type, obj = table, mapping.row_to_object(table, row, self.custom_of_table.get(table, []),
                                                            self.app_ids)
            if table == "contacts":
                self._set_memberships(record_id, list(row.get("segments") or ()))
        if existing is not None:
            if existing != object_type:  # an activity that changed type
                self._remove(existing, record_id)
            self._unlink(existing, record_id, inbound=False)  # the row says its own links; others keep theirs
        for column, to in RECORD_LINKS.get(table, ()):
            if row.get(column):
                associate(self.associations, object_type, record_id, to, row[column])
        objs, keys, key = self.objects[object_type], self.keys(object_type), id_key(record_id)
        index = bisect.bisect_left(keys, key)
        if index < len(objs) and keys[index] == key:
            objs[index] = obj
        else:
            objs.insert(index, obj)
            keys.insert(index, key)
        self.by_id[object_type][record_id] = obj
        return obj

    def _set_memberships(self, contact_id: str, names: list[str]) -> None:
        """Make the contact a member of exactly the lists named ``names`` (new names: new lists)."""
        by_name = {item["name"]: item for item in self.lists}
        for item in self.lists:
            members = self.list_members[item["listId"]]
            if contact_id in members and item["name"] not in names:
                members.remove(contact_id)
        for name in names:
            if name not in by_name:
                list_id = str(max((int(i["listId"]) for i in self.lists), default=0) + 1)
                by_name[name] = row_to_list(list_id, name, 0)
                self.lists.append(by_name[name])
                self.list_members[list_id] = []
            members = self.list_members[by_name[name]["listId"]]
            if contact_id not in members:
                members.append(contact_id)
                members.sort(key=id_key)
        for item in self.lists:
            item["additionalProperties"]["hs_list_size"] = str(len(self.list_members[item["listId"]]))

    def _remove(self, object_type: str, record_id: str) -> dict:
        obj = self.by_id[object_type].pop(record_id)
        objs, keys = self.objects[object_type], self.keys(object_type)
        index = bisect.bisect_left(keys, id_key(record_id))
        del objs[index], keys[index]
        return obj

    def delete_record(self, table: str, record_id: str, *, when: datetime | None = None) -> None:
        """Archive (delete) a record as HubSpot does: it leaves lists and search, and is
        listed with ``archived=true`` and an ``archivedAt`` date; its associations go."""
        record_id = str(record_id)
        object_type = self._object_type_of(table, record_id)
        if object_type is None:
            raise KeyError(f"{table} {record_id} not found")
        obj = self._remove(object_type, record_id)
        self._unlink(object_type, record_id)
        if object_type == "contacts":
            self._set_memberships(record_id, [])
        stamp = mapping.format_time(when or datetime.now(timezone.utc))
        self.archived[object_type].append({**obj, "archived": True, "archivedAt": stamp, "updatedAt": stamp})
