"""The stages table: Opportunity stages per pipeline (record type).

Salesforce keeps the stages themselves org-wide (``OpportunityStage``: probability,
closed, won, sort order), and which of them each sales pipeline offers per Opportunity
record type: the ``StageName`` picklist values of a record type. The connector reads them
with the User Interface API, one call per record type::

    GET /services/data/vXX.X/ui-api/object-info/Opportunity/picklist-values/{recordTypeId}/StageName

whose answer is ``{"controllerValues", "defaultValue", "url", "values": [{"attributes",
"label", "validFor", "value"}]}`` (docs/connectors/salesforce.md, "Stages per pipeline").

One ``stages`` row per (pipeline, stage): ``pipeline`` is the record type's name, as
``deals.pipeline`` (``RecordType.Name``) is; ``position`` the stage's place in that record
type's picklist; ``is_closed``/``is_won`` the OpportunityStage's. Its id is
:func:`stage_key`: ``<record type id>:<OpportunityStage id>``, and a deal's ``stage`` is
the same key made of its own record type and stage, so each deal meets the row of its
pipeline. Opportunities without a record type use the master record type
(``012000000000000AAA``): their stages are rows with pipeline None (deals.pipeline is None
for them too) and the plain OpportunityStage id.

Which record types are read: every active one, inactive ones that opportunities still
use, and the master record type when the org has no active record type or some
opportunity has none. The UI API exists from API version 41.0: with an older
``api_version`` the picklists are read under the newest version the org offers (setup,
not records, as ``limits/recordCount`` is). When the user may not use it (403) or it is
not there (404), the read falls back to the org-wide OpportunityStage rows without pipelines, and
``stages.pipeline`` is declared unavailable (``sink.unavailable``) with the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_audit_core.kit import RetryableError, Unavailable

from . import mapping as m
from .mapping import MASTER_RECORD_TYPE, stage_key
from .i18n import _, ngettext

if TYPE_CHECKING:
    from .connector import SalesforceConnector

UI_API_SINCE = 41.0  # the picklist-values resource exists from API version 41.0
UI_API = "ui-api"  # the key of the UI API calls in transport.OPTIONAL
RECORD_TYPE_FIELDS = ["Id", "Name", "DeveloperName", "IsActive"]
UNAVAILABLE_HINT = _("give the audit user access to the User Interface API (API version {version} or later, "
                     "'API Enabled' and read access to Opportunity) so each record type's stages can be read",
                     version="41.0")


def read_stages(conn: "SalesforceConnector", sink, optional) -> None:
    """The stages table (read even when resuming: deals name their stage through it).

    ``optional``: ``tables._optional``, a read whose refusal is a note."""
    progress = conn.begin(sink, "stages")
    stages = optional(conn, sink, "OpportunityStage", m.STAGE_FIELDS)
    if stages is None:
        return
    for r in stages:
        for key in ("MasterLabel", "ApiName"):
            if r.get(key):
                conn.stage_ids.setdefault(r[key], r["Id"])
    if sink.is_complete("stages"):
        # resuming: the interrupted run chose how the deals it read name their stages
        conn.stages_per_pipeline = per_pipeline(sink.stored("stages", ["id", "pipeline"]))
        return
    try:
        rows = _per_pipeline(conn, sink, stages)
    except Unavailable as exc:
        sink.unavailable("stages.pipeline", _("Salesforce's stages per record type could not be read "
                                              "({problem}): {hint}", problem=exc.message, hint=UNAVAILABLE_HINT))
        rows = None
    if rows is None:
        rows = [m.stage_to_row(r) for r in stages]  # org-wide, without pipelines
    conn.stages_per_pipeline = per_pipeline([(r["id"], r.get("pipeline")) for r in rows])
    sink.write("stages", rows)
    progress.advance(records=len(rows))
    sink.complete("stages")


def _per_pipeline(conn: "SalesforceConnector", sink, stages: list[dict]) -> list[dict] | None:
    """The rows per (record type, stage); None when the API version has no UI API."""
    version = ui_api_version(conn)
    if version is None:
        sink.unavailable("stages.pipeline", _("the org offers no API version with the User Interface API "
                                              "({version} or later), which gives each record type's stages",
                                              version=format(UI_API_SINCE, ".1f")))
        return None
    by_name = {}
    for r in stages:
        for key in ("MasterLabel", "ApiName"):  # the API name wins: picklist values are API names
            if r.get(key):
                by_name[r[key]] = r
    rows: list[dict] = []
    unknown: list[str] = []
    for record_type_id, pipeline in _record_types(conn):
        values = _picklist(conn, record_type_id, version)
        position = 0
        seen = set()
        for value in values:
            name = value.get("value") if isinstance(value, dict) else None
            stage = by_name.get(name)
            if stage is None:
                unknown.append(str(name))
                continue
            if stage["Id"] in seen:
                continue
            seen.add(stage["Id"])
            position += 1
            rows.append(m.stage_in_pipeline_to_row(stage, stage_key(stage["Id"], record_type_id), pipeline,
                                                   position, value))
    if unknown:
        sink.note(ngettext("Salesforce: {n} stage picklist value has no OpportunityStage record and was left out "
                           "of the stages table (first: {first})",
                           "Salesforce: {n} stage picklist values have no OpportunityStage record and were left "
                           "out of the stages table (first: {first})", len(unknown), first=repr(unknown[0])))
    return rows


def _record_types(conn: "SalesforceConnector") -> list[tuple[str, str | None]]:
    """(record type id, pipeline) to read the stages of: active record types, inactive ones
    opportunities still use, and the master record type (pipeline None) when the org has
    no active record type or some opportunity has none."""
    found = conn.reader.read_all("RecordType", RECORD_TYPE_FIELDS, "SobjectType = 'Opportunity'")
    found.sort(key=lambda r: (str(r.get("Name") or ""), r["Id"]))
    out = []
    for r in found:
        if m.as_bool(r.get("IsActive")) or _used(conn, f"RecordTypeId = '{r['Id']}'"):
            out.append((r["Id"], m.as_text(r.get("Name"))))
    if not any(m.as_bool(r.get("IsActive")) for r in found) or _used(conn, "RecordTypeId = null"):
        out.insert(0, (MASTER_RECORD_TYPE, None))
    return out


def _used(conn: "SalesforceConnector", where: str) -> bool:
    """Whether some opportunity matches ``where`` (one ``COUNT()`` query)."""
    text = f"SELECT COUNT() FROM Opportunity WHERE {where}"
    result = conn.calls.call(lambda: conn.reader.sf.query(text), "counting opportunities per record type",
                             "Opportunity")
    return bool((result or {}).get("totalSize"))


def ui_api_version(conn: "SalesforceConnector") -> str | None:
    """The API version to read picklist values under: the audit's, or when that is older
    than the UI API (41.0) the newest the org offers (a read of setup, not of records, as
    for ``limits/recordCount``); None when the org offers none."""
    if float(conn.api_version) >= UI_API_SINCE:
        return conn.api_version
    newer = [v for v in conn.offered_versions if float(v) >= UI_API_SINCE]
    return max(newer, key=float) if newer else None


def _picklist(conn: "SalesforceConnector", record_type_id: str, version: str) -> list[dict]:
    """The StageName picklist values of one record type (UI API), in the picklist's order."""
    sf = conn.reader.sf
    path = f"ui-api/object-info/Opportunity/picklist-values/{record_type_id}/StageName"
    url = f"https://{sf.sf_instance}/services/data/v{version}/{path}"
    body = conn.calls.call(lambda: sf._call_salesforce("GET", url, name=path).json(),
                           f"reading the stages of record type {record_type_id} (UI API)", UI_API)
    values = (body or {}).get("values")
    if not isinstance(values, list):
        raise RetryableError(_("reading the stages of record type {id}: the answer has no values list",
                               id=str(record_type_id)), where=conn.calls.where)
    return values


def stage_mode_changed(conn: "SalesforceConnector", previous) -> bool:
    """Incremental audits: whether the previous audit named deal stages the other way
    (per pipeline or org-wide), so deals carried forward from it would name stages that
    are not rows any more and deals must be read in full."""
    if previous is None:
        return False
    try:
        rows = previous.rows("stages", ["id", "pipeline"])
    except Exception:  # a snapshot that cannot be read: the incremental read itself will say so
        return False
    if not rows:
        return False
    return per_pipeline(rows) != conn.stages_per_pipeline


def per_pipeline(rows) -> bool:
    """Whether stage rows ``(id, pipeline)`` are per record type: then a deal of a record
    type names its stage by :func:`~.mapping.stage_key` (rows of the master record type
    alone, or the org-wide rows, use the plain OpportunityStage ids)."""
    return any(":" in str(i) or p is not None for i, p in rows)
