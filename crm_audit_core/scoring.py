"""The score: 0-100 overall, per area and per tenant, weighted by severity and by the share
affected, and always given with its coverage (how much of the audit it stands on).

A result is *applicable* when its severity weighs (not ``info``); it is *judged* when it
passed or failed on something: status ``fail``, or ``pass`` over a population that was not
empty (a pass over 0 records, "0 of 0", judged nothing). For every judged, applicable
result not accepted as a risk:

    weight  = SEVERITY_WEIGHTS[severity]                       (critical 10 ... low 1)
    share   = affected / population   (1 when the check examined no population)
    impact  = 0                                   if the check passed
            = FLOOR + (1 - FLOOR) * min(1, share / SATURATION)   if it failed

    area score    = 100 * (1 - sum(weight * impact) / sum(weight))   over the area's results
    overall score = 100 * (1 - sum(weight * impact) / sum(weight))   over all results

A failed check always costs at least FLOOR (a quarter) of its weight, and its whole
weight once SATURATION (25%) or more of the records it examined are affected. Skipped
and errored checks do not count (they are listed, never silently passed); a check that
is ``not-applicable`` (for other CRMs than the tenant's) is not even applicable.

Coverage: ``checks_run`` (judged) of ``checks_applicable`` (one per check and tenant),
and ``records_judged`` (per tenant and object, the largest population a judged check
examined, summed). A score whose checks_run is below MIN_COVERAGE of its
checks_applicable is None, shown as ``n/a``: too little of the audit ran for a number
to mean anything. See docs/scoring.md for a worked example.
"""

from __future__ import annotations

from .findings import Result
from . import model

SEVERITY_WEIGHTS = {"critical": 10, "high": 5, "medium": 3, "low": 1, "info": 0}
FLOOR = 0.25
SATURATION = 0.25
MIN_COVERAGE = 0.25
"""A score (overall, an area's, a tenant's) needs at least this share of its applicable
checks judged; below it the score is None (``n/a``)."""


def impact(result: Result) -> float:
    if result.status != "fail":
        return 0.0
    counted = [i for i in result.affected.ids if i not in set(result.accepted_ids)] if result.accepted_ids else result.affected.ids
    if result.affected.ids and not counted:
        return 0.0
    population = result.affected.population
    share = 1.0 if not population else min(1.0, len(counted) / population)
    return FLOOR + (1 - FLOOR) * min(1.0, share / SATURATION)


def applicable(result: Result) -> bool:
    """The result could weigh in the score: its severity is not ``info`` and the check
    applies to the tenant's CRM (not ``not-applicable``)."""
    return result.status != "not-applicable" and SEVERITY_WEIGHTS.get(result.severity, 0) > 0


def judged(result: Result) -> bool:
    """The check failed, or passed over records it examined (a pass over 0 of 0 judged nothing)."""
    if result.status == "fail":
        return True
    return result.status == "pass" and result.affected.population != 0


def counts(result: Result) -> bool:
    """The result weighs in the score: applicable, judged and not accepted as a risk."""
    return applicable(result) and judged(result) and not result.accepted


def coverage(results: list[Result]) -> dict:
    """``{checks_run, checks_applicable, records_judged, threshold}`` over ``results``."""
    run = [r for r in results if applicable(r) and judged(r)]
    largest: dict[tuple[str, str], int] = {}
    for r in run:
        if r.affected.population:
            key = (r.tenant, r.affected.object or "")
            largest[key] = max(largest.get(key, 0), r.affected.population)
    return {"checks_run": len(run), "checks_applicable": sum(1 for r in results if applicable(r)),
            "records_judged": sum(largest.values()), "threshold": MIN_COVERAGE}


def enough(cov: dict) -> bool:
    """Coverage at or above the threshold (and at least one check judged)."""
    run, total = cov.get("checks_run", 0), cov.get("checks_applicable", 0)
    return run > 0 and total > 0 and run / total >= cov.get("threshold", MIN_COVERAGE)


def _score(results: list[Result]) -> float | None:
    total = sum(SEVERITY_WEIGHTS[r.severity] for r in results)
    if total == 0:
        return None
    lost = sum(SEVERITY_WEIGHTS[r.severity] * impact(r) for r in results)
    return round(100.0 * (1.0 - lost / total), 1)


def _scored(results: list[Result]) -> tuple[float | None, dict]:
    cov = coverage(results)
    value = _score([r for r in results if counts(r)]) if enough(cov) else None
    return value, cov


def _one(results: list[Result]) -> dict:
    overall, cov = _scored(results)
    areas, area_coverage = {}, {}
    for area in model.AREAS:
        value, acov = _scored([r for r in results if r.area == area])
        if acov["checks_applicable"]:
            area_coverage[area] = {"checks_run": acov["checks_run"], "checks_applicable": acov["checks_applicable"]}
        if value is not None:
            areas[area] = value
    cov["areas"] = area_coverage
    return {"overall": overall, "areas": areas, "coverage": cov}


def score(results: list[Result]) -> dict:
    """report.json's ``score``: overall, areas, coverage, and the same per tenant.

    ``areas`` holds only the areas with a score; ``coverage.areas`` every area with an
    applicable check, so a report can show an area's ``n/a`` with its coverage.
    """
    out = _one(results)
    tenants = list(dict.fromkeys(r.tenant for r in results))
    out["tenants"] = {t: _one([r for r in results if r.tenant == t]) for t in tenants}
    return out


def tenant_scores(score_: dict, results: list[Result], tenants: list[str]) -> dict[str, dict]:
    """Each tenant's ``{overall, areas, coverage}``, from ``score_["tenants"]`` when the
    audit holds it; for audits archived before it did, computed from the results (a
    single-tenant audit keeps its archived overall score and coverage, if any)."""
    stored = (score_ or {}).get("tenants")
    if isinstance(stored, dict):
        return {t: stored.get(t) or {"overall": None, "areas": {}, "coverage": None} for t in tenants}
    if len(tenants) == 1:
        return {tenants[0]: {"overall": (score_ or {}).get("overall"), "areas": (score_ or {}).get("areas") or {},
                             "coverage": (score_ or {}).get("coverage")}}
    return {t: _one([r for r in results if r.tenant == t]) for t in tenants}


# -- text for the reports ---------------------------------------------------------


def value_text(value, lang: str = "en") -> str:
    """A score as shown: the number (one decimal, for ``lang``), or ``n/a`` in ``lang``."""
    from babel.numbers import format_decimal

    from .i18n import tr

    if value is None:
        return tr(lang, "n/a")
    return format_decimal(round(float(value), 1), format="0.0", locale=lang)


def coverage_text(cov: dict | None, *, records: bool = True, lang: str = "en") -> str:
    """``"36 of 49 checks judged, 2,000 records"``; ``""`` for audits archived without coverage."""
    from .i18n import ntr

    if not cov or "checks_applicable" not in cov:
        return ""
    run, total = int(cov.get("checks_run", 0)), int(cov["checks_applicable"])
    if records and "records_judged" in cov:
        return ntr(lang, "{run} of {total} checks judged, {n} record", "{run} of {total} checks judged, {n} records",
                   int(cov["records_judged"]), run=run, total=total)
    return ntr(lang, "{run} of {n} check judged", "{run} of {n} checks judged", total, run=run)


def why_not_scored(cov: dict | None, lang: str = "en") -> str:
    """Why a score is ``n/a``, in one phrase (empty when it has a number or no coverage is known)."""
    from .i18n import Percent, tr

    if not cov or "checks_applicable" not in cov or enough(cov):
        return ""
    if not cov["checks_applicable"]:
        return tr(lang, "no applicable check")
    threshold = cov.get("threshold", MIN_COVERAGE)
    return tr(lang, "fewer than {share} of the applicable checks were judged", share=Percent(threshold, 0))
