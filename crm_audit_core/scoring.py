"""The score: 0-100 overall and per area, weighted by severity and by the share affected.

For every result that counts (status ``pass`` or ``fail``, severity not ``info``, not
accepted as a risk):

    weight  = SEVERITY_WEIGHTS[severity]                       (critical 10 ... low 1)
    share   = affected / population   (1 when the check examined no population)
    impact  = 0                                   if the check passed
            = FLOOR + (1 - FLOOR) * min(1, share / SATURATION)   if it failed

    area score    = 100 * (1 - sum(weight * impact) / sum(weight))   over the area's results
    overall score = 100 * (1 - sum(weight * impact) / sum(weight))   over all results

A failed check always costs at least FLOOR (a quarter) of its weight, and its whole
weight once SATURATION (25%) or more of the records it examined are affected. Skipped
and errored checks do not count (they are listed, never silently passed). See
docs/scoring.md for a worked example.
"""

from __future__ import annotations

from .findings import Result
from . import model

SEVERITY_WEIGHTS = {"critical": 10, "high": 5, "medium": 3, "low": 1, "info": 0}
FLOOR = 0.25
SATURATION = 0.25


def impact(result: Result) -> float:
    if result.status != "fail":
        return 0.0
    counted = [i for i in result.affected.ids if i not in set(result.accepted_ids)] if result.accepted_ids else result.affected.ids
    if result.affected.ids and not counted:
        return 0.0
    population = result.affected.population
    share = 1.0 if not population else min(1.0, len(counted) / population)
    return FLOOR + (1 - FLOOR) * min(1.0, share / SATURATION)


def counts(result: Result) -> bool:
    return result.status in ("pass", "fail") and SEVERITY_WEIGHTS.get(result.severity, 0) > 0 and not result.accepted


def _score(results: list[Result]) -> float | None:
    total = sum(SEVERITY_WEIGHTS[r.severity] for r in results)
    if total == 0:
        return None
    lost = sum(SEVERITY_WEIGHTS[r.severity] * impact(r) for r in results)
    return round(100.0 * (1.0 - lost / total), 1)


def score(results: list[Result]) -> dict:
    counted = [r for r in results if counts(r)]
    areas = {}
    for area in model.AREAS:
        value = _score([r for r in counted if r.area == area])
        if value is not None:
            areas[area] = value
    return {"overall": _score(counted), "areas": areas}
