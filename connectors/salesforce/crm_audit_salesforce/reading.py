"""Reading one object's records: REST queries and Bulk API 2.0 query jobs.

An object counted (``limits/recordCount``) above ``bulk_threshold`` is read with a Bulk
2.0 query job (CSV pages of ``bulk_page_size``); any other with REST queries of the
largest batch size. Counts are a cached snapshot and may be stale, so they only choose
the method: when the first REST batch reports more than ``bulk_threshold`` records after
all, that batch is kept and a Bulk job reads the rest (``Id`` above the batch's last).
Either way every record is read exactly once. Every page comes with the position that
resumes the read right after it (see :meth:`ObjectReader.pages`).
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass
from typing import Any, Iterator

from crm_audit_core.errors import ConnectorError
from crm_audit_core.kit import RetryableError

from .i18n import _
from .soql import and_, field_chunks, soql
from .transport import Calls


@dataclass
class ReadSettings:
    bulk_enabled: bool = True
    bulk_threshold: int = 10_000
    batch_size: int = 2000
    bulk_page_size: int = 50_000
    bulk_poll_seconds: float = 2.0
    max_url_length: int = 16_000
    max_soql_length: int = 100_000


class ObjectReader:
    """Pages of one object's records through REST or Bulk 2.0 (``sf``: the logged-in client)."""

    def __init__(self, calls: Calls, settings: ReadSettings):
        self.calls = calls
        self.settings = settings
        self.sf: Any = None

    def _chunks(self, fields: list[str], sobject: str, where: str | None, bulk: bool,
                order: str | None = None) -> list[list[str]]:
        s = self.settings
        return field_chunks(fields, sobject, where, bulk=bulk, order=order, base_url=self.sf.base_url,
                            max_url_length=s.max_url_length, max_soql_length=s.max_soql_length)

    def _rest_pages(self, text: str, sobject: str) -> Iterator[tuple[int, list[dict]]]:
        headers = {"Sforce-Query-Options": f"batchSize={self.settings.batch_size}"}
        call = self.calls.call
        result = call(lambda: self.sf.query(text, headers=headers), f"querying {sobject}", sobject)
        while True:
            records = [{k: v for k, v in r.items() if k != "attributes"} for r in result["records"]]
            yield result.get("totalSize", len(records)), records
            if result.get("done", True):
                return
            nxt = result["nextRecordsUrl"]
            result = call(lambda: self.sf.query_more(nxt, identifier_is_url=True, headers=headers),
                          f"querying {sobject}", sobject)

    def _bulk_pages(self, text: str, sobject: str, job_id: str | None = None,
                    locator: str = "") -> Iterator[tuple[list[dict], str, str]]:
        """(records, job id, next locator) per Bulk 2.0 result page; the locator is '' after the last.

        ``records`` is a :class:`CsvRecords`: the page's CSV, checked and counted, whose
        rows are decoded one by one as they are iterated, so a page of 50,000 records is
        never held as 50,000 dicts.

        ``job_id``/``locator``: continue the job of an interrupted run where it stopped
        (Bulk 2.0 keeps a query job's results for days) instead of creating a new job.
        """
        call, where = self.calls.call, self.calls.where
        client = getattr(self.sf.bulk2, sobject)._client
        if job_id is None:
            job = call(lambda: client.create_job("query", text), f"creating a Bulk query job for {sobject}", sobject)
            job_id = job["id"]
        resumed = bool(locator)
        while True:
            try:
                info = call(lambda: client.get_job(job_id, True), f"waiting for the Bulk job on {sobject}", sobject)
            except ConnectorError as exc:
                if not resumed:
                    raise
                raise ConnectorError(_("cannot continue the Bulk query job {job} on {object} of the interrupted "
                                       "audit: {error}", job=str(job_id), object=sobject, error=exc.message),
                                     where=where,
                                     hint=_("its results are gone (Bulk 2.0 keeps them for a few days); "
                                            "run the audit again without --resume")) from None
            state = info.get("state")
            if state == "JobComplete":
                break
            if state in ("Failed", "Aborted"):
                reason = str(info.get("errorMessage") or "no reason given")  # Salesforce's own words
                if state == "Failed":
                    stopped = _("Bulk query job {job} on {object} failed: {reason}", job=str(job_id),
                                object=sobject, reason=reason)
                else:
                    stopped = _("Bulk query job {job} on {object} aborted: {reason}", job=str(job_id),
                                object=sobject, reason=reason)
                raise ConnectorError(stopped, where=where)
            time.sleep(self.settings.bulk_poll_seconds)
        while True:
            def page(loc=locator):
                result = client.get_query_results(job_id, loc, self.settings.bulk_page_size)
                records = CsvRecords(result["records"])  # counted now, decoded as they are written
                if len(records) != result["number_of_records"]:
                    raise RetryableError(_("Bulk results for {object}: {rows} rows but Sforce-NumberOfRecords "
                                           "says {expected}", object=sobject, rows=len(records),
                                           expected=result["number_of_records"]),
                                         where=where)
                return result["locator"], records

            locator, records = call(page, f"reading Bulk results for {sobject}", sobject)
            yield records, job_id, locator or ""
            if not locator:
                return

    def pages(self, sobject: str, fields: list[str], where: str | None = None,
              state: dict | None = None, estimate: int | None = None) -> Iterator[tuple[list[dict], dict]]:
        """Pages of ``sobject`` records (dicts without ``attributes``), each with the state
        that resumes the read right after it (see docs/connectors/salesforce.md, "Resuming").

        ``estimate``: how many records the read will find, if known (``limits/recordCount``
        for a full read). Above ``bulk_threshold`` the read starts as a Bulk job. Otherwise
        it starts with REST, and if the first batch reports more than ``bulk_threshold``
        records after all (a stale count, or none), that batch is kept and a Bulk job reads
        the records after its last Id. States:

        * ``{"after": Id}``: REST pages come in ``ORDER BY Id``; everything up to that Id
          was handed out, so a resumed read asks ``WHERE ... AND Id > 'after'``. Query
          locators (``nextRecordsUrl``) expire, this keyset position does not;
        * ``{"job": id, "locator": loc}``: a Bulk 2.0 job (unordered), continued at its
          result locator;
        * ``{"done": True}``: nothing left.
        """
        state = state or {}
        if state.get("done"):
            return
        if state.get("job"):
            for records, _job, nxt in self._bulk_pages("", sobject, state["job"], state.get("locator") or ""):
                yield records, ({"job": state["job"], "locator": nxt} if nxt else {"done": True})
            return
        s = self.settings
        progress = self.calls.progress
        cond = and_(where, f"Id > '{state['after']}'" if state.get("after") else None)
        keyed = "Id" in fields  # (a few helper reads select no Id: they are never checkpointed)
        if s.bulk_enabled and estimate is not None and estimate > s.bulk_threshold:
            _set_total(progress, estimate)
            yield from self._read_bulk(sobject, fields, cond)
            return
        # room for the Id range of the joins of a wide object
        chunks = self._chunks(fields, sobject, and_(cond, f"Id >= '{'X' * 18}' AND Id <= '{'X' * 18}'"),
                              bulk=False, order="Id" if keyed else None)
        pages = self._rest_pages(soql(chunks[0], sobject, cond, "Id" if keyed else None), sobject)
        total, first = next(pages)
        _set_total(progress, total)
        if s.bulk_enabled and total > s.bulk_threshold:
            pages.close()
            if not (keyed and first):
                yield from self._read_bulk(sobject, fields, cond)
                return
            # keep the first batch (Id order) and read the rest in Bulk: no record twice
            if len(chunks) > 1:
                first = self._join_chunks(sobject, chunks[1:], cond, first)
            last = first[-1]["Id"]
            yield first, {"after": last}
            yield from self._read_bulk(sobject, fields, and_(cond, f"Id > '{last}'"))
            return
        for records in _chain_first(first, pages):
            if not records:
                continue
            if len(chunks) > 1:
                records = self._join_chunks(sobject, chunks[1:], cond, records)
            yield records, ({"after": records[-1]["Id"]} if keyed else {})

    def _join_chunks(self, sobject: str, chunks: list[list[str]], cond: str | None, records: list[dict]) -> list[dict]:
        """A wide object: the other field chunks of the same Id range, joined on Id."""
        merged = {r["Id"]: dict(r) for r in records}
        span = f"Id >= '{records[0]['Id']}' AND Id <= '{records[-1]['Id']}'"
        for chunk in chunks:
            for _cursor, part in self._rest_pages(soql(chunk, sobject, and_(cond, span), "Id"), sobject):
                for r in part:
                    if r["Id"] in merged:
                        merged[r["Id"]].update(r)
        return list(merged.values())

    def _read_bulk(self, sobject: str, fields: list[str], where: str | None) -> Iterator[tuple[list[dict], dict]]:
        chunks = self._chunks(fields, sobject, where, bulk=True)
        if len(chunks) == 1:
            for records, job_id, nxt in self._bulk_pages(soql(fields, sobject, where), sobject):
                yield records, ({"job": job_id, "locator": nxt} if nxt else {"done": True})
            return
        merged: dict[str, dict] = {}
        for chunk in chunks:
            for records, _job, _locator in self._bulk_pages(soql(chunk, sobject, where), sobject):
                for r in records:
                    merged.setdefault(r["Id"], {}).update(r)
        rows = [merged[k] for k in sorted(merged)]  # Id order: a keyset position resumes it
        size = self.settings.bulk_page_size
        for i in range(0, len(rows), size):
            page = rows[i : i + size]
            yield page, {"after": page[-1]["Id"]}

    def read(self, sobject: str, fields: list[str], where: str | None = None) -> Iterator[list[dict]]:
        """Pages of records (dicts without ``attributes``) of ``sobject``."""
        for records, _cursor in self.pages(sobject, fields, where):
            yield records

    def tooling(self, text: str, sobject: str) -> list[dict]:
        """Every record a Tooling API query finds (``tooling/query``, paged by
        ``nextRecordsUrl``): the setup objects (Health Check, installed packages) are small."""
        call = self.calls.call
        what = f"querying {sobject} (Tooling API)"
        result = call(lambda: self.sf.toolingexecute("query/", params={"q": text}), what, sobject)
        out: list[dict] = []
        while True:
            if not isinstance(result, dict) or not isinstance(result.get("records"), list):
                raise RetryableError(_("{what}: the answer is not a query result", what=what), where=self.calls.where)
            out.extend({k: v for k, v in r.items() if k != "attributes"} for r in result["records"])
            if result.get("done", True):
                return out
            nxt = result["nextRecordsUrl"]
            result = call(lambda: self.sf.query_more(nxt, identifier_is_url=True), what, sobject)

    def read_all(self, sobject: str, fields: list[str], where: str | None = None) -> list[dict]:
        out: list[dict] = []
        for page in self.read(sobject, fields, where):
            out.extend(page)
        return out


def _chain_first(first: list[dict], pages: Iterator[tuple[int, list[dict]]]) -> Iterator[list[dict]]:
    yield first
    for _cursor, records in pages:
        yield records


def _set_total(progress, total: int) -> None:
    try:
        progress.set_total(total)
    except Exception:  # a progress bar must never break the audit
        pass


class CsvRecords:
    """A Bulk result page: its CSV text, checked and counted when made; iterating
    decodes the rows one at a time (dicts, blanks as None)."""

    def __init__(self, text: str):
        self.text = "" if not text or text.isspace() else text
        self.count = 0
        if self.text:
            reader = csv.reader(_lines(self.text))
            header = next(reader, None)
            if not header or "Id" not in header and not all(re.match(r"^[\w.]+$", f or "") for f in header):
                raise ValueError("Bulk results are not CSV with a header row")
            self.count = sum(1 for _ in reader)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return self.count > 0

    def release(self) -> None:
        """Drop the text once the page is written (the rows cannot be read again)."""
        self.text = ""

    def __iter__(self) -> Iterator[dict]:
        if not self.text:
            return
        for row in csv.DictReader(_lines(self.text)):
            yield {k: (v if v != "" else None) for k, v in row.items()}


def _lines(text: str) -> Iterator[str]:
    """The text's lines, ends kept, one at a time: io.StringIO would copy the whole page
    into a 4-bytes-a-character buffer. Only "\n" ends a line here; csv joins the lines of
    a quoted field that holds one."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end + 1]
        start = end + 1
