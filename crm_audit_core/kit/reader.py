"""A resumable, incremental reader of one canonical table from one or more sources.

Most canonical tables come from one vendor object; some from several (activities from
calls, emails, meetings, tasks and notes; contacts from Salesforce's Contact and Lead).
:class:`TableReader` reads them in order and owns what every connector needs around the
pages:

* a table an interrupted run already completed is skipped (``--resume``);
* after every page, the rows and the position after it are committed together
  (``sink.checkpoint``), as ``{"source": <name>, "position": <JSON>, "meta": {...}}``, so
  a resumed run continues at the next page of the same source and reads nothing twice;
* ``meta`` is what the read decided at its start (for example incremental since when)
  and is kept across a resume, so the resumed run reads in the same mode;
* an incremental read (``previous``) ends by carrying the rows it did not re-read forward
  from the previous snapshot, minus the ids deleted since (``deleted_ids``);
* then the table is marked complete. A read that fails half-way leaves it *partial*.

A :class:`Source` is a name and ``pages(position)``: a generator of ``(records, position)``
pairs from ``position`` (None: from the start), where ``position`` is whatever JSON lets the
source continue after that page (a cursor, an offset, a last id); a page whose position is
None is the source's last (its checkpoint names the next source). With ``to_rows`` the
records are vendor records mapped a slice at a time (a 50,000-record page is never held
twice); a page object with a ``release()`` method is released once written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from .calls import NullProgress

END = "<end>"  # the source name of a checkpoint taken after the last source


@dataclass
class Source:
    """One sub-source of a table: ``pages(position) -> iterator of (records, position)``.

    ``to_rows(records) -> rows``: maps vendor records to canonical rows (None: the pages
    already hold canonical rows)."""

    name: str
    pages: Callable[[Any], Iterable[tuple[Any, Any]]]
    to_rows: Callable[[list], list[dict]] | None = None


@dataclass
class TableReader:
    """Read one table resumably (see the module docstring).

    Create it, look at :attr:`complete` and :attr:`meta` (what an interrupted run decided),
    then call :meth:`read`."""

    sink: Any
    table: str
    write_slice: int = 5_000
    state: dict = field(init=False)

    def __post_init__(self) -> None:
        self.state = dict(self.sink.resume_state(self.table) or {}) if not self.complete else {}
        self._meta: dict = dict(self.state.get("meta") or {})

    @property
    def complete(self) -> bool:
        """An earlier run of this audit already read the whole table."""
        return self.sink.is_complete(self.table)

    @property
    def resuming(self) -> bool:
        """A checkpoint of an interrupted run exists for this table."""
        return bool(self.state)

    @property
    def meta(self) -> dict:
        """What the interrupted run decided at its start ({} when starting afresh)."""
        return self._meta

    def save(self, **meta: Any) -> None:
        """Commit what was written so far with ``meta`` updated (e.g. a step of the finish)."""
        self._meta.update(meta)
        self._checkpoint(self.state.get("source", END), self.state.get("position"))

    def _checkpoint(self, source: str, position: Any) -> None:
        self.state = {"source": source, "position": position, "meta": self._meta}
        self.sink.checkpoint(self.table, self.state)

    def read(self, sources: list[Source], *, meta: dict | None = None, previous: Any = None,
             deleted_ids: Iterable[str] | Callable[[], Iterable[str]] = (),
             progress: Any = None, finish: Callable[["TableReader"], int | None] | None = None) -> int:
        """Read ``sources`` in order from the checkpoint, then finish, carry forward, complete.

        ``meta``: kept in every checkpoint (a resumed run gets it back as :attr:`meta`).
        ``previous``: the previous snapshot of an incremental read (None: a full read).
        ``deleted_ids``: the ids deleted since ``previous`` (or a callable giving them after
        the sources are read). ``finish(reader)``: a last step after the sources (it may call
        :meth:`save` to checkpoint its own progress in ``meta``) returning rows it wrote.
        Returns the rows written and carried."""
        if self.complete:
            return 0
        if meta:
            self._meta.update({k: v for k, v in meta.items() if k not in self._meta})
        progress = progress or NullProgress()
        names = [s.name for s in sources]
        saved = self.state.get("source")
        if saved == END:
            begin = len(sources)
        else:
            begin = names.index(saved) if saved in names else 0
        written = 0
        for index in range(begin, len(sources)):
            source = sources[index]
            position = self.state.get("position") if index == begin and saved == source.name else None
            following = sources[index + 1].name if index + 1 < len(sources) else END
            for records, position in source.pages(position):
                count = self._write(source, records)
                # None after a page means "nothing left to continue from": the source is
                # done, so the checkpoint names what comes next (never "this source, from
                # the start", which a resumed run would read again).
                self._checkpoint(source.name if position is not None else following, position)
                progress.advance(records=count)
                written += count
                release = getattr(records, "release", None)
                if release is not None:  # the pages' generator still points at this page
                    release()
            if index + 1 < len(sources):
                self._checkpoint(sources[index + 1].name, None)
        if self.state.get("source") != END:
            self._checkpoint(END, None)
        if finish is not None:
            written += finish(self) or 0
        if previous is not None:
            ids = deleted_ids() if callable(deleted_ids) else deleted_ids
            carried = self.sink.carry_forward(self.table, previous, [str(i) for i in ids])
            progress.advance(records=carried or 0)
            written += carried or 0
        self.sink.complete(self.table)
        return written

    def _write(self, source: Source, records: Any) -> int:
        if source.to_rows is None:
            rows = list(records)
            if rows:
                self.sink.write(self.table, rows)
            return len(rows)
        count = 0
        for part in _slices(records, self.write_slice):
            rows = source.to_rows(part)
            if rows:
                self.sink.write(self.table, rows)
                count += len(rows)
        return count


def read_table(sink: Any, table: str, sources: list[Source], **kwargs: Any) -> int:
    """``TableReader(sink, table).read(sources, **kwargs)``: the common case in one call."""
    return TableReader(sink, table).read(sources, **kwargs)


def grouped(pages: Iterable[tuple[list, Any]], size: int,
            to_rows: Callable[[list], list]) -> Iterator[tuple[list, Any]]:
    """Map ``size`` pages at once (one lookup query for all of them) but yield them page by
    page, each with its own position, so every page is still checkpointed.

    ``to_rows`` gets the records of up to ``size`` pages and returns one entry per record
    (a row, or None for a record to skip)."""
    batch: list[tuple[list, Any]] = []

    def flush():
        rows = to_rows([record for page, _ in batch for record in page])
        start = 0
        for page, position in batch:
            yield [r for r in rows[start:start + len(page)] if r is not None], position
            start += len(page)

    for item in pages:
        batch.append(item)
        if len(batch) >= size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def _slices(records: Any, size: int) -> Iterator[list]:
    chunk: list = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
