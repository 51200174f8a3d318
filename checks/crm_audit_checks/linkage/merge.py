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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from crm_audit_core import Message

from .. import matching
from ..i18n import _

KEEP_RULES = ("most complete", "most activity", "oldest")


@dataclass(frozen=True)
class Plan:
    keeper: matching.Keeper
    merge: tuple[str, ...]  # ids merged into the keeper
    carry_over: dict = field(default_factory=dict)  # field -> (from id, value as text)

    def rows(self, group: int) -> list[dict]:
        """Rows of the merge-plan table: one per record merged into the keeper."""
        values = [_("{field} from {record}: {value}", field=f, record=src, value=value)
                  for f, (src, value) in sorted(self.carry_over.items())]
        carried = Message.join(values, "; ")
        return [{"group": group, "keep_id": self.keeper.id, "merge_id": rid, "keep_rule": self.keeper.rule,
                 "carry_over": carried} for rid in self.merge]


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
