"""Train the model on a tenant's comparison vectors and explain the matching pairs.

:func:`train` takes the distinct comparison vectors of the candidate pairs and of a
sample of random pairs, each with its count (grouped in SQL by :mod:`.sqlscore`), and
fits u on the random pairs, m and lambda by EM on the candidate pairs (:mod:`.fs`);
:func:`explain` turns the pairs whose match probability reaches the threshold into
:class:`Pair` objects with the weight of every field that had a value on both sides.

The common-names guard: a pair is only a match when at least one comparison beyond the
names (e-mail, phone, company, address, an identifier) agrees with a positive weight. A
shared rare name alone is never enough, whatever its weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import fs, texts


@dataclass(frozen=True)
class Pair:
    """A matching pair with its probability and the evidence for and against it."""

    a: str
    b: str
    probability: float
    bits: float  # total log2 odds, prior included
    fields: tuple[tuple[str, str, float], ...]  # (comparison label, level name, bits), strongest first
    evidence: str  # the comparison beyond names that weighed most

    def explain(self) -> str:
        """Why the two records are one, for the reader (a translatable template, see :mod:`.texts`)."""
        return texts.pair(self.a, self.b, self.probability, self.fields)


@dataclass
class Linkage:
    model: fs.Model
    pairs: list[Pair]
    candidate_pairs: int
    comparisons: list[str]  # labels of the comparisons used (the evidence available)


def train(comparisons, gammas: np.ndarray, counts: np.ndarray, random_gammas: np.ndarray,
          random_counts: np.ndarray, population: int) -> fs.Model:
    """Train the model on the distinct comparison vectors of the candidate pairs (``gammas``,
    each standing for ``counts`` pairs) and of the random pairs (for u)."""
    names_ok = _names_agree(comparisons, gammas)
    # EM learns on the pairs that could match at all (names not entirely different):
    # colleagues with different names share a company, a city and a postcode, and
    # would otherwise be learned as the "match" class.
    g, c = gammas[names_ok], counts[names_ok]
    return fs.train(comparisons, g, random_gammas, population, _sessions(comparisons, g), _certain(comparisons, g, c),
                    _anchors(comparisons, g, c), blocked_counts=c, random_counts=random_counts)


def explain(model: fs.Model, rows) -> list[Pair]:
    """Pairs from rows ``(a, b, level of each comparison..., bits of each comparison...)``."""
    comparisons = model.comparisons
    k = len(comparisons)
    out = []
    for row in rows:
        levels, weights = row[2:2 + k], np.array(row[2 + k:2 + 2 * k], dtype=float)
        bits_total = model.prior_bits + float(weights.sum())
        probability = float(1.0 / (1.0 + np.exp2(-np.clip(bits_total, -200, 200))))
        fields, best, best_bits = [], "", 0.0
        for j, c in enumerate(comparisons):
            level = int(levels[j])
            if level < 0:
                continue
            bits = float(weights[j])
            fields.append((c.label, c.levels[level], round(bits, 2)))
            if c.identity and bits > best_bits:
                best, best_bits = c.name, bits
        fields.sort(key=lambda f: -abs(f[2]))
        out.append(Pair(str(row[0]), str(row[1]), probability, round(bits_total, 2), tuple(fields), best))
    return out


def _sessions(comparisons, gammas) -> list[tuple[np.ndarray, list[int]]]:
    """The EM runs of :func:`.fs.train`: pairs whose names agree closely teach the other
    comparisons; pairs that agree on an identity field teach the names."""
    name_cols = [j for j, c in enumerate(comparisons) if c.name in NAME_COMPARISONS]
    other_cols = [j for j in range(len(comparisons)) if j not in name_cols]
    if not name_cols or not other_cols:
        return [(np.ones(len(gammas), dtype=bool), list(range(len(comparisons))))]
    names = gammas[:, name_cols]
    known = names >= 0
    close = (np.where(known, names >= np.array([_close_level(comparisons[j]) for j in name_cols])[None, :], True)
             .all(axis=1)) & known.any(axis=1)
    tops = np.array([len(comparisons[j].levels) - 1 for j in other_cols])
    identity = (gammas[:, other_cols] == tops[None, :]).any(axis=1)
    return [(close, other_cols), (identity, name_cols)]


def _certain(comparisons, gammas, counts=None) -> int:
    """Pairs whose names agree closely and that share an e-mail, phone, identifier or street
    (the identity comparisons whose top level almost never happens by chance)."""
    name_cols = [j for j, c in enumerate(comparisons) if c.name in NAME_COMPARISONS]
    strong = [j for j, c in enumerate(comparisons) if c.identity and c.prior_u[-1] <= STRONG_U]
    if not strong or not len(gammas):
        return 0
    names = gammas[:, name_cols] if name_cols else np.zeros((len(gammas), 0), dtype=np.int64)
    known = names >= 0
    close = np.where(known, names >= np.array([_close_level(comparisons[j]) for j in name_cols])[None, :],
                     True).all(axis=1)
    tops = np.array([len(comparisons[j].levels) - 1 for j in strong])
    certain = close & (gammas[:, strong] == tops[None, :]).any(axis=1)
    return int(round(float(certain.sum() if counts is None else counts[certain].sum())))


def _anchors(comparisons, gammas, counts=None) -> dict[int, np.ndarray]:
    """Level counts of each comparison among the pairs that are certain *without it*.

    For an identity comparison: pairs whose names agree closely and that share another
    strong value (e-mail, phone, identifier or street, not this one). For the names: pairs
    that share two strong values. Agreement on one field is close to independent of
    agreement on another among true duplicates, so these counts estimate m without the
    look-alikes EM may take for duplicates.
    """
    name_cols = [j for j, c in enumerate(comparisons) if c.name in NAME_COMPARISONS]
    strong = [j for j, c in enumerate(comparisons) if c.identity and c.prior_u[-1] <= STRONG_U]
    if not strong or not len(gammas):
        return {}
    names = gammas[:, name_cols] if name_cols else np.zeros((len(gammas), 0), dtype=np.int64)
    known = names >= 0
    close = np.where(known, names >= np.array([_close_level(comparisons[j]) for j in name_cols])[None, :],
                     True).all(axis=1)
    top = {j: gammas[:, j] == len(comparisons[j].levels) - 1 for j in strong}
    hits = np.sum([top[j] for j in strong], axis=0)
    out = {}
    for j, c in enumerate(comparisons):
        if c.name in NAME_COMPARISONS:
            rows = hits >= 2
        elif c.identity:
            others = hits - (top[j] if j in top else 0)
            rows = close & (others >= 1)
        else:
            continue
        g = gammas[rows, j]
        w = None if counts is None else counts[rows][g >= 0]
        g = g[g >= 0]
        out[j] = np.bincount(g, weights=w, minlength=len(c.levels))[:len(c.levels)].astype(float)
    return out


def _names_agree(comparisons, gammas) -> np.ndarray:
    """Per pair: some name comparison agrees at least at its lowest agreeing level, or no
    name comparison has values on both sides. Two records whose names differ entirely
    are never one customer, whatever else they share (a shared mailbox, a switchboard)."""
    columns = [j for j, c in enumerate(comparisons) if not c.identity and c.name in NAME_COMPARISONS]
    if not columns:
        return np.ones(len(gammas), dtype=bool)
    g = gammas[:, columns]
    return (g >= 1).any(axis=1) | (g < 0).all(axis=1)


def _close_level(comparison) -> int:
    """The lowest level at which names count as close: "one typo" (the top level but one)."""
    return len(comparison.levels) - 2


# Comparisons whose top level (almost) never happens by chance: e-mail, phone, the
# identifiers. A street is not one (a household, an office building).
STRONG_U = 1e-5

NAME_COMPARISONS = frozenset({"given_name", "family_name", "name"})


def random_pairs(ids: list[str], limit: int, seed: int = 17) -> list[tuple[str, str]]:
    """Up to ``limit`` distinct random pairs of ``ids`` (all pairs when there are fewer), seeded."""
    n = len(ids)
    total = n * (n - 1) // 2
    if n < 2:
        return []
    if total <= limit:
        return [(ids[i], ids[j]) for i in range(n) for j in range(i + 1, n)]
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=limit)
    right = rng.integers(0, n - 1, size=limit)
    right = right + (right >= left)  # never a record with itself
    return [(ids[i], ids[j]) for i, j in zip(left.tolist(), right.tolist())]
