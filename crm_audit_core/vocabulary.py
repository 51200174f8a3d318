"""Enumerated values the checks understand, and what happens to the others.

Before the checks run, the store's enumerated columns (:data:`model.VOCABULARIES`) are
normalised: canonical values are lower-cased and trimmed, common synonyms
(:data:`model.SYNONYMS`: ``connected`` -> ``active``, ``failed`` -> ``failure``...) are
rewritten. What is left outside the vocabulary is *unrecognised*: counted per column, so

* ``data.unrecognised-values`` reports it, with counts and examples;
* a check that needs such a column (its ``needs``) never passes on rows it could not
  judge: a ``pass`` becomes ``skipped`` naming the column and the values, and a ``fail``
  says how many rows were left out. Third-party checks get this through ``needs`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import model
from .i18n import Message, _, ngettext
from .store import SCHEMA, Store

EXAMPLES = 5


@dataclass
class Unrecognised:
    table: str
    column: str
    rows: int
    examples: list[tuple[str, int]]  # (value, rows), most frequent first
    distinct: int = 0

    def describe(self) -> Message:
        """One sentence: the column, how many rows, the values (most frequent first) and the understood ones."""
        shown = Message.join([_("{value} ({n})", value=repr(v), n=n) for v, n in self.examples], ", ")
        allowed = ", ".join(model.VOCABULARIES[(self.table, self.column)])
        column = f"{self.table}.{self.column}"
        if len(self.examples) >= self.distinct:
            return ngettext("{column} has {n} row with a value the audit does not understand: {values} (understood: {allowed})",
                            "{column} has {n} rows with values the audit does not understand: {values} (understood: {allowed})",
                            self.rows, column=column, values=shown, allowed=allowed)
        return ngettext("{column} has {n} row with a value the audit does not understand: {values} and {more} more "
                        "(understood: {allowed})",
                        "{column} has {n} rows with values the audit does not understand: {values} and {more} more "
                        "(understood: {allowed})",
                        self.rows, column=column, values=shown, more=self.distinct - len(self.examples), allowed=allowed)


def normalise(store: Store, tenant: str) -> dict[tuple[str, str], Unrecognised]:
    """Rewrite synonyms to canonical values; return what is still not understood."""
    supplied = store.supplied(tenant)
    out: dict[tuple[str, str], Unrecognised] = {}
    for (table, column), allowed in model.VOCABULARIES.items():
        if column not in supplied.get(table, set()):
            continue
        mapping = {v: v for v in allowed}
        mapping.update(model.SYNONYMS.get(allowed, {}))
        col = f'"{column}"'
        cases = " ".join(f"WHEN ? THEN ?" for _ in mapping)
        params: list = [x for pair in mapping.items() for x in pair]
        # (rows already holding a canonical value as it is written are left alone: at 1M
        # contacts, rewriting them to themselves was most of the audit's time outside its phases)
        store.execute(
            f"UPDATE {SCHEMA}.{table} SET {col} = CASE lower(trim({col})) {cases} ELSE {col} END "
            f"WHERE tenant = ? AND {col} IS NOT NULL AND {col} NOT IN ({', '.join('?' for _ in allowed)}) "
            f"AND lower(trim({col})) IN ({', '.join('?' for _ in mapping)})",
            params + [tenant, *allowed] + list(mapping),
        )
        rows = store.execute(
            f"SELECT {col} AS v, count(*) AS n FROM {SCHEMA}.{table} WHERE tenant = ? AND {col} IS NOT NULL "
            f"AND trim({col}) <> '' AND {col} NOT IN ({', '.join('?' for _ in allowed)}) GROUP BY 1 ORDER BY 2 DESC, 1",
            [tenant, *allowed],
        ).fetchall()
        if rows:
            out[(table, column)] = Unrecognised(table, column, sum(int(n) for _, n in rows),
                                                [(str(v), int(n)) for v, n in rows[:EXAMPLES]], distinct=len(rows))
    return out


def judge(result, needs: dict[str, list[str]], unrecognised: dict[tuple[str, str], Unrecognised]) -> None:
    """A check that needs a column with unrecognised values does not pass on them."""
    if not unrecognised or result.status not in ("pass", "fail"):
        return
    hit = [u for (table, column), u in unrecognised.items() if column in needs.get(table, ())]
    if not hit:
        return
    text = Message.join([u.describe() for u in hit], "; ")
    if result.status == "pass":
        result.status = "skipped"
        result.reason = _("not judged: {problems}; map them to an understood value (see {page})", problems=text,
                          page="docs/reference/vocabulary.md")
        result.message = result.reason
        result.affected = type(result.affected)(result.affected.object, [], result.affected.population)
        result.details = {}
    else:
        rows = sum(u.rows for u in hit)
        note = ngettext("{n} row was not judged: {problems}", "{n} rows were not judged: {problems}", rows, problems=text)
        result.reason = Message.join([result.reason, note], "; ") if result.reason else note
