"""Bulk API 2.0 query jobs in the sandbox: ``POST jobs/query`` runs the SOQL at once and
keeps the rows; job info answers ``InProgress`` for the first ``in_progress_polls``
polls, then ``JobComplete``; results are CSV pages with ``Sforce-Locator`` and
``Sforce-NumberOfRecords``. A job read under another API version than it was created
with answers 409, as Salesforce does."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import uuid
from datetime import datetime, timezone
from typing import Callable

from werkzeug.wrappers import Request, Response

from .. import mapping as m
from .org import Org
from .responses import error, json_response, not_found
from .soql import Soql, csv_cell, field_value, parse_soql, run_soql

UTC = timezone.utc
DEFAULT_BULK_PAGE = 50_000


class BulkJobs:
    """The org's query jobs (``jobs``: id -> info, rows, SOQL, polls, version)."""

    def __init__(self, org: Org, lock: threading.Lock, in_progress_polls: int = 0):
        self.org = org
        self.lock = lock
        self.in_progress_polls = in_progress_polls
        self.jobs: dict[str, dict] = {}

    def object_of(self, path: str) -> str | None:
        """The object a job request reads (for faults that match one object)."""
        job = re.search(r"/jobs/query/(\w+)", path)
        if job and job[1] in self.jobs:
            return self.jobs[job[1]]["soql"].object
        return None

    def handle(self, request: Request, version: str, parts: list[str], entry: dict,
               check_access: Callable[[str], None]) -> Response:
        """``jobs/query[/<id>[/results]]``; ``check_access`` raises for objects the user may not read."""
        if request.method == "POST" and not parts:
            return self._create(request, version, entry, check_access)
        if not parts or parts[0] not in self.jobs:
            return not_found()
        job = self.jobs[parts[0]]
        if job["version"] != version:
            return error(409, "INVALIDJOBSTATE", f"job was created with API version {job['version']}")
        if request.method == "GET" and len(parts) == 1:
            job["polls"] += 1
            done = job["polls"] > self.in_progress_polls
            info = {**job["info"], "state": "JobComplete" if done else "InProgress", "jobType": "V2Query",
                    "numberRecordsProcessed": len(job["rows"]) if done else 0, "retries": 0,
                    "totalProcessingTime": 10}
            return json_response(info)
        if request.method == "GET" and len(parts) == 2 and parts[1] == "results":
            return self._results(request, job, entry)
        if request.method in ("PATCH", "DELETE"):
            return json_response(job["info"])
        return not_found()

    def _create(self, request: Request, version: str, entry: dict, check_access: Callable[[str], None]) -> Response:
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return error(400, "JSON_PARSER_ERROR", "malformed JSON body")
        soql = body.get("query") or ""
        entry["soql"] = soql
        q = parse_soql(soql, self.org)
        check_access(q.object)
        rows = run_soql(self.org, q)
        job_id = "750" + uuid.uuid4().hex[:15]
        now = m.format_datetime(datetime.now(UTC))
        job = {"id": job_id, "operation": body.get("operation", "query"), "object": q.object,
               "createdById": "005000000000000AAA", "createdDate": now, "systemModstamp": now,
               "state": "UploadComplete", "concurrencyMode": "Parallel", "contentType": "CSV",
               "apiVersion": float(version), "lineEnding": body.get("lineEnding", "LF"),
               "columnDelimiter": body.get("columnDelimiter", "COMMA")}
        with self.lock:
            self.jobs[job_id] = {"info": job, "rows": rows, "soql": q, "polls": 0, "version": version}
        return json_response(job)

    def _results(self, request: Request, job: dict, entry: dict) -> Response:
        if job["polls"] <= self.in_progress_polls:
            return error(400, "INVALIDJOBSTATE", "job is not complete")
        max_records = int(request.args.get("maxRecords") or DEFAULT_BULK_PAGE)
        locator = request.args.get("locator")
        offset = int(base64.b64decode(locator).decode()) if locator else 0
        chunk = job["rows"][offset : offset + max_records]
        entry.update(object=job["soql"].object, records=len(chunk), offset=offset)
        q: Soql = job["soql"]
        out = io.StringIO()
        out.write(",".join(f'"{f}"' for f in q.fields) + "\n")
        for r in chunk:
            out.write(",".join(csv_cell(field_value(self.org, r, f)) for f in q.fields) + "\n")
        nxt = offset + max_records
        next_locator = base64.b64encode(str(nxt).encode()).decode() if nxt < len(job["rows"]) else "null"
        return Response(out.getvalue(), content_type="text/csv",
                        headers={"Sforce-Locator": next_locator, "Sforce-NumberOfRecords": str(len(chunk))})
