"""The Fellegi-Sunter model the duplicate checks learn per tenant: u, m, lambda, weights, probabilities.

Each candidate pair of records is described by a comparison vector: for every
comparison (first name, e-mail, postcode, an identifier, ...) the *level* at which the
two values agree, ``0`` (they differ) up to the comparison's top level (identical), or
:data:`NULL` when either value is missing (no evidence either way). The model holds,
per comparison and level,

* ``u``: how often two *different* records agree at that level, measured on random
  pairs of the tenant's records (random pairs are almost all non-matches);
* ``m``: how often two records of the *same* customer agree at that level, estimated by
  expectation maximisation (EM) on the blocked candidate pairs, with ``u`` held fixed;

and ``lambda``, the probability that two random records are one customer. A level's
weight is ``log2(m / u)`` bits: positive when agreeing there is evidence *for* a match,
negative when it is evidence against (different e-mails, a contradicting identifier),
so contradicting evidence lowers the score instead of vetoing it. The top level of a
comparison with term frequencies uses ``log2(m / tf(value))`` instead of ``u``: two
records named *Kim* agree more often by chance than two named *Wibisono*. The match
probability of a pair is ``sigmoid(log2 odds)`` with ``log2 odds = log2(lambda /
(1 - lambda)) + sum of weights``.

Tiny tenants (too few pairs for EM to say anything) and failed fits fall back to the
documented priors of each comparison (``prior_m``), and the model says so in ``note``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..i18n import _, ngettext

NULL = -1  # a comparison without a value on either side: weight 0

# EM needs enough candidate pairs, and enough of them agreeing somewhere, to separate
# matches from non-matches; below these the documented priors are used.
MIN_PAIRS_FOR_EM = 200
MIN_RECORDS_FOR_U = 200
# Pseudo-counts that pull the estimates towards the priors (Dirichlet smoothing): a
# level never seen among the random pairs does not get an infinite weight.
U_PSEUDO_PAIRS = 20.0
U_FLOOR_SHARE = 0.1
MIN_ANCHORED = 30  # certain pairs needed to read a comparison's m from them
M_PSEUDO_PAIRS = 20.0
# Without EM: the share of records assumed to have a duplicate (for lambda).
PRIOR_DUPLICATE_SHARE = 0.02
EM_MAX_ITERATIONS = 40
# lambda is at most this many times the share of certain pairs among all pairs (the
# certain pairs are assumed to be at least a quarter of the duplicates).
LAMBDA_BOUND = 4.0
EM_TOLERANCE = 1e-4
# A weight is at most this many bits either way (one field never decides alone).
MAX_BITS = 24.0


@dataclass(frozen=True)
class Comparison:
    """One comparison of a pair of records, with its levels and documented priors.

    ``levels`` name the levels from 0 (the values differ) to the top (identical);
    ``prior_m`` / ``prior_u`` are the probabilities of each level among matching and
    non-matching pairs used when the tenant's data cannot be fitted; ``tf`` turns on
    the term-frequency adjustment of the top level; ``identity`` marks comparisons that
    are evidence beyond a name (a pair must agree on at least one of them).
    """

    name: str
    label: str
    levels: tuple[str, ...]
    prior_m: tuple[float, ...]
    prior_u: tuple[float, ...]
    tf: bool = False
    identity: bool = True

    def __post_init__(self) -> None:
        if not (len(self.levels) == len(self.prior_m) == len(self.prior_u)):
            raise ValueError(f"comparison {self.name}: levels and priors differ in length")


@dataclass
class Model:
    """A trained (or prior) Fellegi-Sunter model: per comparison m and u per level, and lambda."""

    comparisons: list[Comparison]
    m: list[np.ndarray]
    u: list[np.ndarray]
    lam: float  # probability that two random records match
    trained: str  # "em" or "priors"
    note: str = ""
    iterations: int = 0
    blocked_match_share: float | None = None
    prior_fallbacks: list[str] = field(default_factory=list)
    use_tf: bool = True  # False for a tenant too small for term frequencies to mean anything
    anchored: list[str] = field(default_factory=list)  # comparisons whose m was read from certain pairs

    def level_weights(self) -> list[np.ndarray]:
        """log2(m / u) per comparison and level, clipped to +-MAX_BITS."""
        return [np.clip(np.log2(m / u), -MAX_BITS, MAX_BITS) for m, u in zip(self.m, self.u)]

    @property
    def prior_bits(self) -> float:
        return math.log2(self.lam / (1.0 - self.lam))

    def describe(self) -> dict:
        """JSON-able parameters for the report (m, u and weight per level)."""
        weights = self.level_weights()
        out = {"trained": self.trained, "lambda": float(f"{self.lam:.3g}"), "prior_bits": round(self.prior_bits, 2),
               "em_iterations": self.iterations, "comparisons": {}}
        if self.note:
            out["note"] = self.note
        if self.anchored:
            out["learned_from_certain_pairs"] = list(self.anchored)
        if self.blocked_match_share is not None:
            out["blocked_match_share"] = round(self.blocked_match_share, 4)
        for c, m, u, w in zip(self.comparisons, self.m, self.u, weights):
            out["comparisons"][c.name] = {
                level: {"m": round(float(mi), 4), "u": float(f"{ui:.3g}"), "bits": round(float(wi), 2)}
                for level, mi, ui, wi in zip(c.levels, m, u, w)
            }
        return out


def _level_counts(gammas: np.ndarray, column: int, levels: int, weights: np.ndarray | None = None) -> np.ndarray:
    g = gammas[:, column]
    present = g >= 0
    return np.bincount(g[present], weights=None if weights is None else weights[present], minlength=levels)[:levels]


def estimate_u(comparisons: list[Comparison], random_gammas: np.ndarray,
               random_counts: np.ndarray | None = None) -> list[np.ndarray]:
    """u per comparison from the levels of random pairs, smoothed towards the prior
    (``random_counts``: how many pairs each row of ``random_gammas`` stands for)."""
    out = []
    for j, c in enumerate(comparisons):
        prior = np.asarray(c.prior_u, float)
        counts = (_level_counts(random_gammas, j, len(c.levels), random_counts) if len(random_gammas)
                  else np.zeros(len(c.levels)))
        u = (counts + U_PSEUDO_PAIRS * prior) / (counts.sum() + U_PSEUDO_PAIRS)
        # A level the sample (almost) never saw is not impossible by chance: at least a
        # tenth of its prior, so that no level weighs more than the priors allow.
        u = np.maximum(u, prior * U_FLOOR_SHARE)
        out.append(u / u.sum())
    return out


def _priors(comparisons: list[Comparison]) -> list[np.ndarray]:
    return [np.asarray(c.prior_m, float) for c in comparisons]


def prior_lambda(records: int) -> float:
    """lambda without EM: PRIOR_DUPLICATE_SHARE of the records have one duplicate."""
    total = max(records * (records - 1) / 2, 1.0)
    return min(max(PRIOR_DUPLICATE_SHARE * records / total, 1e-12), 0.5)


def train(comparisons: list[Comparison], blocked_gammas: np.ndarray, random_gammas: np.ndarray,
          records: int, sessions: list[tuple[np.ndarray, list[int]]] | None = None,
          certain_pairs: int | None = None, anchored: dict[int, np.ndarray] | None = None,
          blocked_counts: np.ndarray | None = None, random_counts: np.ndarray | None = None) -> Model:
    """Fit u on random pairs, m by EM on the blocked pairs, then lambda (priors when that cannot work).

    ``sessions`` are (row mask, comparison columns) of the EM runs: each run learns the m
    of its columns on its rows only, with the other comparisons left out of the
    likelihood, as splink does per blocking rule. Pairs chosen because their names agree
    teach the weights of everything but the names; pairs chosen because an e-mail, phone,
    company or address agrees teach the weights of the names. (One EM over all candidate
    pairs would learn "has the same name" or "works at the same company" as the match
    class, because those are what the blocking keys select.) Without sessions, one EM
    learns every comparison on all pairs.

    ``certain_pairs`` (pairs that agree on their names and on an e-mail, phone, identifier
    or street: duplicates beyond reasonable doubt) bounds lambda: the pairs that match are
    at most ``LAMBDA_BOUND`` times as many. Without the bound, a tenant with many
    look-alikes (namesakes in one city) gets a lambda that counts them as matches, which
    in turn lowers the bar for them.

    ``anchored`` maps a comparison to its level counts among pairs that are duplicates
    beyond reasonable doubt *by other comparisons* (see ``engine._anchors``); with at
    least ``MIN_ANCHORED`` such pairs, m is read from them directly instead of from EM
    (which, on a tenant full of namesakes, can mistake them for the duplicates).

    ``blocked_counts`` / ``random_counts``: how many pairs each row of ``blocked_gammas`` /
    ``random_gammas`` stands for. The checks pass each distinct comparison vector once with
    its count (grouped in SQL), so that EM costs the same for 10 thousand or 10 million pairs.
    """
    if blocked_counts is None:
        blocked_counts = np.ones(len(blocked_gammas))
    blocked_counts = np.asarray(blocked_counts, float)
    blocked_total = int(round(float(blocked_counts.sum())))
    u = estimate_u(comparisons, random_gammas, random_counts)
    total_pairs = max(records * (records - 1) / 2, 1.0)
    if records < MIN_RECORDS_FOR_U or blocked_total < MIN_PAIRS_FOR_EM:
        # Too few records for the random pairs (or the term frequencies) to mean anything either.
        u = [np.asarray(c.prior_u, float) for c in comparisons]
        return Model(comparisons, _priors(comparisons), u, prior_lambda(records), "priors", use_tf=False,
                     note=ngettext("{n} record and {pairs} candidate pairs are too few to learn the weights (EM "
                                   "needs {needed_pairs} pairs among {needed_records} records): the documented "
                                   "prior weights were used",
                                   "{n} records and {pairs} candidate pairs are too few to learn the weights (EM "
                                   "needs {needed_pairs} pairs among {needed_records} records): the documented "
                                   "prior weights were used",
                                   records, pairs=blocked_total, needed_pairs=MIN_PAIRS_FOR_EM,
                                   needed_records=MIN_RECORDS_FOR_U))
    if sessions is None:
        sessions = [(np.ones(len(blocked_gammas), dtype=bool), list(range(len(comparisons))))]
    m = _priors(comparisons)
    fallbacks, iterations = [], 0
    for mask, columns in sessions:
        rows, weights = blocked_gammas[mask], blocked_counts[mask]
        if weights.sum() < MIN_PAIRS_FOR_EM // 4 or not columns:
            fallbacks.extend(comparisons[j].name for j in columns)
            continue
        learned, _lam, used = _em(comparisons, rows, u, columns, weights)
        iterations += used
        for j in columns:
            if _plausible(learned[j], u[j]):
                m[j] = _cap_disagreement(learned[j], comparisons[j])
            else:
                fallbacks.append(comparisons[j].name)
    anchored_names = []
    for j, counts in (anchored or {}).items():
        if counts.sum() >= MIN_ANCHORED:
            prior = np.asarray(comparisons[j].prior_m, float)
            direct = (counts + M_PSEUDO_PAIRS * prior) / (counts.sum() + M_PSEUDO_PAIRS)
            if _plausible(direct, u[j]):
                m[j] = _cap_disagreement(direct, comparisons[j])
                anchored_names.append(comparisons[j].name)
                if comparisons[j].name in fallbacks:
                    fallbacks.remove(comparisons[j].name)
    lam_b = _lambda_em(m, u, blocked_gammas, blocked_counts)
    if not (0.0 < lam_b < 1.0):
        return Model(comparisons, _priors(comparisons), u, prior_lambda(records), "priors",
                     note=_("EM on {pairs} candidate pairs did not settle (share of matches {share}): the "
                            "documented prior weights were used", pairs=blocked_total, share=float(lam_b)),
                     iterations=iterations)
    lam = min(max(lam_b * blocked_total / total_pairs, 1e-15), 0.5)
    if certain_pairs:
        lam = min(lam, LAMBDA_BOUND * certain_pairs / total_pairs)
    note = ""
    if fallbacks:
        note = _("the weights of {comparisons} could not be learned from this tenant (too few candidate pairs, "
                 "or a fit that does not describe duplicates): their documented prior weights were used",
                 comparisons=sorted(set(fallbacks)))
    return Model(comparisons, m, u, lam, "em", note=note, iterations=iterations, blocked_match_share=lam_b,
                 prior_fallbacks=sorted(set(fallbacks)), anchored=sorted(anchored_names))


def _plausible(m: np.ndarray, u: np.ndarray) -> bool:
    """A fitted comparison is kept only when it describes duplicates: agreeing exactly is
    evidence for a match, and the most common way for two records of one customer to agree
    (typos and partial agreements are rarer than identical values). EM that learned
    something else (look-alikes in one city as the "match" class, who share a street
    name but not a house number) keeps the prior instead."""
    if not np.all(np.isfinite(m)) or m[-1] <= u[-1]:
        return False
    return len(m) <= 2 or bool(m[-1] >= np.max(m[1:-1]))


def _cap_disagreement(m: np.ndarray, comparison: Comparison) -> np.ndarray:
    """m with its "different" level at most the documented prior's.

    Where a tenant has (almost) no duplicates, EM cannot tell matches from look-alikes
    and may learn that matches often differ (namesakes at different companies become
    the "match" class); contradicting evidence then weighs nothing. The prior is the
    floor of how much a contradiction counts: it may weigh more, never less.
    """
    cap = comparison.prior_m[0]
    if m[0] <= cap:
        return m
    rest = m[1:] / m[1:].sum() * (1.0 - cap) if m[1:].sum() > 0 else np.asarray(comparison.prior_m[1:], float)
    return np.concatenate([[cap], rest])


def _log_odds(m, u, gammas, columns, lam):
    log_odds = np.full(len(gammas), math.log(lam / (1 - lam)))
    for j in columns:
        g = gammas[:, j]
        present = g >= 0
        index = np.where(present, g, 0)
        log_odds += np.where(present, np.log(m[j])[index] - np.log(u[j])[index], 0.0)
    return log_odds


def _em(comparisons, gammas, u, columns, weights=None):
    """EM with u fixed over ``columns``: (m per comparison, share of matches, iterations);
    ``weights``: how many pairs each row of ``gammas`` stands for."""
    m = _priors(comparisons)
    lam = 0.3
    weights = np.ones(len(gammas)) if weights is None else weights
    total = float(weights.sum())
    for iteration in range(1, EM_MAX_ITERATIONS + 1):
        p = 1.0 / (1.0 + np.exp(-np.clip(_log_odds(m, u, gammas, columns, lam), -60, 60)))
        delta = 0.0
        for j in columns:
            c = comparisons[j]
            counts = _level_counts(gammas, j, len(c.levels), p * weights)
            prior = np.asarray(c.prior_m, float)
            new = (counts + M_PSEUDO_PAIRS * prior) / (counts.sum() + M_PSEUDO_PAIRS)
            delta = max(delta, float(np.max(np.abs(new - m[j]))))
            m[j] = new
        lam = min(max(float((p * weights).sum()) / total, 1e-9), 1 - 1e-9)
        if delta < EM_TOLERANCE:
            return m, lam, iteration
    return m, lam, EM_MAX_ITERATIONS


def _lambda_em(m, u, gammas, weights=None) -> float:
    """The share of matches among ``gammas`` with m and u fixed (EM on lambda alone)."""
    if not len(gammas):
        return 0.5
    weights = np.ones(len(gammas)) if weights is None else weights
    total = float(weights.sum())
    columns = list(range(gammas.shape[1]))
    base = _log_odds(m, u, gammas, columns, 0.5)
    lam = 0.1
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(base + math.log(lam / (1 - lam)), -60, 60)))
        new = min(max(float((p * weights).sum()) / total, 1e-9), 1 - 1e-9)
        if abs(new - lam) < 1e-7:
            return new
        lam = new
    return lam


def pair_weights(model: Model, gammas: np.ndarray, tf: np.ndarray | None = None) -> np.ndarray:
    """Bits per pair and comparison (0 where NULL); ``tf`` holds, where not NaN, the
    term frequency of the shared value for pairs at the top level."""
    weights = model.level_weights()
    out = np.zeros(gammas.shape, float)
    for j, c in enumerate(model.comparisons):
        g = gammas[:, j]
        present = g >= 0
        out[present, j] = weights[j][g[present]]
        if c.tf and tf is not None and model.use_tf:
            top = (g == len(c.levels) - 1) & ~np.isnan(tf[:, j])
            if top.any():
                m_top = model.m[j][-1]
                out[top, j] = np.clip(np.log2(m_top / np.maximum(tf[top, j], 1e-12)), -MAX_BITS, MAX_BITS)
    return out


def probabilities(model: Model, weights: np.ndarray) -> np.ndarray:
    """Match probability per pair from its weights."""
    bits = model.prior_bits + weights.sum(axis=1)
    return 1.0 / (1.0 + np.exp2(-np.clip(bits, -200, 200)))
