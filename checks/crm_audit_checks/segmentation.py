"""Standard checks: segmentation (Part 2, step 2: records in no segment, segments nobody uses).

``contacts.segments`` holds the lists, tags and labels a contact belongs to; lifecycle
stage and lead status are the other two ways a CRM segments people. A CRM that cannot
supply one of them (Pipedrive has no lifecycle stage) is judged on the others.
"""

from __future__ import annotations

from crm_audit_core import check

from .i18n import _, ngettext
from .missing_data import filled_sql, present, stripped

SEGMENTING = (("lifecycle_stage", "lifecycle stage"), ("lead_status", "lead status"), ("segments", "list or tag"))


def _segment_names_sql() -> str:
    # One row a (contact, distinct non-blank segment name).
    return (f"SELECT DISTINCT id, {stripped('s')} AS segment FROM "
            "(SELECT id, unnest(segments) AS s FROM contacts WHERE segments IS NOT NULL) "
            f"WHERE {present('s')}")


def _segment_sizes(ctx) -> list[tuple[str, int]]:
    """(segment, contacts in it), smallest first then by name; counted once for both checks
    that need it (memoised for the tenant)."""
    memo = ctx.shared.get("data.segment-sizes")
    if memo is None:
        memo = ctx.shared["data.segment-sizes"] = [
            (name, int(n)) for name, n in
            ctx.sql(f"SELECT segment, count(*) AS n FROM ({_segment_names_sql()}) GROUP BY segment ORDER BY n, segment")
            .fetchall()]
    return memo


@check(
    id="data.unsegmented-contacts",
    title="Contacts in no segment",
    step="segmentation",
    area="data",
    severity="medium",
    needs={"contacts": ["id", "segments"]},
    description="A contact with no lifecycle stage, no lead status and in no list or tag is invisible to every "
    "campaign, report and hand-over: nobody will ever work it on purpose.",
    remediation="Give each contact listed a lifecycle stage (and a lead status where you use them), or add it to "
    "the lists it belongs in; delete the ones that belong nowhere.",
)
def unsegmented_contacts(ctx):
    used = [(col, label) for col, label in SEGMENTING if ctx.supplied("contacts", col)]
    where = " AND ".join(f"NOT {filled_sql('contacts', col)}" for col, _label in used)
    ids = ctx.ids(f"SELECT id FROM contacts WHERE {where}")
    total = ctx.count("contacts")
    supplied = {col for col, _label in used}
    # contacts.segments is always there (the check needs it); the other two may be missing
    if {"lifecycle_stage", "lead_status"} <= supplied:
        message = ngettext("{n} of {total} contacts has no lifecycle stage, no lead status, no list or tag",
                           "{n} of {total} contacts have no lifecycle stage, no lead status, no list or tag",
                           len(ids), total=total)
    elif "lead_status" in supplied:
        message = ngettext("{n} of {total} contacts has no lead status, no list or tag (not supplied by the CRM: "
                           "lifecycle stage)",
                           "{n} of {total} contacts have no lead status, no list or tag (not supplied by the CRM: "
                           "lifecycle stage)", len(ids), total=total)
    elif "lifecycle_stage" in supplied:
        message = ngettext("{n} of {total} contacts has no lifecycle stage, no list or tag (not supplied by the CRM: "
                           "lead status)",
                           "{n} of {total} contacts have no lifecycle stage, no list or tag (not supplied by the CRM: "
                           "lead status)", len(ids), total=total)
    else:
        message = ngettext("{n} of {total} contacts has no list or tag (not supplied by the CRM: lifecycle stage, "
                           "lead status)",
                           "{n} of {total} contacts have no list or tag (not supplied by the CRM: lifecycle stage, "
                           "lead status)", len(ids), total=total)
    return ctx.result(ids=ids, population=total,
                      metrics={"segmented": total - len(ids), "unsegmented": len(ids)}, message=message)


@check(
    id="data.tiny-segments",
    title="Segments with hardly any members",
    step="segmentation",
    area="data",
    severity="low",
    needs={"contacts": ["id", "segments"]},
    object="segments",
    settings={"min_members": 5},
    settings_help={"min_members": "a list or tag with at least one but fewer members than this is tiny"},
    description="Lists and tags with one to a handful of members are usually one-off experiments or typos of a "
    "real segment; they clutter every filter and split the audience they were meant to hold.",
    remediation="Merge each segment listed into the segment it was meant to be (often a spelling variant), "
    "or delete it.",
)
def tiny_segments(ctx):
    minimum = int(ctx.settings["min_members"])
    rows = _segment_sizes(ctx)
    if not rows:  # no segment to measure is not a pass (data.unsegmented-contacts names the contacts)
        return ctx.skip(_("no contact is in any segment: there are no segments to measure"))
    tiny = [(name, n) for name, n in rows if n < minimum]
    details = {name: ngettext("{n} member", "{n} members", n) for name, n in tiny}
    sizes = {"1": 0, "2-4": 0, "5-49": 0, "50-499": 0, "500+": 0}
    for _name, n in rows:
        bucket = "1" if n == 1 else "2-4" if n < 5 else "5-49" if n < 50 else "50-499" if n < 500 else "500+"
        sizes[bucket] += 1
    return ctx.result(ids=[name for name, _n in tiny], population=len(rows), details=details,
                      metrics={"segments_by_size": sizes},
                      message=ngettext("{n} of {total} segments has fewer than {minimum} members",
                                       "{n} of {total} segments have fewer than {minimum} members",
                                       len(tiny), total=len(rows), minimum=minimum))


def _distribution(ctx, query: str | list, top: int) -> dict:
    """{value: n} of the ``top`` largest, the rest summed as "(other)"; ``query`` gives
    (value, n) rows largest first (or is those rows)."""
    rows = ctx.sql(query).fetchall() if isinstance(query, str) else query
    out: dict[str, int] = {}
    other = 0
    for i, (value, n) in enumerate(rows):
        if i < top or value is None:
            out["(none)" if value is None else str(value)] = int(n)
        else:
            other += int(n)
    if other:
        out["(other)"] = other
    return out


@check(
    id="data.segment-distribution",
    title="How contacts spread over lifecycle stages, lead statuses and segments",
    step="segmentation",
    area="data",
    severity="info",
    needs={"contacts": ["id"]},
    settings={"top": 20},
    settings_help={"top": "show this many largest values per chart; the rest are summed as '(other)'"},
    description="The distribution of contacts over lifecycle stages, lead statuses and lists/tags, for the "
    "segmentation review: a stage nobody is in, or one holding nearly everybody, says the segmentation is not used.",
    remediation="Review the charts with marketing and sales: retire stages and segments nobody is in, and split "
    "the ones that hold nearly everybody.",
)
def segment_distribution(ctx):
    top = int(ctx.settings["top"])
    metrics = {}
    for col, label in SEGMENTING[:2]:
        if ctx.supplied("contacts", col):
            metrics[f"by {label}"] = _distribution(
                ctx, f"SELECT nullif({stripped(col)}, '') AS v, count(*) AS n FROM contacts GROUP BY 1 ORDER BY n DESC, v", top
            )
    if ctx.supplied("contacts", "segments"):
        largest = sorted(_segment_sizes(ctx), key=lambda row: (-row[1], row[0]))  # as ORDER BY n DESC, segment
        metrics["by segment"] = _distribution(ctx, largest, top)
    if not metrics:
        return ctx.skip(_("the CRM supplied none of contacts.lifecycle_stage, lead_status or segments"))
    total = ctx.count("contacts")
    spread = []
    if "by lifecycle stage" in metrics:
        spread.append(ngettext("{n} lifecycle stage value", "{n} lifecycle stage values",
                               len(metrics["by lifecycle stage"])))
    if "by lead status" in metrics:
        spread.append(ngettext("{n} lead status value", "{n} lead status values", len(metrics["by lead status"])))
    if "by segment" in metrics:
        spread.append(ngettext("{n} segment value", "{n} segment values", len(metrics["by segment"])))
    return ctx.result(population=total, metrics=metrics, failed=False,
                      message=ngettext("{n} contact over {values}", "{n} contacts over {values}", total,
                                       values=spread))


CHECKS = (unsegmented_contacts, tiny_segments, segment_distribution)
