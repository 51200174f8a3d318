"""The kit's connector acceptance suite (crm_audit_core.testing) run on the Salesforce
connector and its sandbox: options spec, bad credentials, round trip of every mapped
column, the minimum of API calls, two reads identical, zero writes, kill-and-resume,
incremental equals full, no secret anywhere, and the fault matrix.

The connector returns Salesforce's 18-character ids, so :func:`tenant_row` gives each
tenant row as the connector should read it: ids and references through the sandbox's id
map, stages under the ids the connector gives them per pipeline (``stage_keys``: the
record type and the org-wide OpportunityStage, :func:`mapping.stage_key`), and the values
Salesforce holds as dates only at midnight UTC, and logins' API versions in Salesforce's
numbering (``login_api_version``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timezone

from crm_audit_core.testing import ConnectorAcceptance, ConnectorUnderTest

from crm_audit_salesforce import mapping as m
from crm_audit_salesforce.sandbox import parse_soql, run_soql
from crm_audit_salesforce.sandbox.org import login_api_version
from crm_audit_salesforce.sandbox.pipelines import record_types

from sf_testkit import stage_calls

REFERENCES = {"owner_id": "User", "company_id": "Account", "contact_id": "Contact", "deal_id": "Opportunity",
              "user_id": "User"}
RECORD_TABLES = ("users", "login_events", "companies", "contacts", "deals", "stages", "activities", "campaigns")


def tenant_row(table: str, row: dict, handle) -> dict | None:
    ids, org = handle.extra["ids"], handle.extra["org"]
    if table == "stages":
        return dict(row, id=handle.extra["stage_keys"][str(row["id"])])
    sf_id = ids[str(row["id"])]
    out = dict(row, id=sf_id)
    for column in REFERENCES:
        if out.get(column) not in (None, ""):
            out[column] = ids.get(str(out[column]))
    if table == "deals" and out.get("stage") is not None:  # the deal's record type and its stage's name
        name = org.stage_names.get(str(out["stage"]))
        stage = next((s["Id"] for s in org.records["OpportunityStage"] if s["ApiName"] == name), None)
        out["stage"] = m.stage_key(stage, record_types(org).get(out.get("pipeline"))) if stage else out["stage"]
    if table == "login_events" and "api_version" in out:  # the platform's versions in Salesforce's numbering
        out["api_version"] = login_api_version(org.platform, out["api_version"])
    if table == "activities" and sf_id.startswith(m.KEY_PREFIXES["Task"]) and out.get("due_at") is not None:
        due = m.utc_datetime(out["due_at"])  # a Task's ActivityDate is a date
        out["due_at"] = datetime.combine(due.date(), time(), timezone.utc)
    return out


def normalize(table: str, column: str, value):
    if column in m.DATE_ONLY.get(table, set()) and value is not None:
        when = m.utc_datetime(value)
        return when.strftime("%Y-%m-%d") if when is not None else None
    if table == "contacts" and column == "segments":
        return sorted(value or [])
    return value


def minimum_calls(tenant, handle, options) -> int:
    """The fewest calls for the records the connector's queries matched (counted in the
    sandbox's org, not by the connector): per object ceil(n / batch) REST calls, or above
    the Bulk threshold one job, one status poll and ceil(n / page) result pages; plus the
    versions list, ``limits/recordCount``, the six describes and the stages per pipeline
    (:func:`stage_calls`)."""
    org = handle.extra["org"]
    threshold = int(options.get("bulk_threshold") or 10_000)
    batch, page = int(options.get("batch_size") or 2000), int(options.get("bulk_page_size") or 50_000)
    first: dict[str, str] = {}
    for request in handle.requests:
        found = re.search(r"\bFROM\s+(\w+)", request.get("soql") or "", re.I)
        if found and found[1] not in first and "COUNT()" not in request["soql"]:
            first[found[1]] = re.sub(r" AND Id > '\w+'|Id > '\w+' AND ", "", request["soql"])
    calls = 1 + 1 + 6 + stage_calls(org)
    for soql in first.values():
        n = len(run_soql(org, parse_soql(soql.split(" ORDER BY ")[0], org)))
        calls += 2 + max(1, math.ceil(n / page)) if n > threshold else max(1, math.ceil(n / batch))
    return calls


class TestSalesforceAcceptance(ConnectorAcceptance):
    connector = ConnectorUnderTest(
        name="salesforce",
        mapped_columns={table: tuple(m.MAPPED_COLUMNS[table]) for table in RECORD_TABLES},
        minimum_calls=minimum_calls,
        options={"bulk_poll_seconds": "0"},
        tenant_row=tenant_row,
        normalize=normalize,
    )
