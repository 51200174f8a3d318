"""Standard checks: duplicates (Part 2, step 3: "the same customer twice is two half-truths").

The three duplicate checks report clusters (``groups``) of records that are one
customer, company or deal, with the record to keep, a merge plan and, for contacts and
companies, the match probability of each pair and the weight of every field. Contacts
and companies are matched by the Fellegi-Sunter model of :mod:`crm_audit_checks.linkage`
(learned per tenant, on whatever columns it has); deals by the rules of
:func:`crm_audit_checks.matching.match_deals`. The clusters are memoised per tenant in
``ctx.shared`` so that ``integrations.duplicates-by-source`` reads the same clusters
instead of recomputing (or re-implementing) them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from crm_audit_core import ConfigError, Message, check

from . import matching
from .i18n import _, ngettext
from .linkage import merge
from .linkage import tenant as tenant_linkage
from .linkage import texts

# Fields whose filling decides which record of a cluster to keep.
KEEP_FIELDS = {
    "contacts": ("first_name", "last_name", "email", "phone", "title", "company_id", "company_name",
                 "lifecycle_stage", "lead_status", "owner_id", "street", "city", "state", "postal_code", "country"),
    "companies": ("name", "domain", "industry", "phone", "street", "city", "state", "postal_code", "country", "owner_id"),
    "deals": ("name", "amount", "currency", "pipeline", "stage", "close_date", "owner_id", "company_id", "contact_id"),
}

CONTACT_SETTINGS = {
    "threshold": 0.9,
    "identifiers": [],
    "keep": "most complete",
    "max_block": 50,
}
CONTACT_SETTINGS_HELP = {
    "threshold": "two contacts are one person when the model learned on this tenant gives them at least this match probability (0-1)",
    "identifiers": "columns (canonical or custom, e.g. [\"cf_tax_id\", \"cf_date_of_birth\"]) that identify a person: strong evidence when equal, against when different",
    "keep": "which record of a group to keep: \"most complete\", \"most activity\" or \"oldest\" (ties: most recently updated, then lowest id)",
    "max_block": "e-mails, phones, identifiers or company/address+name keys shared by more records than this are ignored (switchboards, info@ addresses)",
}
COMPANY_SETTINGS = {"threshold": 0.9, "identifiers": [], "keep": "most complete", "max_block": 50}
COMPANY_SETTINGS_HELP = {
    "threshold": "two companies are one when the model learned on this tenant gives them at least this match probability (0-1)",
    "identifiers": "columns (canonical or custom, e.g. [\"cf_business_registration_no\", \"cf_npwp\"]) that identify a company: strong evidence when equal, against when different",
    "keep": "which record of a group to keep: \"most complete\", \"most activity\" or \"oldest\"",
    "max_block": "domains, phones, identifiers or name keys shared by more companies than this are ignored",
}
DEAL_SETTINGS = {"name_threshold": 0.90, "amount_tolerance": 0.01, "keep": "most complete", "max_block": 200}
DEAL_SETTINGS_HELP = {
    "keep": "which record of a group to keep: \"most complete\", \"most activity\" or \"oldest\"",
    "name_threshold": "two deals of the same company (or contact) are one when their names are at least this similar (0-1)",
    "amount_tolerance": "... and their amounts differ by at most this share of the larger amount",
    "max_block": "companies with more deals than this are not compared pairwise",
}


@dataclass
class Clusters:
    """Duplicate clusters of one table, with what the reports need about their records."""

    table: str
    groups: list[list[str]]
    keepers: dict[int, matching.Keeper]  # group index -> keeper
    records: dict[str, dict]  # id -> row (clustered ids only)
    evidence: Counter = field(default_factory=Counter)  # rule -> matching pairs
    candidate_pairs: int = 0
    population: int = 0
    plans: dict = field(default_factory=dict)  # group index -> linkage.merge.Plan
    pairs: dict = field(default_factory=dict)  # group index -> [linkage.engine.Pair]
    model: dict | None = None  # the learned model (linkage.fs.Model.describe())
    available: dict = field(default_factory=dict)  # which evidence the tenant's columns gave

    def duplicates(self):
        """(duplicate id, keeper) for every non-kept record."""
        for index, group in enumerate(self.groups):
            keeper = self.keepers[index]
            for rid in group:
                if rid != keeper.id:
                    yield rid, keeper

    def copies(self):
        """(copy id, original id): every record of a group except its oldest (the original).

        This is who *created* a duplicate: the integration or import that inserted a
        record which already existed. It does not depend on which record is kept.
        Without ``created_at`` the non-kept records count as the copies.
        """
        for index, group in enumerate(self.groups):
            stamps = [self.records.get(i, {}).get("created_at") for i in group]
            if any(s is None for s in stamps):
                keeper = self.keepers[index].id
                for rid in group:
                    if rid != keeper:
                        yield rid, keeper
                continue
            original = min(group, key=lambda i: (self.records[i]["created_at"], matching._id_order(i)))
            for rid in group:
                if rid != original:
                    yield rid, original


# --------------------------------------------------------------------------- shared entry


def contact_clusters(ctx) -> Clusters:
    """Contact clusters for this tenant, with data.duplicate-contacts' settings; computed once per audit."""
    return _memo(ctx, "contacts", ctx.settings_for(duplicate_contacts), _contact_clusters)


def company_clusters(ctx) -> Clusters:
    """Company clusters for this tenant, with data.duplicate-companies' settings; computed once per audit."""
    return _memo(ctx, "companies", ctx.settings_for(duplicate_companies), _company_clusters)


def deal_clusters(ctx) -> Clusters:
    """Deal clusters for this tenant, with data.duplicate-deals' settings; computed once per audit."""
    return _memo(ctx, "deals", ctx.settings_for(duplicate_deals), _deal_clusters)


def _memo(ctx, table: str, settings: dict, compute) -> Clusters:
    key = f"duplicates.{table}"
    frozen = tuple(sorted(settings.items()))
    hit = ctx.shared.get(key)
    if hit is not None and hit[0] == frozen:
        return hit[1]
    try:
        found = compute(ctx, settings)
    finally:
        # the normalisers' memo of this tenant's values (names, phones: up to 350 MB at 1M
        # contacts) is of no use to the next table or tenant; the company names' is (the
        # contact and company checks both normalise them) and stays, bounded (clear_caches)
        matching.clear_caches()
    ctx.shared[key] = (frozen, found)
    return found


# --------------------------------------------------------------------------- SQL helpers


def _candidate_pairs(ctx, keys_sql: str, max_block: int, **params) -> list[tuple[str, str]]:
    """Distinct (a, b) id pairs, a < b, of records sharing a blocking key of ``keys_sql``."""
    return tenant_linkage.candidate_pairs(ctx, keys_sql, max_block, **params)


def _rows_by_id(ctx, table: str, columns: list[str], ids: list[str]) -> dict[str, dict]:
    return tenant_linkage._rows(ctx, table, columns, ids)


def _supplied_columns(ctx, table: str, wanted) -> list[str]:
    return [c for c in wanted if ctx.supplied(table, c)]


ACTIVITY_LINK = {"contacts": "contact_id", "companies": "company_id", "deals": "deal_id"}


def _activity_counts(ctx, table: str, ids: list[str]) -> dict[str, int]:
    column = ACTIVITY_LINK[table]
    if not ids or not ctx.supplied("activities", column):
        return {}
    return {str(r[0]): int(r[1]) for r in ctx.sql(
        f"SELECT {column}, count(*) FROM activities WHERE {column} IN (SELECT unnest($ids)) GROUP BY 1",
        ids=ids).fetchall()}


def _finish(ctx, table: str, pairs_matched: list[tuple[str, str, str]], candidate_pairs: int,
            keep: str = "most complete", linked=None) -> Clusters:
    groups = matching.clusters((a, b) for a, b, _ in pairs_matched)
    ids = [i for g in groups for i in g]
    fields = _supplied_columns(ctx, table, KEEP_FIELDS[table])
    extra = [c for c in ("updated_at", "created_at", "source", "source_detail") if ctx.supplied(table, c)]
    records = _rows_by_id(ctx, table, ["id", *fields, *extra], ids)
    activity = _activity_counts(ctx, table, ids) if keep == "most activity" else None
    keepers, plans = {}, {}
    for index, group in enumerate(groups):
        members = [records[i] for i in group if i in records]
        keepers[index] = merge.choose_keeper(members, fields, keep, activity)
        plans[index] = merge.plan(members, fields, keepers[index])
    by_group: dict = {}
    if linked is not None:
        group_of = {rid: index for index, group in enumerate(groups) for rid in group}
        for pair in linked.pairs:
            by_group.setdefault(group_of[pair.a], []).append(pair)
    return Clusters(
        table=table,
        groups=groups,
        keepers=keepers,
        records=records,
        evidence=Counter(rule for _, _, rule in pairs_matched),
        candidate_pairs=candidate_pairs,
        population=ctx.count(table),
        plans=plans,
        pairs=by_group,
        model=linked.model.describe() if linked is not None else None,
    )


def _keep_rule(settings: dict, check_id: str) -> str:
    rule = str(settings.get("keep", "most complete"))
    if rule not in merge.KEEP_RULES:
        raise ConfigError(f"checks.{check_id}.keep = {rule!r} is not a keep rule",
                          hint=f"use one of: {', '.join(merge.KEEP_RULES)}")
    return rule


# --------------------------------------------------------------------------- contacts


def _contact_clusters(ctx, settings: dict) -> Clusters:
    keep = _keep_rule(settings, "data.duplicate-contacts")
    linked, available = tenant_linkage.contact_linkage(ctx, settings)
    matched = [(p.a, p.b, p.evidence) for p in linked.pairs]
    found = _finish(ctx, "contacts", matched, linked.candidate_pairs, keep, linked)
    found.available = available
    return found


# --------------------------------------------------------------------------- companies


def _company_clusters(ctx, settings: dict) -> Clusters:
    keep = _keep_rule(settings, "data.duplicate-companies")
    linked, available = tenant_linkage.company_linkage(ctx, settings)
    matched = [(p.a, p.b, p.evidence) for p in linked.pairs]
    found = _finish(ctx, "companies", matched, linked.candidate_pairs, keep, linked)
    found.available = available
    return found


# --------------------------------------------------------------------------- deals


def _deal_clusters(ctx, settings: dict) -> Clusters:
    has = {c: ctx.supplied("deals", c) for c in ("company_id", "contact_id", "amount", "pipeline")}
    account = ("coalesce(nullif(trim(company_id), ''), nullif(trim(contact_id), ''))"
               if has["company_id"] and has["contact_id"]
               else "nullif(trim(company_id), '')" if has["company_id"] else "nullif(trim(contact_id), '')")
    pairs = _candidate_pairs(ctx, f"SELECT id, 'a:' || {account} AS key FROM deals", int(settings["max_block"]))
    ids = sorted({i for p in pairs for i in p})
    cols = ["id", "name", *[c for c, ok in has.items() if ok]]
    rows = _rows_by_id(ctx, "deals", cols, ids)
    keys = {rid: matching.deal_keys(rid, r.get("name"), r.get("company_id"), r.get("contact_id"), r.get("amount"),
                                    r.get("pipeline"))
            for rid, r in rows.items()}
    threshold, tolerance = float(settings["name_threshold"]), float(settings["amount_tolerance"])
    matched = []
    for a, b in pairs:
        rule = matching.match_deals(keys[a], keys[b], name_threshold=threshold, amount_tolerance=tolerance)
        if rule:
            matched.append((a, b, rule))
    found = _finish(ctx, "deals", matched, len(pairs), _keep_rule(settings, "data.duplicate-deals"))
    found.available = {"compared": ["deal name", *[{"company_id": "company", "contact_id": "contact", "amount": "amount",
                                                   "pipeline": "pipeline"}[c] for c, ok in has.items() if ok]]}
    return found


# --------------------------------------------------------------------------- reporting


MAX_PLAN_ROWS = 5000  # pair rows kept in report.json (the merge plan's CSV has every record)


def _summary(table: str, groups: int, records: int, merge_count: int, population: int) -> Message:
    """The check's message, one whole sentence per table."""
    values = {"records": records, "merge": merge_count, "population": population}
    if table == "contacts":
        return ngettext("{n} group of duplicate contacts ({records} records, {merge} to merge) among {population}",
                        "{n} groups of duplicate contacts ({records} records, {merge} to merge) among {population}",
                        groups, **values)
    if table == "companies":
        return ngettext("{n} group of duplicate companies ({records} records, {merge} to merge) among {population}",
                        "{n} groups of duplicate companies ({records} records, {merge} to merge) among {population}",
                        groups, **values)
    return ngettext("{n} group of duplicate deals ({records} records, {merge} to merge) among {population}",
                    "{n} groups of duplicate deals ({records} records, {merge} to merge) among {population}",
                    groups, **values)


def _chart_texts(table: str) -> tuple[Message, Message]:
    """(title, axis label) of the duplicates-by-source chart of ``table``."""
    if table == "contacts":
        return _("Duplicate contacts by the source that created them"), _("duplicate contacts")
    if table == "companies":
        return _("Duplicate companies by the source that created them"), _("duplicate companies")
    return _("Duplicate deals by the source that created them"), _("duplicate deals")


def _keeper_text(keeper: matching.Keeper, others: list[str]) -> Message:
    rule = texts.keep_rule(keeper.rule)
    if keeper.updated_at:
        return ngettext("keep this record ({rule}: {filled} of {n} field filled, updated {updated}); "
                        "merge {others} into it",
                        "keep this record ({rule}: {filled} of {n} fields filled, updated {updated}); "
                        "merge {others} into it",
                        keeper.fields, rule=rule, filled=keeper.filled, updated=keeper.updated_at, others=others)
    return ngettext("keep this record ({rule}: {filled} of {n} field filled); merge {others} into it",
                    "keep this record ({rule}: {filled} of {n} fields filled); merge {others} into it",
                    keeper.fields, rule=rule, filled=keeper.filled, others=others)


def _source_text(source: str) -> str:
    """Who created a record, for the reader ("unknown" translated; a source's name as it is)."""
    return _("unknown") if source == "unknown" else source


def _report(ctx, found: Clusters, table: str):
    details: dict[str, str] = {}
    by_source: Counter = Counter()
    keep_rules: Counter = Counter()
    sizes: Counter = Counter()
    pair_rows: list[dict] = []
    for index, group in enumerate(found.groups):
        keeper = found.keepers[index]
        keep_rules[keeper.rule] += 1
        sizes[str(len(group))] += 1
        others = [i for i in group if i != keeper.id]
        plan = found.plans.get(index)
        parts = [_keeper_text(keeper, others)]
        if plan is not None and plan.carry_over:
            carried = [_("{field} from {record}", field=f, record=src)
                       for f, (src, _v) in sorted(plan.carry_over.items())]
            parts.append(_("carry over {values}", values=carried))
        pairs = found.pairs.get(index, [])
        if pairs:
            why = [p.explain() for p in pairs[:3]]
            if len(pairs) > 3:
                why.append(ngettext("and {n} more pair", "and {n} more pairs", len(pairs) - 3))
            parts.append(Message.join(why, " | "))
        details[keeper.id] = Message.join(parts, "; ")
        for pair in pairs:
            if len(pair_rows) >= MAX_PLAN_ROWS:
                break
            pair_rows.append({"group": index + 1, "a": pair.a, "b": pair.b, "probability": round(pair.probability, 4),
                              "fields": [{"field": label, "level": level, "bits": bits}
                                         for label, level, bits in pair.fields]})
    for rid, keeper in found.duplicates():
        described = keeper.describe()
        source = _source_text(matching.creator(found.records.get(rid, {})))
        details[rid] = _("duplicate of {keeper} ({keep}); created by {source}", keeper=keeper.id, keep=described,
                         source=source)
    for rid, _original in found.copies():
        by_source[matching.creator(found.records.get(rid, {}))] += 1
    ids = sorted(details, key=matching._id_order)
    duplicates = len(ids) - len(found.groups)
    metrics = {
        "clusters": len(found.groups),
        "records": len(ids),
        "duplicates": duplicates,
        "population": found.population,
        "duplicate_share": round(duplicates / found.population, 4) if found.population else 0.0,
        "cluster_sizes": dict(sorted(sizes.items(), key=lambda kv: int(kv[0]))),
        "duplicates_by_source": dict(by_source.most_common()),
        "keep_choices": dict(keep_rules.most_common()),
        "evidence": dict(found.evidence.most_common()),
        "candidate_pairs": found.candidate_pairs,
    }
    if found.available:
        metrics["evidence_used"] = found.available
    if found.model is not None:
        metrics["model"] = found.model
    if pair_rows:
        metrics["pairs"] = pair_rows
    if by_source:
        ranked = by_source.most_common()
        title, axis = _chart_texts(table)
        metrics["charts"] = [{"id": "duplicates-by-source", "title": title,
                              "kind": "barh", "x": [_source_text(str(name)) for name, _n in ranked],
                              "series": {_("duplicates"): [n for _name, n in ranked]}, "x_label": axis}]
    message = _summary(table, len(found.groups), len(ids), duplicates, found.population)
    if found.available.get("compared"):
        compared = [texts.comparison(c) for c in found.available["compared"]]
        missing = list(found.available.get("identifiers_missing") or [])
        if missing:
            message = _("{found}, compared on {fields} (identifiers not in this tenant: {missing})",
                        found=message, fields=compared, missing=missing)
        else:
            message = _("{found}, compared on {fields}", found=message, fields=compared)
    plan = merge.table(found.table, found.groups, found.plans, found.pairs)
    return ctx.result(ids=ids, population=found.population, groups=found.groups, details=details,
                      metrics=metrics, message=message, attachments=[plan] if plan["rows"] else [])


@check(
    id="data.duplicate-contacts",
    title="Duplicate contacts",
    step="duplicates",
    area="data",
    severity="high",
    needs={"contacts": ["id", "first_name", "last_name"]},
    settings=CONTACT_SETTINGS,
    settings_help=CONTACT_SETTINGS_HELP,
    description=(
        "The same person stored more than once, found by a probabilistic model learned on this tenant's own "
        "contacts: names (typos, swapped fields, accents, Hangul and its romanisations, single names), e-mail, "
        "phone, company, address and any identifier named in the settings each weigh for or against a match, "
        "and pairs with a high enough match probability are grouped. Duplicates split a customer's history "
        "between records, so sales calls them twice and reports count them twice."
    ),
    remediation=(
        "Merge each group into the record marked 'keep' (by the keep setting: the most complete by default) "
        "with the CRM's merge tool, which keeps activities and deals; the merge plan lists the values to carry over. Where an integration created the "
        "duplicates, fix its matching rule (match on e-mail) so they do not come back."
    ),
)
def duplicate_contacts(ctx):
    return _report(ctx, contact_clusters(ctx), "contacts")


@check(
    id="data.duplicate-companies",
    title="Duplicate companies",
    step="duplicates",
    area="data",
    severity="medium",
    needs={"companies": ["id", "name"]},
    settings=COMPANY_SETTINGS,
    settings_help=COMPANY_SETTINGS_HELP,
    description=(
        "The same company stored more than once, found by a probabilistic model learned on this tenant's own "
        "companies: the name once legal forms are removed (PT, Tbk, Inc, Ltd, GmbH, 주식회사, ...), web domain, "
        "phone, address, country and any identifier named in the settings each weigh for or against a match. "
        "Contacts and deals then hang off different copies, and account reports undercount."
    ),
    remediation=(
        "Merge each group into the record marked 'keep' with the CRM's merge tool; make integrations match "
        "companies on their web domain."
    ),
)
def duplicate_companies(ctx):
    return _report(ctx, company_clusters(ctx), "companies")


@check(
    id="data.duplicate-deals",
    title="Duplicate deals",
    step="duplicates",
    area="data",
    severity="medium",
    needs={"deals": ["id", "name"]},
    settings=DEAL_SETTINGS,
    settings_help=DEAL_SETTINGS_HELP,
    description=(
        "The same opportunity entered twice: deals of the same company (or contact) in the same pipeline "
        "with near-identical names and amounts. They inflate the pipeline and the forecast."
    ),
    remediation="Merge or delete the extra deals listed; keep the one marked 'keep' and move its activities over.",
)
def duplicate_deals(ctx):
    if not (ctx.supplied("deals", "company_id") or ctx.supplied("deals", "contact_id")):
        return ctx.skip(_("needs {company} or {contact}: deals are only compared within one company or contact; "
                          "map either column in the connector or the files",
                          company="deals.company_id", contact="deals.contact_id"))
    return _report(ctx, deal_clusters(ctx), "deals")


# --------------------------------------------------------------------------- integrations


@check(
    id="integrations.duplicates-by-source",
    title="Integrations that create duplicates",
    step="integrations",
    area="usage",
    severity="medium",
    needs={"integrations": ["id", "name"], "contacts": ["id", "first_name", "last_name", "source_detail"]},
    settings={"min_duplicates": 1},
    settings_help={"min_duplicates": "an integration is listed when it created at least this many duplicate contacts or companies"},
    description=(
        "How many duplicate contacts and companies each integration created: in every duplicate cluster, "
        "the records created after the oldest one, attributed by their source_detail. An integration that "
        "inserts instead of updating refills the CRM with duplicates after every clean-up."
    ),
    remediation=(
        "Open each integration listed and set its matching rule (e-mail for contacts, web domain for "
        "companies) so that it updates existing records; then merge the duplicates it created."
    ),
)
def duplicates_by_source(ctx):
    by_name: dict[str, Counter] = {}
    examined = []
    for table, supplied, compute in (("contacts", True, contact_clusters),
                                     ("companies", ctx.supplied("companies", "source_detail") and ctx.supplied("companies", "name"),
                                      company_clusters)):
        if not supplied:
            continue
        examined.append(table)
        found = compute(ctx)
        for rid, _original in found.copies():
            detail = found.records.get(rid, {}).get("source_detail")
            if isinstance(detail, str) and detail.strip():
                by_name.setdefault(detail.strip(), Counter())[table] += 1
    integrations = ctx.rows("SELECT id, name FROM integrations ORDER BY id")
    threshold = int(ctx.settings["min_duplicates"])
    ids, details, counts = [], {}, {}
    for row in integrations:
        made = by_name.get((row["name"] or "").strip(), Counter())
        total = sum(made.values())
        counts[row["name"] or str(row["id"])] = {t: made.get(t, 0) for t in examined}
        if total >= threshold and total > 0:
            ids.append(str(row["id"]))
            details[str(row["id"])] = _created_text(row["name"], made.get("contacts", 0), made.get("companies", 0))
    known = {(r["name"] or "").strip() for r in integrations}
    unknown = {name: sum(c.values()) for name, c in by_name.items() if name not in known}
    metrics = {"duplicates_by_integration": counts, "objects": examined}
    if unknown:
        metrics["duplicates_by_unlisted_source"] = unknown
    sources = sorted(((name, sum(c.values())) for name, c in by_name.items()), key=lambda kv: (-kv[1], kv[0]))
    if sources:
        metrics["charts"] = [{
            "id": "duplicates-by-integration", "title": _("Duplicates created, by integration"), "kind": "stacked-bar",
            "x": [name for name, _n in sources],
            "series": {TABLE_NAMES[t]: [by_name[name].get(t, 0) for name, _n in sources] for t in examined},
            "y_label": _("duplicate records")}]
    message = ngettext("{count} of {n} integration created duplicates", "{count} of {n} integrations created duplicates",
                       len(integrations), count=len(ids))
    return ctx.result(ids=ids, population=len(integrations), details=details, metrics=metrics, message=message)


TABLE_NAMES = {"contacts": _("contacts"), "companies": _("companies")}
"""The objects integrations.duplicates-by-source counts, as the chart's legend shows them."""


def _created_text(integration: str, contacts: int, companies: int) -> Message:
    """``Mailchimp created 3 duplicate contacts and 1 duplicate company``."""
    made_contacts = ngettext("{n} duplicate contact", "{n} duplicate contacts", contacts)
    made_companies = ngettext("{n} duplicate company", "{n} duplicate companies", companies)
    if contacts and companies:
        return _("{integration} created {contacts} and {companies}", integration=integration,
                 contacts=made_contacts, companies=made_companies)
    return _("{integration} created {duplicates}", integration=integration,
             duplicates=made_contacts if contacts else made_companies)


CHECKS = (duplicate_contacts, duplicate_companies, duplicate_deals, duplicates_by_source)
