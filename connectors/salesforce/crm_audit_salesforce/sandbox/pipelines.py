"""The sandbox's pipelines: Opportunity record types, their StageName picklists and the
User Interface API resource that serves them.

A canonical tenant's stages belong to pipelines; Salesforce holds each stage name once,
org-wide (``OpportunityStage``), and a pipeline as an Opportunity record type whose
StageName picklist offers some of them, in the picklist's order. So the builder makes one
``OpportunityStage`` per stage name, with a ``SortOrder`` that keeps every pipeline's
order (a merge of the pipelines' orders), one ``RecordType`` per pipeline (of the stages,
then of the deals), and each record type's picklist: its stages' names by position.
Stages without a pipeline are the master record type's (``012000000000000AAA``), whose
picklist, as in Salesforce, offers every active value.

``org.stage_keys`` maps each canonical stage id to the id the connector gives its row
(:func:`crm_audit_salesforce.mapping.stage_key`), for the round-trip tests.

``GET /services/data/vXX.X/ui-api/object-info/{object}/picklist-values/{recordTypeId}/{field}``
(API 41.0 and later) answers ``{"controllerValues": {}, "defaultValue", "eTag", "url",
"values": [{"attributes", "label", "validFor": [], "value"}]}``; StageName values carry
Salesforce's Opportunity stage attributes (``closed``, ``defaultProbability``,
``forecastCategoryName``, ``won``). A user without access gets 403 ``INSUFFICIENT_ACCESS``
(``SalesforceSandbox(..., ui_api=False)``), an unknown object, field or record type 404.
"""

from __future__ import annotations

import re
from typing import Any

from crm_audit_core.sandbox.server import tenant_rows

from .. import mapping as m
from .org import Org
from .responses import error, json_response

UI_API_SINCE = 41.0
_PICKLIST_PATH = re.compile(r"^ui-api/object-info/(\w+)/picklist-values/(\w+)/(\w+)$")


def _sort_order(stages: list[dict]) -> dict[str, int]:
    """One org-wide rank per stage name that keeps each pipeline's order where the
    pipelines agree (stable topological merge; ties by position, then first seen)."""
    names: dict[str, tuple[int, int]] = {}
    after: dict[str, set[str]] = {}
    by_pipeline: dict[Any, list[dict]] = {}
    for i, s in enumerate(stages):
        name = s.get("name")
        if name is None:
            continue
        names.setdefault(name, (int(s.get("position") or 0), i))
        by_pipeline.setdefault(s.get("pipeline"), []).append(s)
    for rows in by_pipeline.values():
        ordered = [r["name"] for r in sorted(rows, key=lambda r: int(r.get("position") or 0)) if r.get("name")]
        for a, b in zip(ordered, ordered[1:]):
            if a != b:
                after.setdefault(b, set()).add(a)
    rank: dict[str, int] = {}
    pending = set(names)
    while pending:
        ready = [n for n in pending if not (after.get(n, set()) & pending)]
        if not ready:  # the pipelines disagree: take the earliest by position
            ready = [min(pending, key=lambda n: names[n])]
        pick = min(ready, key=lambda n: names[n])
        rank[pick] = len(rank) + 1
        pending.discard(pick)
    return rank


def add_pipelines(org: Org, ids: Any, tenant: Any, deals: list[dict], as_of: str | None) -> None:
    """OpportunityStage, RecordType and the StageName picklists (see the module docstring)."""
    stages = tenant_rows(tenant, "stages")
    org.add_object("OpportunityStage")
    org.add_object("RecordType")
    rank = _sort_order(stages)
    by_name: dict[str, dict] = {}
    for row in stages:
        name = row.get("name")
        if name is None or name in by_name:
            continue  # Salesforce stage names are org-wide
        by_name[name] = org.add("OpportunityStage", {
            "Id": ids[row["id"]], "MasterLabel": name, "ApiName": name, "SortOrder": rank[name], "IsActive": True,
            "IsClosed": bool(row.get("is_closed")), "IsWon": bool(row.get("is_won"))})
    org.stage_names = {str(s["id"]): s.get("name") for s in stages}
    pipelines = [s.get("pipeline") for s in stages] + [d.get("pipeline") for d in deals]
    for p in dict.fromkeys(p for p in pipelines if p):
        org.add("RecordType", {"Id": ids.new("RecordType"), "Name": p, "DeveloperName": re.sub(r"\W", "_", str(p)),
                               "SobjectType": "Opportunity", "IsActive": True, "CreatedDate": as_of,
                               "LastModifiedDate": as_of})
    types = record_types(org)
    org.picklists = {}
    for p, rt in types.items():
        names = [s["name"] for s in sorted((s for s in stages if s.get("pipeline") == p and s.get("name")),
                                           key=lambda s: int(s.get("position") or 0))]
        names += [org.stage_names.get(str(d.get("stage"))) for d in deals if d.get("pipeline") == p]
        org.picklists[rt] = _ordered(org, names)
    org.stage_keys = {}
    for s in stages:
        if s.get("name") in by_name:
            rt = types.get(s.get("pipeline")) if s.get("pipeline") else None
            org.stage_keys[str(s["id"])] = m.stage_key(by_name[s["name"]]["Id"], rt)


def _ordered(org: Org, names: list) -> list[str]:
    """Stage names once each, in the picklist's (SortOrder) order."""
    order = {s["ApiName"]: s["SortOrder"] for s in org.records["OpportunityStage"]}
    return sorted({n for n in names if n in order}, key=lambda n: order[n])


def record_types(org: Org) -> dict[str, str]:
    """Pipeline name -> its Opportunity record type id."""
    return {t["Name"]: t["Id"] for t in org.records.get("RecordType", []) if t.get("SobjectType") == "Opportunity"}


def picklist(org: Org, record_type_id: str) -> list[str] | None:
    """A record type's StageName values; the master record type offers every active one."""
    if record_type_id == m.MASTER_RECORD_TYPE:
        return [s["ApiName"] for s in sorted(org.records.get("OpportunityStage", []), key=lambda s: s["SortOrder"])
                if s.get("IsActive")]
    return org.picklists.get(record_type_id)


def picklist_values(org: Org, rest: str, version: str, allowed: bool):
    """The UI API picklist-values answer for ``rest`` (the path after ``vXX.X/``), or None
    when ``rest`` is not that resource."""
    match = _PICKLIST_PATH.match(rest)
    if not match:
        return None
    if float(version) < UI_API_SINCE:
        return error(404, "NOT_FOUND", "The requested resource does not exist")
    if not allowed:
        return error(403, "INSUFFICIENT_ACCESS", "You don't have access to the User Interface API")
    obj, record_type_id, field = match[1], match[2], match[3]
    if obj != "Opportunity" or field != "StageName":
        return error(404, "NOT_FOUND", f"The sandbox serves the picklist values of Opportunity.StageName, "
                                       f"not {obj}.{field}")
    names = picklist(org, record_type_id)
    if names is None:
        return error(404, "NOT_FOUND", f"Invalid record type id: {record_type_id}")
    stages = {s["ApiName"]: s for s in org.records["OpportunityStage"]}
    values = [{"attributes": {"closed": stages[n]["IsClosed"], "defaultProbability": 100.0 if stages[n]["IsWon"]
                              else (0.0 if stages[n]["IsClosed"] else 50.0),
                              "forecastCategoryName": "Closed" if stages[n]["IsWon"] else
                              ("Omitted" if stages[n]["IsClosed"] else "Pipeline"),
                              "won": stages[n]["IsWon"]},
               "label": stages[n]["MasterLabel"], "validFor": [], "value": n} for n in names]
    url = f"/services/data/v{version}/ui-api/object-info/{obj}/picklist-values/{record_type_id}/{field}"
    return json_response({"controllerValues": {}, "defaultValue": values[0] if values else None,
                          "eTag": f"{abs(hash(tuple(names))):x}", "url": url, "values": values})
