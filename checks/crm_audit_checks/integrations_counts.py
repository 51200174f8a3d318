"""Standard checks: integrations whose counts cannot be true or disagree with the other system.

Both checks read two sides: what the CRM holds, and what the other system of an
integration reports, from the canonical table ``sync_counts`` (filled by integration
probes, or given as a file) and, for record totals, ``integrations.records_reported``
(from a connector, from ``[integrations.<tenant>]`` in crm-audit.toml, or from a plugin
through the ``crm_audit_integration_counts`` hook).

* sync-count-mismatch: per integration and object, the other system's record count vs
  the CRM's records whose ``source_detail`` names the integration;
* campaign-count-sanity: counts that cannot be true (more responses than sent, more
  opened than delivered...) in the CRM or in the sending tool, and CRM counts the tool
  contradicts.

A count the other side could not give (``sync_counts.value`` empty, a failed probe) is
never silently dropped: the result's reason lists it with the probe's own explanation.
Names are compared case-insensitively and trimmed on both sides.
"""

from __future__ import annotations

from crm_audit_core import Message, Percent, check

from .i18n import _, ngettext

RECORD_TABLES = ("contacts", "companies", "deals")
SYNC_COLUMNS = ("id", "probe", "integration", "object", "key", "measure", "value", "source", "missing", "observed_at")
SYNC_REQUIRED = ("integration", "object", "measure", "value")

# (rule id, larger, smaller): a campaign breaks the rule when ``larger`` > ``smaller``.
CAMPAIGN_RULES = (
    ("delivered_gt_sent", "delivered", "sent"),
    ("opened_gt_delivered", "opened", "delivered"),
    ("responses_gt_sent", "responses", "sent"),
)
# The sending tool's own counts also answer this one (a survey's responses vs the people it went to).
TOOL_RULES = CAMPAIGN_RULES + (("responses_gt_recipients", "responses", "recipients"),)
CAMPAIGN_MEASURES = ("sent", "delivered", "opened", "responses", "recipients")


def _norm(value) -> str:
    return str(value or "").strip().lower()


def _object_label(obj: str, won: bool = False):
    """A CRM object as a sentence names it (the other system's own word for objects the CRM lacks)."""
    if won:
        return _("won deals")
    return {"contacts": _("contacts"), "companies": _("companies"), "deals": _("deals")}.get(obj, obj)


def _measure_label(measure: str):
    """A campaign count's name as a sentence shows it."""
    return {"sent": _("sent"), "delivered": _("delivered"), "opened": _("opened"), "responses": _("responses"),
            "recipients": _("recipients")}.get(measure, measure)


def _sync_counts(ctx, where: str, **params) -> tuple[list[dict], str | None]:
    """Rows of ``sync_counts`` matching ``where`` (every column, None where not supplied),
    or ([], why) when the table or its required columns were not supplied."""
    if not ctx.supplied("sync_counts"):
        return [], None
    lacking = [c for c in SYNC_REQUIRED if not ctx.supplied("sync_counts", c)]
    if lacking:
        return [], _("sync_counts lacks {columns}, so the other system's counts cannot be read", columns=lacking)
    cols = ", ".join(c if ctx.supplied("sync_counts", c) else f"NULL AS {c}" for c in SYNC_COLUMNS)
    return ctx.rows(f"SELECT {cols} FROM sync_counts WHERE {where} ORDER BY probe, integration, object, key, measure",
                    **params), None


def _missing_line(row: dict):
    """'mailchimp contacts records (probe mailchimp (tenant x): 401 ...)'"""
    values = dict(who=str(row["probe"] or row["integration"]), object=str(row["object"]), measure=str(row["measure"]),
                  why=str(row["missing"]) if row["missing"] else _("no value and no reason given"))
    if row["key"]:
        return _("{who} {object} {measure} of '{key}' ({why})", key=str(row["key"]), **values)
    return _("{who} {object} {measure} ({why})", **values)


def _counts_missing(missing: list):
    return _("counts missing: {counts}", counts=Message.join(missing, "; "))


def _latest(rows: list[dict]) -> dict:
    """The row read last (observed_at), the first one on a tie."""
    return max(rows, key=lambda r: (r["observed_at"] is not None, r["observed_at"] or 0, -rows.index(r)))


def _split_by_value(groups: dict) -> tuple[dict, list[str]]:
    """Per group key: the latest row with a value; the groups with none give missing lines."""
    chosen, missing = {}, []
    for key, rows in groups.items():
        valued = [r for r in rows if r["value"] is not None]
        if valued:
            chosen[key] = _latest(valued)
        else:
            missing.extend(_missing_line(r) for r in rows)
    return chosen, missing


def _with_reason(result, notes: list):
    if notes:
        result.reason = Message.join(notes, "; ")
    return result


# --------------------------------------------------------------------------- sync-count-mismatch


def _crm_record_counts(ctx) -> dict[tuple[str, str], int]:
    """(object, normalised source_detail) -> how many records of that object name it."""
    counts: dict[tuple[str, str], int] = {}
    for t in RECORD_TABLES:
        if not ctx.supplied(t, "source_detail"):
            continue
        for r in ctx.rows(f"SELECT lower(trim(source_detail)) AS k, count(*) AS n FROM {t} "
                          "WHERE nullif(trim(source_detail), '') IS NOT NULL GROUP BY 1"):
            counts[(t, r["k"])] = int(r["n"])
    if ctx.supplied("deals", "source_detail") and ctx.supplied("deals", "is_won"):
        # measure "won": an accounting package's invoices match the CRM's won deals only
        for r in ctx.rows("SELECT lower(trim(source_detail)) AS k, count(*) AS n FROM deals "
                          "WHERE nullif(trim(source_detail), '') IS NOT NULL AND is_won GROUP BY 1"):
            counts[("deals:won", r["k"])] = int(r["n"])
    return counts


def _differs(held: int, reported: int, tolerance: float) -> bool:
    return abs(held - reported) > tolerance * max(reported, 0) or (reported == 0 and held > 0)


def _gap(held: int, reported: int):
    if not reported:
        return _("the other system reports none")
    share = (held - reported) / reported
    if share < 0:
        return Percent(share)
    # TRANSLATORS: a percentage with its sign: "+12.5%" (more records in the CRM than the other system reports)
    return _("+{share}", share=Percent(share))


@check(
    id="integrations.sync-count-mismatch",
    title="Integrations whose record counts disagree with the other system",
    step="integrations",
    area="usage",
    severity="high",
    needs={"integrations": ["id", "name"]},
    settings={"tolerance": 0.05},
    settings_help={"tolerance": "the largest accepted difference, as a share of the count the other system reports"},
    description=(
        "Compares, per integration and object, the records an integration holds in the CRM (contacts, companies "
        "and deals whose source_detail names it) with the count the other system reports. A gap means records "
        "were lost, duplicated or never synced. The other system's counts come from integration probes "
        "(sync_counts), from the connector, from [integrations.<tenant>] in crm-audit.toml, or from a plugin "
        "(crm_audit_integration_counts hook)."
    ),
    remediation=(
        "Reconcile the integration: export its records from both systems, find the ones missing on either "
        "side, fix the sync filter or mapping, and re-sync."
    ),
)
def sync_count_mismatch(ctx):
    if not any(ctx.supplied(t, "source_detail") for t in RECORD_TABLES):
        return ctx.skip(_("no contacts, companies or deals with source_detail were supplied, so the records "
                          "integrations created cannot be counted"))
    tolerance = float(ctx.settings["tolerance"])
    crm = _crm_record_counts(ctx)
    listed: dict[str, tuple[str, str]] = {}
    for r in ctx.rows("SELECT id, name FROM integrations WHERE name IS NOT NULL ORDER BY id"):
        listed.setdefault(_norm(r["name"]), (str(r["id"]), str(r["name"]).strip()))
    ids, details, notes = [], {}, []
    compared: set[str] = set()

    def flag(rid: str, text) -> None:
        if rid not in details:
            ids.append(rid)
        details[rid] = Message.join([details[rid], text], "; ") if rid in details else text

    # 1. The other side's counts per object (sync_counts: measure records, no key).
    # measure "records": every record of the object; "won": the CRM's won deals (invoices).
    rows, unreadable = _sync_counts(ctx, "lower(trim(measure)) IN ('records', 'won') AND nullif(trim(key), '') IS NULL")
    if unreadable:
        notes.append(unreadable)
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((_norm(r["integration"]), _norm(r["object"]), _norm(r["measure"])), []).append(r)
    chosen, missing = _split_by_value(groups)
    by_object: dict[str, dict] = {}
    unknown: dict[str, dict] = {}
    not_compared = []
    for (key, obj, measure), r in sorted(chosen.items()):
        rid, name = listed.get(key, (None, str(r["integration"]).strip()))
        reported = int(r["value"])
        source = str(r["source"]) if r["source"] else (_("probe {probe}", probe=str(r["probe"])) if r["probe"]
                                                       else "sync_counts")
        won = measure == "won"
        label = "won deals" if won else obj
        shown = _object_label(obj, won)
        if obj not in RECORD_TABLES or not ctx.supplied(obj, "source_detail") or (won and obj != "deals") \
                or (won and not ctx.supplied("deals", "is_won")):
            values = dict(name=name, object=shown, source=source, reported=reported, table=obj)
            not_compared.append(
                _("{name} {object} ({source} reports {reported}; the CRM's {table} carry no is_won and source_detail "
                  "to count)", **values) if won else
                _("{name} {object} ({source} reports {reported}; the CRM's {table} carry no source_detail to count)",
                  **values))
            continue
        held = crm.get(("deals:won" if won else obj, key), 0)
        crm_source = _("CRM: {object} whose source_detail is '{name}'", object=shown, name=name)
        entry = {"reported": reported, "in_crm": held, "source": source, "crm_source": crm_source}
        text = _("{name} {object}: the CRM holds {held} ({crm_source}), {source} reports {reported} ({gap})",
                 name=name, object=shown, held=held, crm_source=crm_source, source=source, reported=reported,
                 gap=_gap(held, reported))
        if rid is None:
            entry["differs"] = _differs(held, reported, tolerance)
            unknown.setdefault(name, {})[label] = entry
            continue
        compared.add(rid)
        by_object.setdefault(name, {})[label] = entry
        if _differs(held, reported, tolerance):
            flag(rid, text)
    if missing:
        notes.insert(0, _counts_missing(missing))
    if not_compared:
        notes.append(_("not compared: {items}", items=Message.join(not_compared, "; ")))

    # 2. Record totals in integrations.records_reported (connector, crm-audit.toml, plugins).
    counts = {}
    if ctx.supplied("integrations", "records_reported"):
        for r in ctx.rows("SELECT id, name, records_reported AS reported FROM integrations "
                          "WHERE records_reported IS NOT NULL ORDER BY id"):
            rid, name, reported = str(r["id"]), str(r["name"]).strip(), int(r["reported"])
            held = sum(n for (t, k), n in crm.items() if k == _norm(name) and t in RECORD_TABLES)
            counts[name] = {"reported": reported, "in_crm": held}
            compared.add(rid)
            if _differs(held, reported, tolerance):
                flag(rid, ngettext("{name}: the CRM holds {n} record (CRM: contacts, companies and deals whose "
                                   "source_detail is '{name}'), the other system reports {reported} "
                                   "(integrations.records_reported) ({gap})",
                                   "{name}: the CRM holds {n} records (CRM: contacts, companies and deals whose "
                                   "source_detail is '{name}'), the other system reports {reported} "
                                   "(integrations.records_reported) ({gap})",
                                   held, name=name, reported=reported, gap=_gap(held, reported)))

    if not compared and not unknown:
        if notes:
            return ctx.skip(Message.join(notes, "; "))
        return ctx.skip(_("no integration has a count from the other system (sync_counts from an integration probe, "
                          "records_reported from the connector, [integrations.<tenant>] in crm-audit.toml, or a "
                          "crm_audit_integration_counts plugin)"))
    unknown_differ = sorted(n for n, objs in unknown.items() if any(e["differs"] for e in objs.values()))
    parts = [ngettext("{count} of {n} integration hold a different number of records than the other system reports "
                      "(tolerance {tolerance})",
                      "{count} of {n} integrations hold a different number of records than the other system reports "
                      "(tolerance {tolerance})",
                      len(compared), count=len(ids), tolerance=Percent(tolerance, 0))]
    if unknown:
        parts.append(ngettext("the other system also reports counts for {n} integration the CRM does not list "
                              "({names}), {differ} of them different from the records whose source_detail names them",
                              "the other system also reports counts for {n} integrations the CRM does not list "
                              "({names}), {differ} of them different from the records whose source_detail names them",
                              len(unknown), names=sorted(unknown), differ=len(unknown_differ)))
    if missing:
        parts.append(ngettext("{n} count could not be read", "{n} counts could not be read", len(missing)))
    message = Message.join(parts, "; ") if len(parts) > 1 else parts[0]
    metrics = {"counts": counts, "by_object": by_object, "unknown_integrations": unknown, "missing": missing,
               "not_compared": not_compared, "tolerance": tolerance}
    result = ctx.result(ids=ids, population=len(compared), details=details, metrics=metrics, message=message,
                        failed=bool(ids or unknown_differ))
    return _with_reason(result, notes)


# --------------------------------------------------------------------------- campaign-count-sanity


def _rule_id(rule: tuple[str, str, str]) -> str:
    """The rule as metrics name it (``"delivered > sent"``, stable English)."""
    return f"{rule[1]} > {rule[2]}"


def _rule_text(rule: tuple[str, str, str]):
    return _("{larger} > {smaller}", larger=_measure_label(rule[1]), smaller=_measure_label(rule[2]))


def _broken(counts: dict, rules) -> list:
    out = []
    for rule in rules:
        big, small = counts.get(rule[1]), counts.get(rule[2])
        if big is not None and small is not None and big > small:
            out.append(_("{big} {larger} > {small} {smaller}", big=big, larger=_measure_label(rule[1]), small=small,
                         smaller=_measure_label(rule[2])))
    return out


def _split_by_source(groups: dict) -> tuple[dict, list]:
    """Per (integration, campaign, measure) and per source: the latest row with a value
    (``(integration, campaign, measure, source)`` keys); a group with no value at all gives
    missing lines. Rows of one source are re-reads of one count; different sources are
    different campaigns of one title."""
    chosen, missing = {}, []
    for (integ, key, measure), rows in groups.items():
        valued = [r for r in rows if r["value"] is not None]
        if not valued:
            missing.extend(_missing_line(r) for r in rows)
            continue
        by_source: dict[str, list[dict]] = {}
        for r in valued:
            by_source.setdefault(str(r["source"] or "").strip(), []).append(r)
        for source, same in by_source.items():
            chosen[(integ, key, measure, source)] = _latest(same)
    return chosen, missing


# (violation key, measure): the CRM's responses above the tool's; the CRM's sent off the tool's by > sent_tolerance
CROSS_RULES = (("crm_responses_gt_tool_responses", "responses"), ("sent_differs_from_tool", "sent"))


def _total(rows, measure: str) -> int | None:
    """``measure`` summed over ``rows``; None when any of them lacks it."""
    values = [r.get(measure) for r in rows]
    return None if any(v is None for v in values) else sum(int(v) for v in values)


def _cross_checks(matches: list[dict], parts: dict, who: str, title: str, src: str, tolerance: float,
                  violations: dict) -> list:
    """The CRM's campaigns of one title against the sending tool's. With several on either
    side, which is which cannot be told by the title, so each side's counts are summed over
    its campaigns of that title (a sum only when every campaign has the count)."""
    found = []
    single = len(matches) == 1 and len(parts) == 1
    for key, measure in CROSS_RULES:
        crm, tool = _total(matches, measure), _total(parts.values(), measure)
        if crm is None or tool is None:
            continue
        if not (crm > tool if measure == "responses" else abs(crm - tool) > tolerance * tool):
            continue
        violations[key] += 1
        values = dict(crm=crm, who=who, tool=tool)
        if single and measure == "responses":
            found.append(_("the CRM records {crm} responses, {who} {tool} ({sources})", sources=src, **values) if src
                         else _("the CRM records {crm} responses, {who} {tool}", **values))
        elif single:
            found.append(_("the CRM says {crm} sent, {who} {tool} ({sources})", sources=src, **values) if src else
                         _("the CRM says {crm} sent, {who} {tool}", **values))
        elif measure == "responses":
            found.append(ngettext(
                "the CRM records {crm} responses on its {n} campaign named {name}, {who} {tool} on all its campaigns "
                "of that name ({sources})",
                "the CRM records {crm} responses over its {n} campaigns named {name}, {who} {tool} over all its "
                "campaigns of that name ({sources})", len(matches), name=title, sources=src or "-", **values))
        else:
            found.append(ngettext(
                "the CRM says {crm} sent on its {n} campaign named {name}, {who} {tool} on all its campaigns of that "
                "name ({sources})",
                "the CRM says {crm} sent over its {n} campaigns named {name}, {who} {tool} over all its campaigns of "
                "that name ({sources})", len(matches), name=title, sources=src or "-", **values))
    return found


@check(
    id="integrations.campaign-count-sanity",
    title="Campaigns with impossible counts",
    step="integrations",
    area="usage",
    severity="medium",
    # No `needs`: without the CRM's campaigns the sending tool's own counts are still checked.
    needs={},
    settings={"sent_tolerance": 0.05},
    settings_help={"sent_tolerance": "the largest accepted difference between the CRM's sent count and the sending "
                                     "tool's, as a share of the tool's"},
    description=(
        "A survey sent to 1,000 people cannot have 1,100 responses: counts like responses > sent, opened > "
        "delivered or delivered > sent, in the CRM or in the sending tool, show a broken sync between the CRM "
        "and the marketing tool. So do CRM counts the tool contradicts: more responses in the CRM than the tool "
        "recorded, or a different number sent."
    ),
    remediation=(
        "Compare the campaigns listed with the figures in the sending tool; fix the integration that writes "
        "the counts (double counting, a re-sync that adds instead of replacing) and correct the records."
    ),
)
def campaign_count_sanity(ctx):
    has_campaigns = ctx.supplied("campaigns", "id") and ctx.supplied("campaigns", "name")
    supplied = {c for c in ("sent", "delivered", "opened", "responses") if has_campaigns and ctx.supplied("campaigns", c)}
    crm_rules = [r for r in CAMPAIGN_RULES if {r[1], r[2]} <= supplied]
    rows, unreadable = _sync_counts(
        ctx, "lower(trim(object)) = 'campaigns' AND lower(trim(measure)) IN ('sent', 'delivered', 'opened', "
             "'responses', 'recipients')")
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((_norm(r["integration"]), _norm(r["key"]), _norm(r["measure"])), []).append(r)
    chosen, missing = _split_by_source(groups)
    # (integration, campaign title) -> {"parts": {source: {measure: value}}, ...}: campaigns of one
    # title in the sending tool are told apart by their source (a probe names the campaign's id
    # there), each judged on its own and their counts summed against the CRM's campaigns of that title
    tool: dict[tuple[str, str], dict] = {}
    for (integ, key, measure, source), r in sorted(chosen.items()):
        if not key:
            continue  # a total over all campaigns says nothing about one campaign
        entry = tool.setdefault((integ, key), {"integration": str(r["integration"]).strip(),
                                               "campaign": str(r["key"]).strip(), "parts": {}})
        entry["parts"].setdefault(source, {})[measure] = int(r["value"])
    not_evaluated = []
    for rule in CAMPAIGN_RULES:
        if rule not in crm_rules:
            lacking = [f"campaigns.{c}" for c in (rule[1], rule[2]) if c not in supplied]
            not_evaluated.append(_("{rule} in the CRM ({columns} not supplied)", rule=_rule_text(rule), columns=lacking))
    campaigns_table = _("the {table} table", table="campaigns")
    if not crm_rules and not tool:
        if not has_campaigns:
            reasons = [_("{reason} (nor does any integration probe report campaign counts)",
                         reason=ctx.not_supplied(campaigns_table))]
        elif supplied:
            reasons = [_("needs campaigns with at least one pair of counts (sent and delivered, delivered and opened, "
                         "or sent and responses) or the sending tool's campaign counts in sync_counts; the connector "
                         "supplied {columns}", columns=[f"campaigns.{c}" for c in sorted(supplied)])]
        else:
            reasons = [_("needs campaigns with at least one pair of counts (sent and delivered, delivered and opened, "
                         "or sent and responses) or the sending tool's campaign counts in sync_counts; the connector "
                         "supplied none of these counts")]
        if unreadable:
            reasons.append(unreadable)
        if missing:
            reasons.append(_counts_missing(missing))
        return ctx.skip(Message.join(reasons, "; ") if len(reasons) > 1 else reasons[0])
    cols = ", ".join(c if c in supplied else f"NULL AS {c}" for c in ("sent", "delivered", "opened", "responses"))
    campaigns = ctx.rows(f"SELECT id, name, {cols} FROM campaigns ORDER BY id") if has_campaigns else []
    if has_campaigns and not campaigns and not tool:
        # an empty population is not a pass: there was nothing to hold to the rules
        reasons = [_("the CRM holds no campaigns, and no integration probe reports campaign counts")]
        if unreadable:
            reasons.append(unreadable)
        if missing:
            reasons.append(_counts_missing(missing))
        return ctx.skip(Message.join(reasons, "; ") if len(reasons) > 1 else reasons[0])
    by_name: dict[str, list[dict]] = {}
    for c in campaigns:
        by_name.setdefault(_norm(c["name"]), []).append(c)
    tolerance = float(ctx.settings["sent_tolerance"])
    problems: dict[str, list] = {}
    violations = {r[0]: 0 for r in CAMPAIGN_RULES}
    violations.update({f"tool_{r[0]}": 0 for r in TOOL_RULES})
    violations.update({"crm_responses_gt_tool_responses": 0, "sent_differs_from_tool": 0})
    for c in campaigns:
        counts = {k: (None if c[k] is None else int(c[k])) for k in ("sent", "delivered", "opened", "responses")}
        for rule in crm_rules:
            found = _broken(counts, [rule])
            if found:
                violations[rule[0]] += 1
                problems.setdefault(str(c["id"]), []).extend(_("the CRM has {counts}", counts=x) for x in found)
    unmatched: dict[str, list] = {}
    for (integ, key), t in sorted(tool.items()):
        who, parts = t["integration"], t["parts"]
        src = "; ".join(sorted(source for source in parts if source))
        own = []
        for source, counts in sorted(parts.items()):
            for rule in TOOL_RULES:
                found = _broken(counts, [rule])
                if found:
                    violations[f"tool_{rule[0]}"] += 1
                    own.extend(_("{who} has {counts} ({sources})", who=who, counts=x, sources=source) if source else
                               _("{who} has {counts}", who=who, counts=x) for x in found)
        matches = by_name.get(key, [])
        if not matches:
            if own:
                unmatched[f"{who}: '{t['campaign']}'"] = own
            continue
        cross = _cross_checks(matches, parts, who, t["campaign"], src, tolerance, violations)
        for c in matches:
            found = own + cross
            if found:
                problems.setdefault(str(c["id"]), []).extend(found)
    names = {str(c["id"]): c["name"] for c in campaigns}
    ids = [str(c["id"]) for c in campaigns if str(c["id"]) in problems]
    details = {rid: _("{name}: {problems}", name=str(names[rid]), problems=Message.join(problems[rid], "; "))
               for rid in ids}
    tool_names = {k for _i, k in tool}
    matched = sum(1 for key in tool_names if key in by_name)
    tool_campaigns = sum(len(t["parts"]) for t in tool.values())
    if campaigns:
        message = ngettext("{count} of {n} campaign have counts that cannot be true",
                           "{count} of {n} campaigns have counts that cannot be true", len(campaigns), count=len(ids))
    else:
        tool_bad = sum(1 for t in tool.values() for counts in t["parts"].values() if _broken(counts, TOOL_RULES))
        message = ngettext("the CRM holds no campaigns; {count} of {n} campaign in the sending tool have counts that "
                           "cannot be true",
                           "the CRM holds no campaigns; {count} of {n} campaigns in the sending tool have counts that "
                           "cannot be true", tool_campaigns, count=tool_bad)
    if tool and campaigns:
        message = Message.join([message, ngettext(
            "(the sending tool reports counts for {n} campaign, {matched} of them found in the CRM by name)",
            "(the sending tool reports counts for {n} campaigns, {matched} of them found in the CRM by name)",
            len(tool_names), matched=matched)], " ")
    if unmatched and campaigns:
        message = Message.join([message, ngettext(
            "{n} campaign the CRM does not hold also has impossible counts in the sending tool: {names}",
            "{n} campaigns the CRM does not hold also have impossible counts in the sending tool: {names}",
            len(unmatched), names=sorted(unmatched))], "; ")
    notes = []
    if missing:
        notes.append(_counts_missing(missing))
    if unreadable:
        notes.append(unreadable)
    if not has_campaigns:
        notes.append(_("{reason}; only the sending tool's own counts were checked",
                       reason=ctx.not_supplied(campaigns_table)))
    elif not_evaluated:
        notes.append(_("rules not evaluated: {rules}", rules=Message.join(not_evaluated, "; ")))
    metrics = {"rule_violations": violations, "rules_evaluated": [_rule_id(r) for r in crm_rules],
               "rules_not_evaluated": not_evaluated, "tool_campaigns": len(tool_names),
               "tool_campaigns_in_crm": matched, "tool_campaigns_not_in_crm": unmatched, "missing": missing,
               "sent_tolerance": tolerance}
    population = len(campaigns) if campaigns else tool_campaigns
    result = ctx.result(ids=ids, population=population, details=details, metrics=metrics, message=message,
                        failed=bool(ids or unmatched))
    return _with_reason(result, notes)


CHECKS = (campaign_count_sanity, sync_count_mismatch)
