"""Compare and score the candidate pairs in DuckDB: comparison levels as SQL, EM on grouped vectors.

The records of a table are first reduced to comparable columns, once per record
(:mod:`.columns`: folded names, normalised e-mail, phone tail, company key, street key,
...). :func:`link` then

1. joins every candidate pair (and every random pair, for u) with its two records and
   computes each comparison's level as a SQL ``CASE`` expression (:func:`_level_sql`), with
   the term frequency of the shared value joined in from a small table;
2. leaves to Python only what SQL cannot do cheaply, each computed once per distinct pair
   of values, not per pair of records: name parts written in Hangul (compared letter by
   letter, or through their romanisations), the token-sort similarity of company names
   close enough for it to matter, and the E.164 form of phones whose pairs share their
   last digits but are written differently;
3. groups the pairs by their comparison vector (``GROUP BY`` the levels) and trains the
   model on the distinct vectors with their counts (:func:`.engine.train`), so that EM costs
   the same for ten thousand pairs or ten million;
4. scores the pairs in SQL with the learned weights (the weight of each level and the
   term-frequency adjustment as ``CASE`` expressions) and reads back only the pairs at or
   above the threshold, which :func:`.engine.explain` turns into explained pairs.

The levels are the same as :func:`.records.compare` gives for the same two records (the
SQL functions ``jaro_winkler_similarity``, ``levenshtein`` and ``damerau_levenshtein``
count code points and agree with rapidfuzz's on any script); the tests compare both on
every pair of a tenant mixing scripts, and keep fixed expected probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .. import matching
from . import engine, fs

# Company names whose token-sort similarity could reach the company levels' thresholds
# (0.85): their Levenshtein distance (a lower bound of the Indel distance behind the
# similarity) is at most this share of their summed lengths.
TSR_SHARE = 0.15


@dataclass
class Spec:
    """What :func:`link` needs to know about one table.

    ``records_sql`` selects one row per record with the columns of :mod:`.columns`
    (over the temporary tables in ``maps``); ``tf`` / ``totals`` are the term frequencies
    (value -> count, for values seen more than once) and their denominators, by the
    ``tf_key`` of each rule.
    """

    table: str
    rules: list
    records_sql: str
    maps: dict
    tf: dict
    totals: dict
    identifiers: list[str]


class Scratch:
    """Temporary DuckDB tables of one linkage (pairs, records, levels), dropped on exit.

    The candidate pairs of a large tenant (ten million at 1M contacts) stay in DuckDB,
    which holds them compactly and can spill them to disk, instead of in Python.
    """

    def __init__(self, ctx):
        self.ctx = ctx
        self.names: list[str] = []

    def create(self, name: str, sql: str, **params) -> None:
        self.ctx.sql(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", **params).fetchall()
        if name not in self.names:
            self.names.append(name)

    def drop(self, name: str) -> None:
        self.ctx.sql(f"DROP TABLE IF EXISTS {name}").fetchall()
        if name in self.names:
            self.names.remove(name)

    def __enter__(self) -> "Scratch":
        return self

    def __exit__(self, *exc) -> None:
        for name in reversed(list(self.names)):
            try:
                self.drop(name)
            except Exception:  # pragma: no cover - the connection is already gone
                pass


# --------------------------------------------------------------------------- levels

# SQL's jaro_winkler_similarity, levenshtein, damerau_levenshtein and length count Unicode
# code points, as rapidfuzz does: they give the same answers on any script. What SQL does
# not compute comes from lookup tables (``l_*`` joins), computed in Python once per
# distinct pair of values: name parts written in Hangul, and company names' token-sort
# similarity.


def _similar(x: str, y: str, jw: str) -> str:
    """SQL: "one typo" of :func:`.records._text_level` (Jaro-Winkler ``jw`` >= 0.92, or one edit on 4+ letters)."""
    return f"({jw} >= 0.92 OR (least(length({x}), length({y})) >= 4 AND levenshtein({x}, {y}) <= 1))"


def _jw(x: str, y: str) -> str:
    """Jaro-Winkler similarity of two present, different values (computed once per pair and kept)."""
    return f"CASE WHEN {x} <> {y} THEN jaro_winkler_similarity({x}, {y}) END"


def _part_level(x: str, y: str, jw: str, lookup: str) -> str:
    """SQL of :func:`.names.part_level` ('' when missing); ``lookup``: the looked-up level."""
    return (f"CASE WHEN {x} = '' OR {y} = '' THEN -1 WHEN {x} = {y} THEN 3 WHEN {lookup} IS NOT NULL THEN {lookup} "
            f"WHEN {_similar(x, y, jw)} THEN 2 WHEN {jw} >= 0.80 THEN 1 ELSE 0 END")


def _text_level(x: str, y: str, top: int) -> str:
    """SQL of :func:`.records._text_level` for ``top`` <= 2."""
    return (f"CASE WHEN {x} IS NULL OR {y} IS NULL THEN -1 WHEN {x} = {y} THEN {top} "
            f"WHEN {_similar(x, y, f'jaro_winkler_similarity({x}, {y})')} THEN {top - 1} ELSE 0 END")


def _code_level(x: str, y: str) -> str:
    """SQL of :func:`.records._code_level` (optimal string alignment <= 1 is Damerau-Levenshtein <= 1)."""
    return (f"CASE WHEN {x} IS NULL OR {y} IS NULL THEN -1 WHEN {x} = {y} THEN 2 "
            f"WHEN damerau_levenshtein({x}, {y}) <= 1 THEN 1 ELSE 0 END")


def _equal_level(x: str, y: str) -> str:
    return f"CASE WHEN {x} IS NULL OR {y} IS NULL THEN -1 WHEN {x} = {y} THEN 1 ELSE 0 END"


PHONE_LEVEL = ("CASE WHEN ra.phone IS NULL OR rb.phone IS NULL THEN -1 "
               "WHEN ra.phone = rb.phone AND coalesce(ra.country, '') = coalesce(rb.country, '') THEN 1 "
               "WHEN ra.tail IS DISTINCT FROM rb.tail THEN 0 "
               "WHEN ra.e164 IS NOT DISTINCT FROM rb.e164 THEN 1 ELSE 0 END")

# Colleagues (one company) share its address whoever they are: no evidence (see records).
COLLEAGUES = "(ra.company IS NOT NULL AND ra.company = rb.company)"

# matching.company_similarity of two present names: 1 for the same name without spaces,
# else the larger of the Jaro-Winkler similarity without spaces (SQL, for ASCII) and the
# token-sort similarity (looked up: ``l_company.sim`` holds company_similarity itself for
# the pairs it was computed for).
COMPANY_SIMILARITY = ("CASE WHEN ra.cname IS NULL OR rb.cname IS NULL THEN NULL WHEN ra.cflat = rb.cflat THEN 1.0 "
                      "ELSE greatest(coalesce(l_company.sim, 0), jaro_winkler_similarity(ra.cflat, rb.cflat)) END")

# Each comparison is computed in two steps: "atoms" over the two records ``ra`` / ``rb``
# (each string distance once), then the level over the atoms.
COMPANY_ATOMS = [f"{COMPANY_SIMILARITY} AS c_sim",
                 "(ra.company IS NULL AND ra.ed IS NULL AND ra.cd IS NULL) "
                 "OR (rb.company IS NULL AND rb.ed IS NULL AND rb.cd IS NULL) AS c_none",
                 "ra.company IS NOT NULL AND ra.company = rb.company AS c_same",
                 "coalesce(ra.ed IN (rb.ed, rb.cd) OR ra.cd IN (rb.ed, rb.cd), FALSE) AS c_domain",
                 "ra.cname = rb.cname OR ra.cflat = rb.cflat AS c_name_same"]
COMPANY_LEVEL = ("CASE WHEN c_none THEN -1 WHEN c_same THEN 3 WHEN c_domain THEN 2 "
                 "WHEN c_sim >= 0.9 THEN 1 ELSE 0 END")
COMPANY_NAME_LEVEL = ("CASE WHEN c_sim IS NULL THEN -1 WHEN c_name_same THEN 3 WHEN c_sim >= 0.95 THEN 2 "
                      "WHEN c_sim >= 0.85 THEN 1 ELSE 0 END")

STREET_ATOMS = [
    "CASE WHEN ra.street IS NULL OR rb.street IS NULL THEN -1 WHEN ra.street = rb.street THEN 4 END AS s_known",
    # similar: Jaro-Winkler >= 0.80 or one edit (text level >= 1 of a 4-level comparison)
    "CASE WHEN ra.street <> rb.street THEN jaro_winkler_similarity(ra.street, rb.street) >= 0.80 OR "
    "(least(length(ra.street), length(rb.street)) >= 4 AND levenshtein(ra.street, rb.street) <= 1) END AS s_similar",
    "ra.snums <> rb.snums AS s_other_number", "len(ra.snums) > 0 AS s_number"]
STREET_LEVEL = ("CASE WHEN s_known IS NOT NULL THEN s_known WHEN s_other_number THEN (CASE WHEN s_similar THEN 1 "
                "ELSE 0 END) WHEN s_similar THEN 3 WHEN s_number THEN 2 ELSE 0 END")

PLACE_ATOMS = [f"{_code_level('ra.postal', 'rb.postal')} AS p_code", f"{_text_level('ra.city', 'rb.city', 2)} AS p_city",
               f"{_equal_level('ra.state', 'rb.state')} AS p_state"]
PLACE_LEVEL = ("CASE WHEN p_code = -1 AND p_city = -1 AND p_state = -1 THEN -1 "
               "WHEN p_code = 2 THEN (CASE WHEN p_city = 2 THEN 5 ELSE 4 END) "
               "WHEN p_city = 2 THEN 3 WHEN p_code = 1 OR p_city = 1 THEN 2 WHEN p_state = 1 THEN 1 ELSE 0 END")


# The record column holding the value whose term frequency adjusts a comparison's top level.
TF_COLUMNS = {"email": "email", "phone_tail": "tail", "company": "company", "street": "street", "postal_code": "postal",
              "city": "city", "name": "cname", "domain": "domain"}


def _level_sql(comparison: fs.Comparison, table: str, identifiers: list[str]) -> tuple[list[str], str]:
    """(atoms over the records ``ra`` / ``rb``, level over the atoms) of one comparison (names: see NAMES)."""
    name = comparison.name
    if name == "email":
        return [f"{_equal_level('ra.email', 'rb.email')} AS e_level"], "e_level"
    if name == "phone":
        return [f"{PHONE_LEVEL} AS t_level"], "t_level"
    if name == "company":
        return COMPANY_ATOMS, COMPANY_LEVEL
    if name == "name":
        return COMPANY_ATOMS, COMPANY_NAME_LEVEL
    if name == "domain":
        return [f"{_equal_level('ra.domain', 'rb.domain')} AS d_level"], "d_level"
    if name == "country":
        return [f"{_equal_level('ra.country', 'rb.country')} AS n_level"], "n_level"
    if name in ("street", "place"):
        atoms, level = (STREET_ATOMS, STREET_LEVEL) if name == "street" else (PLACE_ATOMS, PLACE_LEVEL)
        if table == "contacts":
            return [*atoms, f"{COLLEAGUES} AS colleagues"], f"CASE WHEN colleagues THEN -1 ELSE {level} END"
        return atoms, level
    if name.startswith("id:"):
        k = identifiers.index(name[3:])
        return [f"{_code_level(f'ra.i{k}', f'rb.i{k}')} AS i{k}_level"], f"i{k}_level"
    raise ValueError(f"no SQL for comparison {name}")


def _tf_column(tf_key: str, identifiers: list[str]) -> str:
    if tf_key.startswith("id:"):
        return f"i{identifiers.index(tf_key[3:])}"
    return TF_COLUMNS[tf_key]


# Names: the four alignments of two names' parts, each with its Jaro-Winkler similarity
# and looked-up levels (with the family flag of names.part_level: lf as given names, lt as
# family names): sg given-given, sf family-family, w1 / w2 the swapped alignment.
NAME_ATOMS = [
    "ra.pg AS a_pg", "ra.pf AS a_pf", "rb.pg AS b_pg", "rb.pf AS b_pf",
    f"{_jw('ra.pg', 'rb.pg')} AS j_sg", f"{_jw('ra.pf', 'rb.pf')} AS j_sf",
    f"{_jw('ra.pg', 'rb.pf')} AS j_w1", f"{_jw('ra.pf', 'rb.pg')} AS j_w2",
    "l_sg.lf AS l_sg", "l_sf.lt AS l_sf", "l_w1.lt AS l_w1", "l_w2.lt AS l_w2", "l_w1.lf AS l_w1f", "l_w2.lf AS l_w2f"]
# ... their levels (w1f / w2f: the swapped pairs compared as given names, for a single name
# against the other's given name) ...
NAME_PARTS = ", ".join([
    f"{_part_level('a_pg', 'b_pg', 'j_sg', 'l_sg')} AS sg", f"{_part_level('a_pf', 'b_pf', 'j_sf', 'l_sf')} AS sf",
    f"{_part_level('a_pg', 'b_pf', 'j_w1', 'l_w1')} AS w1", f"{_part_level('a_pf', 'b_pg', 'j_w2', 'l_w2')} AS w2",
    f"{_part_level('a_pg', 'b_pf', 'j_w1', 'l_w1f')} AS w1f", f"{_part_level('a_pf', 'b_pg', 'j_w2', 'l_w2f')} AS w2f",
    "(a_pg <> '')::INT + (a_pf <> '')::INT AS na", "(b_pg <> '')::INT + (b_pf <> '')::INT AS nb"])
NAME_JOINS = " ".join(f"LEFT JOIN dup_lookup_names l_{slot} ON l_{slot}.x = ra.{x} AND l_{slot}.y = rb.{y}"
                      for slot, x, y in (("sg", "pg", "pg"), ("sf", "pf", "pf"), ("w1", "pg", "pf"), ("w2", "pf", "pg")))

# ... and compare_names: a single name is compared with both parts of the other name (its
# best agreement is the family-name level, the given name unknown); otherwise the better
# of the straight and the swapped alignment. The term-frequency key is a's part that was
# compared (the single name where there is one).
NAMES = """
    CASE WHEN na < 2 OR nb < 2 THEN -1 WHEN w1 + w2 > sg + sf THEN w1 ELSE sg END AS given,
    CASE WHEN na = 0 OR nb = 0 THEN -1
         WHEN na = 1 THEN (CASE WHEN a_pg <> '' THEN greatest(sg, w1) ELSE greatest(w2f, sf) END)
         WHEN nb = 1 THEN (CASE WHEN b_pg <> '' THEN greatest(sg, w2) ELSE greatest(w1f, sf) END)
         WHEN w1 + w2 > sg + sf THEN w2 ELSE sf END AS family,
    CASE WHEN na = 1 THEN coalesce(nullif(a_pg, ''), a_pf) WHEN nb = 1 THEN coalesce(nullif(b_pg, ''), b_pf) END
        AS single,
    na = 2 AND nb = 2 AND w1 + w2 > sg + sf AS swapped
"""

def _uses(rules, *names) -> bool:
    return any(rule[0].name in names for rule in rules)


def _lookup_joins(spec: Spec) -> str:
    joins = []
    if _uses(spec.rules, "given_name", "family_name"):
        joins.append(NAME_JOINS)
    if _uses(spec.rules, "company", "name"):
        joins.append("LEFT JOIN dup_lookup_company l_company ON l_company.x = ra.cname AND l_company.y = rb.cname")
    return " ".join(joins)


def tf_columns(spec: Spec) -> dict[int, float]:
    """Comparison index -> denominator, for the comparisons whose top level has term frequencies."""
    return {j: float(spec.totals.get(tf_key) or 1) for j, (c, _, tf_key) in enumerate(spec.rules)
            if c.tf and tf_key is not None and tf_key in spec.tf}


def levels_sql(spec: Spec, pairs: str, with_tf: bool) -> str:
    """SQL of ``(ia, ib, g0, .., n0, ..)`` for the pairs ``(ia, ib)`` of table ``pairs`` (record
    indexes ``dup_rec.ix``): the level of each comparison, and for the comparisons of
    :func:`tf_columns` at their top level the count of the shared value (its term frequency
    is ``n / denominator``)."""
    names = _uses(spec.rules, "given_name", "family_name")
    atoms, levels, keys, out, joins = ["p.ia", "p.ib"], [], [], ["ia", "ib"], []
    if names:
        atoms += NAME_ATOMS
    for j, (comparison, _level_of, tf_key) in enumerate(spec.rules):
        tf = with_tf and j in tf_columns(spec)
        if comparison.name in ("given_name", "family_name"):
            given = comparison.name == "given_name"
            levels.append(f"{'given' if given else 'family'} AS g{j}")
            if tf:
                first, second = ("a_pf", "a_pg") if given else ("a_pg", "a_pf")
                keys.append(f"nullif(CASE WHEN single IS NOT NULL THEN single WHEN swapped THEN {first} "
                            f"ELSE {second} END, '') AS k{j}")
        else:
            parts, level = _level_sql(comparison, spec.table, spec.identifiers)
            atoms += [a for a in parts if a not in atoms]
            levels.append(f"{level} AS g{j}")
            if tf:
                atoms.append(f"ra.{_tf_column(tf_key, spec.identifiers)} AS k{j}")
        out.append(f"g{j}::TINYINT AS g{j}")
        if tf:
            top = len(comparison.levels) - 1
            joins.append(f"LEFT JOIN dup_tf{j} t{j} ON t{j}.k = l.k{j}")
            out.append(f"CASE WHEN g{j} = {top} AND k{j} IS NOT NULL THEN coalesce(t{j}.n, 1) END::INTEGER AS n{j}")
    named = f"SELECT *, {NAME_PARTS} FROM j), m AS (SELECT *, {NAMES} FROM n" if names else "SELECT * FROM j), m AS (SELECT * FROM n"
    return f"""
        WITH j AS (SELECT {", ".join(atoms)} FROM {pairs} p {PAIR_JOINS} {_lookup_joins(spec)}),
             n AS ({named}),
             l AS (SELECT *, {", ".join(levels + keys)} FROM m)
        SELECT {", ".join(out)} FROM l {" ".join(joins)}
    """


# --------------------------------------------------------------------------- lookups


# Pairs meet their two records through LEFT JOINs (every pair has both records, so the
# result is that of inner joins): DuckDB may plan inner joins of a pairs table with the
# same records table twice as the cross product of the records, joined with the pairs
# afterwards (seen on small tenants), which on a large tenant never ends; outer joins are
# not reordered. Conditions are applied outside the join, on the columns selected, and
# are true when a record is missing, so that the joins stay outer joins.
PAIR_JOINS = "LEFT JOIN dup_rec ra ON ra.ix = p.ia LEFT JOIN dup_rec rb ON rb.ix = p.ib"


def _pairs_with_records(where: str, select: str) -> str:
    """Rows ``select`` of the candidate and random pairs where ``where`` holds (over the selected columns)."""
    return f"""SELECT * FROM (SELECT {select} FROM (SELECT ia, ib FROM dup_pairs UNION ALL SELECT ia, ib FROM dup_random) p
                              {PAIR_JOINS}) WHERE coalesce({where}, TRUE)"""


HANGUL = "'[\uac00-\ud7a3]+'"


def _distinct_hangul(ctx, x: str, y: str) -> list[tuple[str, str]]:
    """Distinct (x, y) value pairs of the pairs' records, both present and different, either
    written in Hangul (compared letter by letter, or through its romanisations: Python)."""
    where = (f"x <> '' AND y <> '' AND x <> y AND (regexp_full_match(x, {HANGUL}) "
             f"OR regexp_full_match(y, {HANGUL}))")
    return ctx.sql(f"SELECT DISTINCT x, y FROM ({_pairs_with_records(where, f'{x} AS x, {y} AS y')}) "
                   "WHERE x IS NOT NULL AND y IS NOT NULL").fetchall()


def _lookups(ctx, spec: Spec) -> dict[str, pa.Table]:
    """The lookup tables of what SQL does not compute, once per distinct pair of values: the
    levels of name parts written in Hangul, and the token-sort similarity of company names."""
    from . import names

    out = {}
    found: set[tuple[str, str]] = set()
    if _uses(spec.rules, "given_name", "family_name"):
        for x, y in (("ra.pg", "rb.pg"), ("ra.pf", "rb.pf"), ("ra.pg", "rb.pf"), ("ra.pf", "rb.pg")):
            found.update(_distinct_hangul(ctx, x, y))
    pairs = sorted(found)
    out["dup_lookup_names"] = pa.table({
        "x": pa.array([p[0] for p in pairs], pa.string()), "y": pa.array([p[1] for p in pairs], pa.string()),
        "lf": pa.array([names.part_level(x, y, False) for x, y in pairs], pa.int8()),
        "lt": pa.array([names.part_level(x, y, True) for x, y in pairs], pa.int8())})
    company = []
    if _uses(spec.rules, "company", "name"):
        # Names close enough for the token-sort similarity to reach a company level (0.85):
        # its Indel distance is at least the Levenshtein distance of the sorted names.
        # (distinct pairs of names first: the pairs of one company share its name)
        select = _pairs_with_records("x <> y", "ra.cname AS x, rb.cname AS y, ra.csort AS xs, rb.csort AS ys")
        company = ctx.sql(f"""
            WITH d AS MATERIALIZED (SELECT DISTINCT * FROM ({select}) WHERE x IS NOT NULL AND y IS NOT NULL)
            SELECT x, y FROM d WHERE replace(x, ' ', '') <> replace(y, ' ', '')
                                 AND levenshtein(xs, ys) <= {TSR_SHARE} * (length(xs) + length(ys))""").fetchall()
    out["dup_lookup_company"] = pa.table({
        "x": pa.array([p[0] for p in company], pa.string()), "y": pa.array([p[1] for p in company], pa.string()),
        "sim": pa.array([matching.company_similarity(x, y) for x, y in company], pa.float64())})
    return out


def _phones(ctx) -> pa.Table:
    """E.164 of the phones whose pairs share the last digits but are written differently."""
    rows = [] if ctx is None else ctx.sql(f"""
        WITH x AS ({_pairs_with_records(
            "t1 IS NOT DISTINCT FROM t2 AND NOT (p1 = p2 AND coalesce(c1, '') = coalesce(c2, ''))",
            "ra.phone AS p1, ra.country AS c1, ra.tail AS t1, rb.phone AS p2, rb.country AS c2, rb.tail AS t2")}),
             y AS (SELECT * FROM x WHERE p1 IS NOT NULL AND p2 IS NOT NULL)
        SELECT p1, c1 FROM y UNION SELECT p2, c2 FROM y""").fetchall()
    return pa.table({"phone": pa.array([r[0] for r in rows], pa.string()),
                     "country": pa.array([r[1] for r in rows], pa.string()),
                     "e164": pa.array([matching.normalise_phone(p, c) for p, c in rows], pa.string())})


def _vector_counts(ctx, table: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct comparison vectors of ``table`` and how many pairs have each."""
    columns = ", ".join(f"g{j}" for j in range(k))
    rows = ctx.sql(f"SELECT {columns}, count(*) FROM {table} GROUP BY ALL ORDER BY ALL").fetchall()
    if not rows:
        return np.zeros((0, k), dtype=np.int64), np.zeros(0)
    data = np.array(rows, dtype=np.int64)
    return data[:, :k], data[:, k].astype(float)


# --------------------------------------------------------------------------- scoring


def _bits_sql(model: fs.Model, j: int, tf_totals: dict[int, float]) -> str:
    comparison = model.comparisons[j]
    weights = model.level_weights()[j]
    cases = " ".join(f"WHEN {level} THEN {float(w)!r}" for level, w in enumerate(weights))
    tf = ""
    if comparison.tf and model.use_tf and j in tf_totals:
        top, m_top = len(comparison.levels) - 1, float(model.m[j][-1])
        f = f"(n{j} / {tf_totals[j]!r})"
        tf = (f"WHEN g{j} = {top} AND n{j} IS NOT NULL THEN "
              f"least(greatest(log2({m_top!r} / greatest({f}, 1e-12)), {-fs.MAX_BITS}), {fs.MAX_BITS}) ")
    return f"CASE WHEN g{j} < 0 THEN 0.0 {tf}ELSE (CASE g{j} {cases} ELSE 0.0 END) END AS w{j}"


def score_sql(model: fs.Model, threshold: float, tf_totals: dict[int, float]) -> str:
    """SQL of the pairs of ``dup_levels`` at or above ``threshold`` that pass the common-names guard."""
    comparisons = model.comparisons
    k = len(comparisons)
    names = [j for j, c in enumerate(comparisons) if not c.identity and c.name in engine.NAME_COMPARISONS]
    names_ok = (f"({' OR '.join(f'g{j} >= 1' for j in names)} OR ({' AND '.join(f'g{j} < 0' for j in names)}))"
                if names else "TRUE")
    identity = [j for j, c in enumerate(comparisons) if c.identity]
    guard = f"({' OR '.join(f'w{j} > 0' for j in identity)})" if identity else "FALSE"
    total = f"{model.prior_bits!r} + " + " + ".join(f"w{j}" for j in range(k))
    return f"""
        SELECT ra.id AS a, rb.id AS b, {", ".join(f"g{j}" for j in range(k))}, {", ".join(f"w{j}" for j in range(k))}
        FROM (SELECT ia, ib, {", ".join(f"g{j}" for j in range(k))},
                     {", ".join(_bits_sql(model, j, tf_totals) for j in range(k))}
              FROM dup_levels WHERE {names_ok}) s
        {PAIR_JOINS.replace("p.i", "s.i")}
        WHERE {guard} AND 1.0 / (1.0 + pow(2.0, -least(greatest({total}, -200), 200))) >= {float(threshold)!r}
        ORDER BY a, b
    """


# --------------------------------------------------------------------------- glue


def _tf_table(counts: dict) -> pa.Table:
    return pa.table({"k": pa.array(list(counts), pa.string()), "n": pa.array(list(counts.values()), pa.int64())})


def prepare(ctx, scratch: Scratch, spec: Spec, random_pairs: pa.Table) -> None:
    """Compare the candidate pairs (temporary table ``dup_pair_ids`` (a, b) of ``scratch``) and the
    ``random_pairs``: leaves ``dup_rec`` (the records, by index ``ix``), ``dup_levels`` and
    ``dup_random_levels`` (:func:`levels_sql`) in ``scratch``."""
    tf_tables = {f"dup_tf{j}": _tf_table(spec.tf[spec.rules[j][2]]) for j in tf_columns(spec)}
    with ctx.temporary_tables(**spec.maps, dup_random_ids=random_pairs):
        # The records of the pairs only, chosen before their columns are computed
        # (``records_sql`` reads table ``dup_source``).
        scratch.create("dup_ids", "SELECT a AS id FROM dup_pair_ids UNION SELECT b FROM dup_pair_ids "
                                  "UNION SELECT a FROM dup_random_ids UNION SELECT b FROM dup_random_ids")
        scratch.create("dup_source", f"SELECT * FROM {spec.table} WHERE CAST(id AS VARCHAR) IN (SELECT id FROM dup_ids)")
        scratch.create("dup_rec0", f"SELECT row_number() OVER ()::INTEGER AS ix, * FROM ({spec.records_sql})")
        scratch.drop("dup_source")
        scratch.drop("dup_ids")
        scratch.create("dup_pairs", "SELECT ra.ix AS ia, rb.ix AS ib FROM dup_pair_ids p "
                                    "LEFT JOIN dup_rec0 ra ON ra.id = p.a LEFT JOIN dup_rec0 rb ON rb.id = p.b")
        scratch.create("dup_random", "SELECT ra.ix AS ia, rb.ix AS ib FROM dup_random_ids p "
                                     "LEFT JOIN dup_rec0 ra ON ra.id = p.a LEFT JOIN dup_rec0 rb ON rb.id = p.b")
    scratch.drop("dup_pair_ids")
    scratch.create("dup_rec", "SELECT *, NULL::VARCHAR AS e164 FROM dup_rec0")
    phones = _phones(ctx) if _uses(spec.rules, "phone") else _phones(None)
    lookups = _lookups(ctx, spec)
    with ctx.temporary_tables(dup_e164=phones):
        scratch.create("dup_rec", "SELECT r.*, e.e164 FROM dup_rec0 r LEFT JOIN dup_e164 e "
                                  "ON e.phone = r.phone AND e.country IS NOT DISTINCT FROM r.country")
    scratch.drop("dup_rec0")
    with ctx.temporary_tables(**lookups, **tf_tables):
        scratch.create("dup_levels", levels_sql(spec, "dup_pairs", True))
        scratch.create("dup_random_levels", levels_sql(spec, "dup_random", False))


def link(ctx, scratch: Scratch, spec: Spec, random_pairs: pa.Table, population: int,
         threshold: float) -> engine.Linkage:
    """Train on this tenant's pairs and return the pairs at or above ``threshold`` (see the module
    docstring). The candidate pairs are in the temporary table ``dup_pair_ids`` (a, b) of ``scratch``."""
    comparisons = [rule[0] for rule in spec.rules]
    k = len(comparisons)
    prepare(ctx, scratch, spec, random_pairs)
    candidates = int(ctx.sql("SELECT count(*) FROM dup_levels").fetchall()[0][0])
    gammas, counts = _vector_counts(ctx, "dup_levels", k)
    random_gammas, random_counts = _vector_counts(ctx, "dup_random_levels", k)
    model = engine.train(comparisons, gammas, counts, random_gammas, random_counts, population)
    chosen = ctx.sql(score_sql(model, threshold, tf_columns(spec))).fetchall() if candidates else []
    return engine.Linkage(model, engine.explain(model, chosen), candidates, [c.label for c in comparisons])
