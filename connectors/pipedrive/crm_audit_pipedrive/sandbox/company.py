"""The emulated Pipedrive company: a canonical tenant turned into Pipedrive records, one
builder per entity (roles and users, pipelines, stages, field definitions, activities,
notes, organizations, persons, deals, leads, webhooks), each with the inverse mapping
functions of :mod:`crm_audit_pipedrive.mapping` and :mod:`crm_audit_pipedrive.sources`.

Pipedrive-specific modelling: a contact's or company's ``source`` is served as the lead
that brought it in (persons and organizations carry no origin); ``lifecycle_stage`` as a
single-option person field named "Lifecycle stage" (Pipedrive has none built in);
integrations as webhooks."""

from __future__ import annotations

from typing import Any

from crm_audit_core.sandbox.server import tenant_rows

from .. import mapping
from ..fields import ENUM_TYPES, FIELD_ENTITIES, LIFECYCLE_FIELD, encode_custom, field_hash, field_to_v2
from ..security import STANDARD_SETS, grant_to_webhook, is_webhook_grant, sets_and_access
from ..sources import lead_for, row_to_webhook
from ..values import utc_datetime, clean

# Canonical company columns Pipedrive keeps in account fields (keyed by hash) -> their label.
ORG_ACCOUNT_FIELDS = {"domain": "Website", "industry": "Industry", "phone": "Phone"}

# Canonical contact columns Pipedrive keeps in account (custom) person fields -> their label.
PERSON_ACCOUNT_FIELDS = {"lifecycle_stage": LIFECYCLE_FIELD}
# Leads added this many days before the newest one stay open; older ones are archived.
OPEN_LEAD_DAYS = 30

# Pipelines and stages carry a fixed creation time: the tenant has none for them.
EPOCH = "2020-01-01T00:00:00Z"


class PipedriveData:
    """The emulated company: Pipedrive records per entity (``entities``), sorted by id."""

    def __init__(self, tenant: Any):
        self.entities: dict[str, list[dict]] = {}
        self.options: dict[str, dict[str, dict[str, int]]] = {}  # table -> field -> label -> option id
        self._option_seq = 1
        field_rows = tenant_rows(tenant, "fields")
        self.custom = {t: [f for f in field_rows if f.get("object") == t and f.get("is_custom")] for t in FIELD_ENTITIES}
        standard = {t: [f for f in field_rows if f.get("object") == t and not f.get("is_custom")] for t in FIELD_ENTITIES}
        table_rows = {table: tenant_rows(tenant, table) for table in ("contacts", "companies", "deals", "activities")}
        if any(f["name"] in PERSON_ACCOUNT_FIELDS for f in standard["contacts"]) or any(
                clean(c.get("lifecycle_stage")) is not None for c in table_rows["contacts"]):
            # An enum person field, as accounts that track a lifecycle stage keep it.
            for name, label in PERSON_ACCOUNT_FIELDS.items():
                self.custom["contacts"].append({"object": "contacts", "name": name, "label": label,
                                                "type": "enumeration", "is_custom": True})
        notes = [a for a in table_rows["activities"] if a.get("type") == "note"]
        others = [a for a in table_rows["activities"] if a.get("type") != "note"]

        self._build_roles_and_users(tenant_rows(tenant, "users"), tenant_rows(tenant, "permissions"))
        stage_rows = tenant_rows(tenant, "stages")
        pipeline_ids = self.pipeline_ids = self._build_pipelines(stage_rows, table_rows["deals"])
        stages = self.stages = self._build_stages(stage_rows, table_rows["deals"], pipeline_ids)
        self._build_fields(standard, table_rows)
        self._build_activities(others)
        self._build_notes(notes)
        last_activity = _last_activities(others)
        self._build_organizations(table_rows["companies"])
        self._build_persons(table_rows["contacts"], last_activity)
        self._build_deals(table_rows["deals"], pipeline_ids, stages, last_activity)
        self._build_leads(table_rows["contacts"], table_rows["companies"])
        # The tenant's webhook grants (scope "webhook") are webhooks, with their own URL and
        # last delivery; its other app grants (OAuth apps, mobile sessions) have no form in
        # Pipedrive's API. Then a webhook per integration (an integration named as a webhook
        # grant is that webhook: Pipedrive groups webhooks by name). Pipedrive shows every
        # webhook as an integration: webhook_integrations() gives the rows the tenant lacks.
        self.entities["webhooks"] = [grant_to_webhook(g) for g in tenant_rows(tenant, "oauth_grants")
                                     if is_webhook_grant(g)]
        hook_names = {str(h["name"]).lower() for h in self.entities["webhooks"]}
        self.entities["webhooks"] += [row_to_webhook(i) for i in tenant_rows(tenant, "integrations")
                                      if str(i.get("name")).lower() not in hook_names]
        for name, rows in self.entities.items():
            if rows and "id" in rows[0] and not name.startswith(("leads", "permissionSets")):  # leads: oldest first
                rows.sort(key=lambda r: (str(type(r["id"])), r["id"]))

    def held_sets(self) -> list[str]:
        """The ids of the non-admin permission sets users hold (the connector reads each one's contents)."""
        held = {str(a.get("permission_set_id")) for u in self.entities["users"] for a in u.get("access") or []
                if not a.get("admin")}
        return sorted(s["id"] for s in self.entities["permissionSets"] if s["id"] in held and s["type"] != "admin")

    def _build_roles_and_users(self, users: list[dict], permissions: list[dict] | None = None) -> None:
        role_names = sorted({clean(u.get("role")) for u in users if clean(u.get("role"))})
        role_ids = {name: 9000 + i for i, name in enumerate(role_names, 1)}
        self.entities["roles"] = [
            {"id": rid, "parent_role_id": None, "name": name, "active_flag": True,
             "assignment_count": sum(1 for u in users if u.get("role") == name), "sub_role_count": 0}
            for name, rid in role_ids.items()
        ]
        sets, access, admins = sets_and_access(permissions or [])
        self.entities["users"] = []
        for i, u in enumerate(users):
            if str(u["id"]) in admins and not clean(u.get("is_admin")):
                u = {**u, "is_admin": True}
            user = mapping.row_to_user(u, role_ids, is_you=(i == 0))
            user["access"] += access.get(str(u["id"]), [])
            self.entities["users"].append(user)
        standard = [dict(s, contents=list(s["contents"])) for s in STANDARD_SETS]
        for item in standard:
            item["assignment_count"] = sum(1 for u in self.entities["users"] for a in u["access"]
                                           if a.get("permission_set_id") == item["id"])
        # GET /v1/permissionSets lists them without their contents (GET /v1/permissionSets/{id} has them)
        self.entities["permissionSets"] = standard + sets

    def _build_pipelines(self, stage_rows: list[dict], deals: list[dict]) -> dict[str, int]:
        """Every pipeline a stage or a deal names, in order of appearance -> its id."""
        names: list[str] = []
        for name in [s.get("pipeline") for s in stage_rows] + [d.get("pipeline") for d in deals]:
            name = clean(name)
            if name and name not in names:
                names.append(name)
        pipeline_ids = {name: 100 + i for i, name in enumerate(names, 1)}
        self.entities["pipelines"] = [
            {"id": pid, "name": name, "order_nr": i, "is_deleted": False, "is_deal_probability_enabled": False,
             "add_time": EPOCH, "update_time": EPOCH}
            for i, (name, pid) in enumerate(pipeline_ids.items(), 1)
        ]
        return pipeline_ids

    def _build_stages(self, stage_rows: list[dict], deals: list[dict], pipeline_ids: dict[str, int]) -> dict[tuple, dict]:
        """Open stages keyed by (pipeline, name); sets ``deal_stage`` (deal id -> that key).

        Pipedrive has no closed stages (won/lost is the deal's status): a won or lost deal
        stays in the last open stage of its pipeline. ``deals.stage`` holds a stage id (as
        the generator writes it) or a stage name; a name no stage row has becomes a stage."""

        def stage(stage_id: int, order: int, key: tuple) -> dict:
            return {
                "id": stage_id, "order_nr": order, "name": key[1], "is_deleted": False,
                "deal_probability": 100, "pipeline_id": pipeline_ids.get(key[0]),
                "is_deal_rot_enabled": False, "days_to_rotten": None, "add_time": EPOCH, "update_time": EPOCH,
            }

        closed_stages = {(clean(s.get("pipeline")), clean(s.get("name"))) for s in stage_rows if clean(s.get("is_closed"))}
        stage_key_by_id = self.stage_key_by_id = {str(s["id"]): (clean(s.get("pipeline")), clean(s.get("name"))) for s in stage_rows}
        stages: dict[tuple, dict] = {}
        for s in stage_rows:
            if not clean(s.get("is_closed")):
                key = (clean(s.get("pipeline")), clean(s.get("name")))
                stages[key] = stage(int(s["id"]), int(clean(s.get("position")) or 0), key)
        next_stage = max([s["id"] for s in stages.values()] + [0]) + 10_000_000
        last_open: dict = {}
        for key, st in stages.items():
            if key[0] not in last_open or st["order_nr"] > last_open[key[0]][1]:
                last_open[key[0]] = (key, st["order_nr"])
        self.deal_stage: dict[str, tuple] = {}
        for d in deals:
            stage_ref = clean(d.get("stage"))
            key = stage_key_by_id.get(str(stage_ref)) or (clean(d.get("pipeline")), stage_ref)
            if key in closed_stages and key[0] in last_open:
                key = last_open[key[0]][0]
            self.deal_stage[str(d["id"])] = key
            if key[1] and key not in stages:
                next_stage += 1
                stages[key] = stage(next_stage, len(stages) + 1, key)
        self.entities["stages"] = list(stages.values())
        return stages

    def _options_for(self, table: str, name: str, values) -> list[dict]:
        """Option ids for the labels seen in ``values`` (lists flattened), kept in ``options``."""
        labels: list[str] = []
        for v in values:
            for item in (v if isinstance(v, (list, tuple)) else [v]):
                item = clean(item)
                if item is not None and str(item) not in labels:
                    labels.append(str(item))
        ids = {}
        for label in labels:
            ids[label] = self._option_seq
            self._option_seq += 1
        self.options.setdefault(table, {})[name] = ids
        return [{"id": i, "label": label, "color": None} for label, i in ids.items()]

    def _build_fields(self, standard: dict[str, list[dict]], table_rows: dict[str, list[dict]]) -> None:
        """Field definitions per entity, with options for enum/set values seen in the data."""
        for table, entity in FIELD_ENTITIES.items():
            # Organizations have no built-in website, industry or phone: they are account
            # fields (added below), never standard ones as well.
            defs = [field_to_v2(table, f) for f in standard[table]
                    if not (table == "companies" and f["name"] in ORG_ACCOUNT_FIELDS)
                    and not (table == "contacts" and f["name"] in PERSON_ACCOUNT_FIELDS)]
            if table == "contacts":
                segments = self._options_for("contacts", "label_ids", [c.get("segments") or [] for c in table_rows["contacts"]])
                if not any(d["field_code"] == "label_ids" for d in defs):
                    defs.append({"field_name": "Labels", "field_code": "label_ids", "field_type": "set",
                                 "is_custom_field": False, "is_optional_response_field": False,
                                 "options": segments, "subfields": None})
                else:
                    for d in defs:
                        if d["field_code"] == "label_ids":
                            d["options"], d["field_type"] = segments, "set"
            if table == "companies":
                # Website / Industry / Phone are account fields in Pipedrive (keyed by hash).
                for column, label in ORG_ACCOUNT_FIELDS.items():
                    defs.append({"field_name": label, "field_code": field_hash(table, column),
                                 "field_type": "varchar", "is_custom_field": True,
                                 "is_optional_response_field": False, "options": None, "subfields": None})
            for f in self.custom[table]:
                opts = None
                values = [r.get(f["name"]) for r in table_rows[table]]
                if f.get("type") in ENUM_TYPES:
                    opts = self._options_for(table, f["name"], values) or None
                multi = any(isinstance(v, (list, tuple)) for v in values)
                defs.append(field_to_v2(table, f, opts, multi=multi))
            self.entities[f"{entity}Fields"] = defs

    def pipeline_id(self, deal: dict) -> int | None:
        return self.pipeline_ids.get(clean(deal.get("pipeline")))

    def stage_id(self, deal: dict) -> int | None:
        """The stage a canonical deal is in (for a deal added or changed after the build)."""
        ref = clean(deal.get("stage"))
        key = (self.deal_stage.get(str(deal["id"])) or self.stage_key_by_id.get(str(ref))
               or (clean(deal.get("pipeline")), ref))
        stage = self.stages.get(key)
        return stage["id"] if stage else None

    def custom_fields(self, table: str, row: dict) -> dict:
        """``row``'s custom columns as the v2 ``custom_fields`` of its record."""
        return encode_custom(table, row, self.custom[table], self.options.get(table, {}))

    def _build_activities(self, activities: list[dict]) -> None:
        fields = self.custom["activities"]
        self.entities["activities"] = [
            mapping.row_to_activity(a, self.custom_fields("activities", a) if fields else None) for a in activities
        ]

    def _build_notes(self, notes: list[dict]) -> None:
        self.entities["notes"] = [mapping.row_to_note(a) for a in notes]

    def _build_organizations(self, companies: list[dict]) -> None:
        self.entities["organizations"] = [
            mapping.row_to_organization(c, self.custom_fields("companies", c)) for c in companies
        ]

    def _build_persons(self, contacts: list[dict], last_activity: dict) -> None:
        label_ids = self.options.get("contacts", {}).get("label_ids", {})
        persons = []
        for c in contacts:
            person = mapping.row_to_person(c, self.custom_fields("contacts", c), label_ids)
            person["_last_activity_id"] = last_activity.get(("contact", str(c["id"])), (None, c.get("last_activity_at")))
            persons.append(person)
        self.entities["persons"] = persons

    def _build_leads(self, contacts: list[dict], companies: list[dict]) -> None:
        """The lead that brought each sourced contact and company in, added when the record
        was: the recent ones open, the others archived (two lists in Pipedrive)."""
        leads = [lead for lead in (lead_for("person", c, int(c["id"])) for c in contacts) if lead]
        leads += [lead for lead in (lead_for("organization", c, int(c["id"])) for c in companies) if lead]
        times = [utc_datetime(lead["add_time"]) for lead in leads if lead["add_time"]]
        newest = max(times) if times else None
        for lead in leads:
            added = utc_datetime(lead["add_time"])
            lead["is_archived"] = not (newest and added and (newest - added).days < OPEN_LEAD_DAYS)
        leads.sort(key=lambda lead: (lead["add_time"] or "", lead["id"]))  # oldest first, as Pipedrive sorts them
        self.entities["leads"] = [lead for lead in leads if not lead["is_archived"]]
        self.entities["leads/archived"] = [lead for lead in leads if lead["is_archived"]]

    def add_lead(self, kind: str, row: dict) -> None:
        """The lead of a contact or company added after the build (replaced if it had one)."""
        lead = lead_for(kind, row, int(row["id"]))
        for name in ("leads", "leads/archived"):
            self.entities[name] = [x for x in self.entities.get(name, []) if lead is None or x["id"] != lead["id"]]
        if lead is not None:
            lead["is_archived"] = False
            self.entities["leads"].append(lead)

    def _build_deals(self, deals: list[dict], pipeline_ids: dict, stages: dict, last_activity: dict) -> None:
        out = []
        for d in deals:
            stage = stages.get(self.deal_stage.get(str(d["id"]), (clean(d.get("pipeline")), clean(d.get("stage")))))
            deal = mapping.row_to_deal(d, self.custom_fields("deals", d), pipeline_ids.get(clean(d.get("pipeline"))),
                                       stage["id"] if stage else None)
            deal["_last_activity_id"] = last_activity.get(("deal", str(d["id"])), (None, d.get("last_activity_at")))
            out.append(deal)
        self.entities["deals"] = out


def _activity_time(a: dict):
    return utc_datetime(a.get("due_at")) or utc_datetime(a.get("completed_at")) or utc_datetime(a.get("created_at"))


def _last_activities(activities: list[dict]) -> dict:
    """(kind, id) -> (activity id, time): Pipedrive's ``last_activity_id`` is the latest
    *done* activity linked to the record."""
    out: dict = {}
    for a in activities:
        if not clean(a.get("is_done")):
            continue
        when = _activity_time(a)
        if when is None:
            continue
        for kind, column in (("contact", "contact_id"), ("deal", "deal_id")):
            ref = clean(a.get(column))
            if ref is None:
                continue
            key = (kind, str(ref))
            if key not in out or when > out[key][1]:
                out[key] = (int(a["id"]), when)
    return out
