"""Merge plans: which record of a duplicate group to keep, and which values to carry over to it.

The keeper is chosen by a configurable rule (the checks' ``keep`` setting):

* ``most complete``: the most fields filled;
* ``most activity``: the most activities (calls, e-mails, meetings, tasks) linked to it;
* ``oldest``: the earliest ``created_at`` (the original record; integrations' copies are newer).

Ties go to the most recently updated record, then the lowest id. The plan lists, for
every field the keeper lacks, the value of the most recently updated other record that
has it: what a CRM's merge tool asks ("which value wins") and what an API merge call
(Salesforce ``merge``, HubSpot ``POST /crm/v3/objects/contacts/merge``, Pipedrive
``PUT /persons/{id}/merge``) needs besides the two ids. The audit writes nothing to the CRM.

:func:`table` lays the plans of all groups out as the ``merge-plan-<object>`` attachment
(``fixlists/merge-plan-<object>.csv``): one row per record per group, the keeper first,
in the shape the CRMs' merge calls take (docs/checks/data.duplicate-contacts.md, "Merge plan").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence


from .. import matching

KEEP_RULES = ("most complete", "most activity", "oldest")

PLAN_COLUMNS = ["group", "action", "id", "keep_id", "keep_rule", "carry_over", "probability", "matched_with",
                "salesforce_call"]
# Salesforce's merge() takes a master record and up to two records to merge into it per request.
SALESFORCE_MERGE_BATCH = 2


@dataclass(frozen=True)
class Plan:
    keeper: matching.Keeper
    merge: tuple[str, ...]  # ids merged into the keeper
    carry_over: dict = field(default_factory=dict)  # field -> (from id, value as text)


def _stamp(value) -> datetime | None:
    return value if isinstance(value, datetime) else None


def choose_keeper(records: Sequence[dict], fields: Sequence[str], rule: str = "most complete",
                  activity: dict | None = None) -> matching.Keeper:
    """The record to keep by ``rule`` (see the module docstring); ties: most recent update, lowest id."""
    if rule not in KEEP_RULES:
        raise ValueError(f"keep rule {rule!r} is not one of {', '.join(KEEP_RULES)}")
    if rule == "most complete":
        return matching.choose_keeper(records, fields)

    def completeness(r):
        return sum(1 for f in fields if matching.filled(r.get(f)))

    def primary(r):
        if rule == "most activity":
            return (activity or {}).get(str(r["id"]), 0)
        created = _stamp(r.get("created_at"))
        return -created.timestamp() if created else float("-inf")

    best = max(primary(r) for r in records)
    top = [r for r in records if primary(r) == best]
    decided = rule
    if len(top) > 1:
        stamps = [_stamp(r.get("updated_at")) for r in top if _stamp(r.get("updated_at"))]
        newest = max(stamps) if stamps else None
        recent = [r for r in top if _stamp(r.get("updated_at")) == newest] if newest else top
        decided = "most recent" if len(recent) < len(top) else "lowest id"
        top = recent
    chosen = sorted(top, key=lambda r: matching._id_order(str(r["id"])))[0]
    return matching.Keeper(id=str(chosen["id"]), filled=completeness(chosen), fields=len(fields),
                           updated_at=_stamp(chosen.get("updated_at")), rule=decided)


def plan(records: Sequence[dict], fields: Sequence[str], keeper: matching.Keeper) -> Plan:
    """The merge plan of one group once its keeper is chosen."""
    by_id = {str(r["id"]): r for r in records}
    keep = by_id[keeper.id]
    others = sorted((r for rid, r in by_id.items() if rid != keeper.id),
                    key=lambda r: (_stamp(r.get("updated_at")) or datetime.min), reverse=True)
    carry = {}
    for name in fields:
        if matching.filled(keep.get(name)):
            continue
        for other in others:
            if matching.filled(other.get(name)):
                carry[name] = (str(other["id"]), str(other[name]))
                break
    return Plan(keeper=keeper, merge=tuple(sorted((rid for rid in by_id if rid != keeper.id), key=matching._id_order)),
                carry_over=carry)


def table(object_: str, groups: list[list[str]], plans: dict, pairs: dict) -> dict:
    """The ``merge-plan-<object>`` attachment of a duplicate check.

    One row per record per group (groups numbered from 1 as in report.json): the keeper
    (action ``keep``) then the records to merge into it (``merge``), each with the keeper's
    id, the rule that chose it, ``carry_over`` (``field=value`` pairs, ``; ``-separated, of
    the values this record gives the keeper where the keeper's field is empty), the match
    probability of the pair that linked it into the group (``matched_with``: the keeper,
    or the record it was matched with when the keeper was reached through it) and its
    ``salesforce_call`` (merge requests of one master and up to two records).

    ``plans``: group index -> :class:`Plan`; ``pairs``: group index -> pairs with ``a``,
    ``b`` and ``probability`` (none for deals, which are matched by rules).
    """
    rows = []
    for index, group in enumerate(groups):
        plan = plans.get(index)
        if plan is None:
            continue
        keeper = plan.keeper.id
        best: dict[str, tuple[float, str]] = {}
        for pair in pairs.get(index, []):
            for one, other in ((pair.a, pair.b), (pair.b, pair.a)):
                score = (other == keeper, pair.probability)
                if one not in best or score > best[one][0]:
                    best[one] = (score, other)
        rows.append([index + 1, "keep", keeper, keeper, plan.keeper.rule, "", None, None, None])
        for position, rid in enumerate(plan.merge):
            carried = "; ".join(f"{name}={value}" for name, (source, value) in sorted(plan.carry_over.items())
                                if source == rid)
            probability, matched = None, None
            if rid in best:
                (_direct, p), matched = best[rid]
                probability = round(p, 4)
            rows.append([index + 1, "merge", rid, keeper, plan.keeper.rule, carried, probability, matched,
                         position // SALESFORCE_MERGE_BATCH + 1])
    return {"name": f"merge-plan-{object_}", "columns": list(PLAN_COLUMNS), "rows": rows, "object": object_,
            "id_column": "id"}
