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

from crm_audit_core import check

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


def _plural(n: int, noun: str, many: str | None = None) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {many or noun + 's'}"


def _sync_counts(ctx, where: str, **params) -> tuple[list[dict], str | None]:
    """Rows of ``sync_counts`` matching ``where`` (every column, None where not supplied),
    or ([], why) when the table or its required columns were not supplied."""
    if not ctx.supplied("sync_counts"):
        return [], None
    lacking = [c for c in SYNC_REQUIRED if not ctx.supplied("sync_counts", c)]
    if lacking:
        return [], f"sync_counts lacks {', '.join(lacking)}, so the other system's counts cannot be read"
    cols = ", ".join(c if ctx.supplied("sync_counts", c) else f"NULL AS {c}" for c in SYNC_COLUMNS)
    return ctx.rows(f"SELECT {cols} FROM sync_counts WHERE {where} ORDER BY probe, integration, object, key, measure",
                    **params), None


def _missing_line(row: dict) -> str:
    """'mailchimp contacts records (probe mailchimp (tenant x): 401 ...)'"""
    who = row["probe"] or row["integration"]
    what = f"{who} {row['object']} {row['measure']}"
    if row["key"]:
        what += f" of '{row['key']}'"
    return f"{what} ({row['missing'] or 'no value and no reason given'})"


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


def _with_reason(result, notes: list[str]):
    if notes:
        result.reason = "; ".join(notes)
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


def _gap(held: int, reported: int) -> str:
    return f"{(held - reported) / reported:+.1%}" if reported else "the other system reports none"


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
        return ctx.skip("no contacts, companies or deals with source_detail were supplied, so the records "
                        "integrations created cannot be counted")
    tolerance = float(ctx.settings["tolerance"])
    crm = _crm_record_counts(ctx)
    listed: dict[str, tuple[str, str]] = {}
    for r in ctx.rows("SELECT id, name FROM integrations WHERE name IS NOT NULL ORDER BY id"):
        listed.setdefault(_norm(r["name"]), (str(r["id"]), str(r["name"]).strip()))
    ids, details, notes = [], {}, []
    compared: set[str] = set()

    def flag(rid: str, text: str) -> None:
        if rid not in details:
            ids.append(rid)
        details[rid] = f"{details[rid]}; {text}" if rid in details else text

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
        source = r["source"] or (f"probe {r['probe']}" if r["probe"] else "sync_counts")
        won = measure == "won"
        label = "won deals" if won else obj
        if obj not in RECORD_TABLES or not ctx.supplied(obj, "source_detail") or (won and obj != "deals") \
                or (won and not ctx.supplied("deals", "is_won")):
            not_compared.append(f"{name} {label} ({source} reports {reported:,}; the CRM's {obj} carry no "
                                f"{'is_won and ' if won else ''}source_detail to count)")
            continue
        held = crm.get(("deals:won" if won else obj, key), 0)
        crm_source = f"CRM: {label} whose source_detail is '{name}'"
        entry = {"reported": reported, "in_crm": held, "source": source, "crm_source": crm_source}
        text = (f"{name} {label}: the CRM holds {held:,} ({crm_source}), {source} reports {reported:,} "
                f"({_gap(held, reported)})")
        if rid is None:
            entry["differs"] = _differs(held, reported, tolerance)
            unknown.setdefault(name, {})[label] = entry
            continue
        compared.add(rid)
        by_object.setdefault(name, {})[label] = entry
        if _differs(held, reported, tolerance):
            flag(rid, text)
    if missing:
        notes.insert(0, "counts missing: " + "; ".join(missing))
    if not_compared:
        notes.append("not compared: " + "; ".join(not_compared))

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
                flag(rid, f"{name}: the CRM holds {held:,} records (CRM: contacts, companies and deals whose "
                          f"source_detail is '{name}'), the other system reports {reported:,} "
                          f"(integrations.records_reported) ({_gap(held, reported)})")

    if not compared and not unknown:
        if notes:
            return ctx.skip("; ".join(notes))
        return ctx.skip("no integration has a count from the other system (sync_counts from an integration probe, "
                        "records_reported from the connector, [integrations.<tenant>] in crm-audit.toml, or a "
                        "crm_audit_integration_counts plugin)")
    unknown_differ = sorted(n for n, objs in unknown.items() if any(e["differs"] for e in objs.values()))
    message = (f"{len(ids)} of {_plural(len(compared), 'integration')} hold a different number of records than "
               f"the other system reports (tolerance {tolerance:.0%})")
    if unknown:
        message += (f"; the other system also reports counts for {_plural(len(unknown), 'integration')} the CRM "
                    f"does not list ({', '.join(sorted(unknown))}), {len(unknown_differ)} of them different from "
                    "the records whose source_detail names them")
    if missing:
        message += f"; {_plural(len(missing), 'count')} could not be read"
    metrics = {"counts": counts, "by_object": by_object, "unknown_integrations": unknown, "missing": missing,
               "not_compared": not_compared, "tolerance": tolerance}
    result = ctx.result(ids=ids, population=len(compared), details=details, metrics=metrics, message=message,
                        failed=bool(ids or unknown_differ))
    return _with_reason(result, notes)


# --------------------------------------------------------------------------- campaign-count-sanity


def _rule_text(rule: tuple[str, str, str]) -> str:
    return f"{rule[1]} > {rule[2]}"


def _broken(counts: dict, rules) -> list[str]:
    out = []
    for rule in rules:
        big, small = counts.get(rule[1]), counts.get(rule[2])
        if big is not None and small is not None and big > small:
            out.append(f"{big:,} {rule[1]} > {small:,} {rule[2]}")
    return out


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
    chosen, missing = _split_by_value(groups)
    tool: dict[tuple[str, str], dict] = {}  # (integration, campaign name) -> {measure: value, ...}
    for (integ, key, measure), r in sorted(chosen.items()):
        if not key:
            continue  # a total over all campaigns says nothing about one campaign
        entry = tool.setdefault((integ, key), {"integration": str(r["integration"]).strip(),
                                               "campaign": str(r["key"]).strip(), "sources": set()})
        entry[measure] = int(r["value"])
        if r["source"]:
            entry["sources"].add(str(r["source"]))
    not_evaluated = []
    for rule in CAMPAIGN_RULES:
        if rule not in crm_rules:
            lacking = ", ".join(f"campaigns.{c}" for c in (rule[1], rule[2]) if c not in supplied)
            not_evaluated.append(f"{_rule_text(rule)} in the CRM ({lacking} not supplied)")
    if not crm_rules and not tool:
        if not has_campaigns:
            reasons = [ctx.not_supplied("the campaigns table") + " (nor does any integration probe report campaign counts)"]
        else:
            reasons = [f"needs campaigns with at least one pair of counts (sent and delivered, delivered and opened, or "
                       f"sent and responses) or the sending tool's campaign counts in sync_counts; the connector "
                       f"supplied {', '.join(f'campaigns.{c}' for c in sorted(supplied)) or 'none of these counts'}"]
        if unreadable:
            reasons.append(unreadable)
        if missing:
            reasons.append("counts missing: " + "; ".join(missing))
        return ctx.skip("; ".join(reasons))
    cols = ", ".join(c if c in supplied else f"NULL AS {c}" for c in ("sent", "delivered", "opened", "responses"))
    campaigns = ctx.rows(f"SELECT id, name, {cols} FROM campaigns ORDER BY id") if has_campaigns else []
    by_name: dict[str, list[dict]] = {}
    for c in campaigns:
        by_name.setdefault(_norm(c["name"]), []).append(c)
    tolerance = float(ctx.settings["sent_tolerance"])
    problems: dict[str, list[str]] = {}
    violations = {r[0]: 0 for r in CAMPAIGN_RULES}
    violations.update({f"tool_{r[0]}": 0 for r in TOOL_RULES})
    violations.update({"crm_responses_gt_tool_responses": 0, "sent_differs_from_tool": 0})
    for c in campaigns:
        counts = {k: (None if c[k] is None else int(c[k])) for k in ("sent", "delivered", "opened", "responses")}
        for rule in crm_rules:
            found = _broken(counts, [rule])
            if found:
                violations[rule[0]] += 1
                problems.setdefault(str(c["id"]), []).extend(f"the CRM has {t}" for t in found)
    unmatched: dict[str, list[str]] = {}
    for (integ, key), t in sorted(tool.items()):
        who = t["integration"]
        src = f" ({'; '.join(sorted(t['sources']))})" if t["sources"] else ""
        own = []
        for rule in TOOL_RULES:
            found = _broken(t, [rule])
            if found:
                violations[f"tool_{rule[0]}"] += 1
                own.extend(f"{who} has {x}{src}" for x in found)
        matches = by_name.get(key, [])
        if not matches:
            if own:
                unmatched[f"{who}: '{t['campaign']}'"] = own
            continue
        for c in matches:
            found = list(own)
            crm_resp, crm_sent = c["responses"], c["sent"]
            if crm_resp is not None and t.get("responses") is not None and int(crm_resp) > t["responses"]:
                violations["crm_responses_gt_tool_responses"] += 1
                found.append(f"the CRM records {int(crm_resp):,} responses, {who} {t['responses']:,}{src}")
            if crm_sent is not None and t.get("sent") is not None and \
                    abs(int(crm_sent) - t["sent"]) > tolerance * t["sent"]:
                violations["sent_differs_from_tool"] += 1
                found.append(f"the CRM says {int(crm_sent):,} sent, {who} {t['sent']:,}{src}")
            if found:
                problems.setdefault(str(c["id"]), []).extend(found)
    names = {str(c["id"]): c["name"] for c in campaigns}
    ids = [str(c["id"]) for c in campaigns if str(c["id"]) in problems]
    details = {rid: f"{names[rid]}: {'; '.join(problems[rid])}" for rid in ids}
    matched = sum(1 for key in {k for _, k in tool} if key in by_name)
    if has_campaigns:
        message = f"{len(ids)} of {_plural(len(campaigns), 'campaign')} have counts that cannot be true"
    else:
        tool_bad = sum(1 for t in tool.values() if _broken(t, TOOL_RULES))
        message = (f"the CRM holds no campaigns; {tool_bad} of {_plural(len(tool), 'campaign')} in the sending tool "
                   "have counts that cannot be true")
    if tool and has_campaigns:
        message += (f" (the sending tool reports counts for {_plural(len({k for _, k in tool}), 'campaign')}, "
                    f"{matched} of them found in the CRM by name)")
    if unmatched and has_campaigns:
        message += (f"; {_plural(len(unmatched), 'campaign')} the CRM does not hold also have impossible counts "
                    f"in the sending tool: {', '.join(sorted(unmatched))}")
    notes = []
    if missing:
        notes.append("counts missing: " + "; ".join(missing))
    if unreadable:
        notes.append(unreadable)
    if not has_campaigns:
        notes.append(ctx.not_supplied("the campaigns table") + "; only the sending tool's own counts were checked")
    elif not_evaluated:
        notes.append("rules not evaluated: " + "; ".join(not_evaluated))
    metrics = {"rule_violations": violations, "rules_evaluated": [_rule_text(r) for r in crm_rules],
               "rules_not_evaluated": not_evaluated, "tool_campaigns": len({k for _, k in tool}),
               "tool_campaigns_in_crm": matched, "tool_campaigns_not_in_crm": unmatched, "missing": missing,
               "sent_tolerance": tolerance}
    population = len(campaigns) if has_campaigns else len(tool)
    result = ctx.result(ids=ids, population=population, details=details, metrics=metrics, message=message,
                        failed=bool(ids or unmatched))
    return _with_reason(result, notes)


CHECKS = (campaign_count_sanity, sync_count_mismatch)
