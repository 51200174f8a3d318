"""Standard checks: the data policy (Part 2, step 6: a data-management process for the future).

The policy is written down in crm-audit.toml, so the next audit checks it::

    [policy]
    review_every_days = 90          # how often the policy itself is reviewed
    last_reviewed = 2026-10-01      # optional; the audit says when a review is overdue
    owner = "RevOps"                # optional default owner of every rule

    [policy.contacts]
    required = ["email", "lifecycle_stage"]
    allowed = {lifecycle_stage = ["lead", "customer"]}
    max_age_days = 365              # records not updated for longer are out of policy
    owner = "RevOps"                # who fixes this object's violations
    owners = {email = "Marketing"}  # optional per-field owners

``crm-audit policy init`` proposes such a policy from the audited data, and
``crm-audit policy validate`` checks one without running an audit. The format is
documented in docs/data-policy.md and docs/checks/data.policy-violations.md, and read by
policy_format.py. Every text a reader sees (violations, notes, the commands' lines and the
proposal's comments) is a template of the standard checks' domain (``.i18n``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from crm_audit_core import ConfigError, Message, Percent, check, load_config, model, read_tenant

from .i18n import _, ngettext
from .missing_data import fill_counts, filled_sql, is_canonical, known_custom_fields, present, quote, stripped
from .policy_format import POLICY_OBJECTS, ObjectPolicy, Policy, parse_policy, policy_from_config  # noqa: F401

SHOWN = 60  # characters of an offending value quoted in the fix-list


# ------------------------------------------------------------------------------- check


def _field_owner(obj: ObjectPolicy, name: str) -> str | None:
    """A field owner who differs from the object's owner (that one is named once per record)."""
    owner = obj.owners.get(name)
    return owner if owner and owner != obj.owner else None


def _required_text(name: str, owner: str | None) -> Message:
    if owner:
        return _("{field} is required but empty (owner: {owner})", field=name, owner=owner)
    return _("{field} is required but empty", field=name)


def _allowed_text(name: str, value: str, listing: str, owner: str | None) -> Message:
    if owner:
        return _("{field} '{value}' is not an allowed value (allowed: {allowed}) (owner: {owner})", field=name,
                 value=value, allowed=listing, owner=owner)
    return _("{field} '{value}' is not an allowed value (allowed: {allowed})", field=name, value=value, allowed=listing)


class _Rules:
    """One object's rules: the SQL term that finds each rule's violations (every piece of
    policy text travels as a $param) and the text a violation gets, made once per
    distinct offending value."""

    def __init__(self):
        self.terms: list[tuple[str, str]] = []  # (rule key, SQL: the offending value ('' when none) or NULL)
        self.texts: list = []  # per term: value -> Message
        self.params: dict = {}

    def param(self, value) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return "$" + name

    def add(self, rule: str, sql: str, text) -> None:
        cache: dict = {}

        def made(value):
            found = cache.get(value)
            if found is None:
                found = cache[value] = text(value)
            return found

        self.terms.append((rule, sql))
        self.texts.append(made)


def _violations_for(ctx, obj: ObjectPolicy, where: str, notes: list) -> tuple[dict[str, list[Message]], dict[str, int], int]:
    table = obj.table
    key = quote(model.TABLES[table].key)
    custom = None
    rules = _Rules()
    custom_rules: list[tuple[str, str, object, list[str] | None]] = []  # (rule key, field, text, allowed)

    def classify(name: str, rule: str) -> str | None:
        nonlocal custom
        if is_canonical(table, name):
            if ctx.supplied(table, name):
                return "canonical"
            notes.append(_("{column} not supplied by the CRM ({rule} not checked)", column=table + "." + name, rule=rule))
            return None
        if custom is None:
            custom = known_custom_fields(ctx, table)
        if name in custom:
            return "custom"
        known = ", ".join(sorted(model.TABLES[table].column_names)[:12])
        raise ConfigError(_("{key} names {name}, which {table} does not have", key="policy." + table + "." + rule,
                            name=repr(name), table=table), where=where,
                          hint=_("fields include {fields}, ... and the custom fields in the fields table", fields=known))

    for name in obj.required:
        kind = classify(name, "required")
        message = _required_text(name, _field_owner(obj, name))
        if kind == "canonical":
            rules.add(f"{table}.required.{name}", f"CASE WHEN NOT {filled_sql(table, name, 't')} THEN '' END",
                      lambda _v, m=message: m)
        elif kind == "custom":
            custom_rules.append((f"{table}.required.{name}", name, message, None))
    for name, values in obj.allowed.items():
        kind = classify(name, "allowed")
        listing = ", ".join(values[:10]) + (", ..." if len(values) > 10 else "")
        owner = _field_owner(obj, name)

        def text(value, name=name, listing=listing, owner=owner):
            return _allowed_text(name, value, listing, owner)

        if kind == "canonical":
            col = "t." + quote(name)
            allowed = rules.param(values)
            if model.TABLES[table].column(name).type == "list":
                bad = f"list_filter({col}, lambda x: {present('x')} AND NOT list_contains({allowed}, x))"
                value = f"array_to_string({bad}, ';')"
                cond = f"coalesce(len({bad}), 0) > 0"
            else:
                value = f"CAST({col} AS VARCHAR)"
                cond = f"{filled_sql(table, name, 't')} AND NOT list_contains({allowed}, {value})"
            rules.add(f"{table}.allowed.{name}", f"CASE WHEN {cond} THEN left({value}, {SHOWN}) END", text)
        elif kind == "custom":
            custom_rules.append((f"{table}.allowed.{name}", name, text, values))
    if obj.max_age_days is not None:
        if ctx.supplied(table, "updated_at"):
            updated = "coalesce(t.updated_at, t.created_at)" if ctx.supplied(table, "created_at") else "t.updated_at"
            days = obj.max_age_days
            rules.add(f"{table}.max_age_days",
                      f"CASE WHEN {updated} < $as_of - to_days({rules.param(days)}) THEN CAST({updated} AS DATE) END",
                      lambda last: _("not updated for more than {days} days (last update {date})", days=days, date=last))
        else:
            notes.append(_("{column} not supplied by the CRM ({rule} not checked)", column=table + ".updated_at",
                           rule="max_age_days"))

    found: dict[str, list[Message]] = {}
    per_rule: dict[str, int] = {rule: 0 for rule, _sql in rules.terms}
    if rules.terms:
        names = [f"v{i}" for i in range(len(rules.terms))]
        inner = ", ".join(f"{expr} AS {n}" for (_rule, expr), n in zip(rules.terms, names))
        query = (f"SELECT id, {', '.join(names)} FROM (SELECT CAST(t.{key} AS VARCHAR) AS id, {inner} FROM {table} t) "
                 f"WHERE {' OR '.join(f'{n} IS NOT NULL' for n in names)}")
        for row in ctx.sql(query, **rules.params).fetchall():
            texts = found.setdefault(row[0], [])
            for (rule, _sql), made, value in zip(rules.terms, rules.texts, row[1:]):
                if value is not None:
                    texts.append(made(value))
                    per_rule[rule] += 1
    for rule, name, text, values in custom_rules:
        per_rule[rule] = 0
        if values is None:
            query = (f"SELECT CAST(t.{key} AS VARCHAR) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM custom_values cv "
                     f"WHERE cv.object = $o AND cv.field = $f AND cv.record_id = CAST(t.{key} AS VARCHAR) "
                     f"AND {present('cv.value')})")
            rows = [(rid, text) for (rid,) in ctx.sql(query, o=table, f=name).fetchall()]
        else:
            query = ("SELECT record_id, value FROM custom_values WHERE object = $o AND field = $f "
                     f"AND {present('value')} AND NOT list_contains($allowed, value)")
            made: dict = {}
            rows = []
            for rid, v in ctx.sql(query, o=table, f=name, allowed=values).fetchall():
                shown = v[:SHOWN]
                if shown not in made:
                    made[shown] = text(shown)
                rows.append((rid, made[shown]))
        for rid, message in rows:
            found.setdefault(rid, []).append(message)
            per_rule[rule] += 1
    return found, per_rule, ctx.count(table)


def _detail(messages: list[Message], owner: str | None, memo: dict) -> Message:
    """One record's violations (the same texts share one detail), with the object's owner."""
    key = tuple(map(id, messages))
    found = memo.get(key)
    if found is None:
        problems = messages[0] if len(messages) == 1 else Message.join(messages, "; ")
        # TRANSLATORS: a record's policy violations (joined by "; "), then who owns the object
        found = memo[key] = _("{problems} — owner: {owner}", problems=problems, owner=owner) if owner else problems
    return found


@check(
    id="data.policy-violations",
    title="Records that break the data policy",
    step="data-policy",
    area="data",
    severity="medium",
    object="records",
    description="The data policy in crm-audit.toml says which fields each object must have, which values a field "
    "may hold, how fresh records must be and who owns them; this check lists every record that breaks it, "
    "rule by rule, so the process is checked at every audit rather than written once and forgotten.",
    remediation="Send each owner the fix-list of their violations; fix the records, or change the policy (and "
    "record the review date) when the rule no longer fits how the team works.",
)
def policy_violations(ctx):
    policy = policy_from_config(ctx.config)
    if policy is None:
        return ctx.skip(_("no [policy] in crm-audit.toml: run `crm-audit policy init` to propose one from your data "
                          "(see docs/data-policy.md)"))
    if not policy.objects:
        return ctx.skip(_("the [policy] section has no object rules ([policy.contacts], [policy.deals], ...)"))
    where = str(ctx.config.path) if getattr(ctx.config, "path", None) else "crm-audit.toml"
    notes: list = []
    checked = {}
    per_rule: dict[str, int] = {}
    by_table: dict[str, dict[str, list[Message]]] = {}
    for table, obj in policy.objects.items():
        if not ctx.supplied(table):
            notes.append(_("{table} not supplied by the CRM", table=table))
            continue
        found, counts, total = _violations_for(ctx, obj, where, notes)
        by_table[table] = found
        per_rule.update(counts)
        checked[table] = total
    if not checked:
        return ctx.skip(_("the policy covers only tables the CRM did not supply: {notes}",
                          notes=Message.join(notes, "; ")))
    # One object: plain ids (links into the CRM work). Several: "<table>/<id>", since ids are
    # only unique within an object in most CRMs.
    single = len(policy.objects) == 1
    details = {}
    for table, found in by_table.items():
        owner, memo = policy.objects[table].owner, {}
        for rid, messages in found.items():
            details[rid if single else f"{table}/{rid}"] = _detail(messages, owner, memo)
    metrics = {"violations_by_rule": per_rule, "records_checked": checked,
               "records_violating": {t: len(f) for t, f in by_table.items()}}
    overdue = False
    if policy.review_every_days:
        review = {"every_days": policy.review_every_days}
        if policy.last_reviewed:
            due = policy.last_reviewed.toordinal() + policy.review_every_days
            as_of = ctx.as_of.date() if isinstance(ctx.as_of, datetime) else ctx.as_of
            review.update(last_reviewed=policy.last_reviewed.isoformat(), due=date.fromordinal(due).isoformat())
            overdue = as_of.toordinal() > due
            review["overdue"] = overdue
        metrics["review"] = review
    total = sum(checked.values())
    parts = [ngettext("{n} of {total} records breaks the data policy", "{n} of {total} records break the data policy",
                      len(details), total=total)]
    if overdue:
        parts.append(_("the policy review was due {date}", date=date.fromisoformat(metrics["review"]["due"])))
    message = Message.join(parts + notes, "; ") if len(parts) + len(notes) > 1 else parts[0]
    return ctx.result(ids=sorted(details), object=next(iter(policy.objects)) if single else "records",
                      population=total, details=details, metrics=metrics, message=message,
                      failed=bool(details) or overdue)


CHECKS = (policy_violations,)

# ------------------------------------------------------------------------- policy init

# Columns a policy would not constrain: keys, bookkeeping, timestamps, flags and free text.
NEVER_REQUIRED = {"id", "created_at", "updated_at", "last_activity_at"}
FREE_TEXT = {"name", "first_name", "last_name", "email", "phone", "title", "street", "city", "postal_code",
             "company_name", "domain", "subject", "state", "source_detail"}
FRESHNESS_STEPS = (30, 60, 90, 180, 365, 730, 1095, 1825, 3650)


@dataclass
class Proposal:
    table: str
    records: int
    required: list[tuple[str, float]] = field(default_factory=list)
    allowed: dict[str, list[str]] = field(default_factory=dict)
    rare: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    max_age_days: int | None = None
    p90_age_days: float | None = None


def propose(ctx, tables=("contacts", "companies", "deals"), *, required_at: float = 95.0, max_values: int = 12,
            rare_percent: float = 0.5, min_evidence: int = 20) -> list[Proposal]:
    """A policy proposal per table from the data in ``ctx`` (a CheckContext over a snapshot)."""
    out = []
    for table in tables:
        if not ctx.supplied(table):
            continue
        spec = model.TABLES[table]
        supplied = [c.name for c in spec.columns if ctx.supplied(table, c.name)]
        customs = sorted(known_custom_fields(ctx, table)) if ctx.supplied("custom_values") else []
        candidates = [c for c in supplied if c not in NEVER_REQUIRED and spec.column(c).type != "bool"] + customs
        total, counts = fill_counts(ctx, table, candidates)
        if not total:
            continue
        p = Proposal(table, total)
        for name in candidates:
            n = counts.get(name)
            if n is not None and 100.0 * n / total >= required_at:
                p.required.append((name, round(100.0 * n / total, 1)))
        # allowed values: low-cardinality picklist-like text fields
        texty = [c for c in supplied if spec.column(c).type in ("str", "list") and c not in FREE_TEXT
                 and c not in NEVER_REQUIRED and not c.endswith("_id")]
        for name in texty:
            col = quote(name)
            if spec.column(name).type == "list":
                source = f"SELECT {stripped('x')} AS v FROM (SELECT unnest({col}) AS x FROM {table}) WHERE {present('x')}"
            else:
                source = f"SELECT {col} AS v FROM {table} WHERE {filled_sql(table, name)}"
            _allowed_from(ctx, p, name, source, {}, max_values, rare_percent, min_evidence)
        for name in customs:
            source = f"SELECT value AS v FROM custom_values WHERE object = $o AND field = $f AND {present('value')}"
            _allowed_from(ctx, p, name, source, {"o": table, "f": name}, max_values, rare_percent, min_evidence)
        if "updated_at" in supplied:
            updated = "coalesce(updated_at, created_at)" if "created_at" in supplied else "updated_at"
            p90 = ctx.scalar(f"SELECT quantile_cont(datediff('day', {updated}, $as_of), 0.9) FROM {table} "
                             f"WHERE {updated} IS NOT NULL")
            if p90 is not None:
                p.p90_age_days = round(float(p90), 1)
                p.max_age_days = next((s for s in FRESHNESS_STEPS if s >= p90), FRESHNESS_STEPS[-1])
        out.append(p)
    return out


def _allowed_from(ctx, p: Proposal, name: str, source: str, params: dict, max_values: int, rare_percent: float,
                  min_evidence: int) -> None:
    rows = ctx.sql(f"SELECT v, count(*) AS n FROM ({source}) GROUP BY v ORDER BY n DESC, v LIMIT {int(max_values) * 4 + 1}",
                   **params).fetchall()
    if not rows:
        return
    filled = sum(int(n) for _v, n in rows)
    if len(rows) > max_values * 4:
        return  # free text, not a picklist
    keep = [(str(v), int(n)) for v, n in rows if 100.0 * n / filled >= rare_percent and n >= 2]
    if not keep or len(keep) > max_values or filled < min_evidence:
        return
    p.allowed[name] = sorted(v for v, _n in keep)
    rare = [(str(v), int(n)) for v, n in rows if (str(v), int(n)) not in keep]
    if rare:
        p.rare[name] = rare


BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_string(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_key(name: str) -> str:
    return name if BARE_KEY.match(name) else toml_string(name)


def _toml_list(values) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


def _comment(text: str) -> list[str]:
    """``text`` as TOML comment lines of at most about 100 characters."""
    import textwrap

    return ["# " + line for line in textwrap.wrap(text, width=98, break_long_words=False, break_on_hyphens=False)]


def policy_toml(proposals: list[Proposal], *, tenant: str, as_of: datetime, required_at: float,
                review_every_days: int = 90, lang: str = "en") -> str:
    """The proposal as TOML that pastes into crm-audit.toml (its comments in ``lang``)."""
    day = as_of.date().isoformat()
    proposed = _("Data policy proposed by `crm-audit policy init` from tenant {tenant} as of {date}.",
                 tenant=repr(tenant), date=day)
    starting = _("A starting point, not a decision: agree it with the owners, then paste it into crm-audit.toml; the "
                 "next audit checks every record against it (data.policy-violations). See docs/data-policy.md.")
    review = _("review the policy itself this often")
    default_owner = _("default owner of every rule")
    lines = [
        f"# {proposed.render(lang)}",
        *_comment(starting.render(lang)),
        "",
        "[policy]",
        f"review_every_days = {review_every_days}   # {review.render(lang)}",
        f"last_reviewed = {day}",
        f'# owner = "RevOps"           # {default_owner.render(lang)}',
    ]
    for p in proposals:
        required = ngettext("{n} record; fields filled on at least {share} are required.",
                            "{n} records; fields filled on at least {share} are required.", p.records,
                            share=Percent(required_at / 100, 2))
        lines += ["", f"[policy.{p.table}]", f"# {required.render(lang)}"]
        if p.required:
            lines.append("required = [")
            for name, share in p.required:
                filled = _("filled on {share}", share=Percent(share / 100, 2))
                lines.append(f"    {toml_string(name)},  # {filled.render(lang)}")
            lines.append("]")
        else:
            lines.append("required = []")
        if p.max_age_days is not None:
            fresh = _("{share} of {table} were updated within {days} days", share=Percent(0.9, 0), table=p.table,
                      days=float(p.p90_age_days))
            lines.append(f"max_age_days = {p.max_age_days}   # {fresh.render(lang)}")
        who = _("who fixes {table} that break this policy", table=p.table)
        lines.append(f'# owner = "RevOps"           # {who.render(lang)}')
        if p.allowed:
            lines += ["", f"[policy.{p.table}.allowed]"]
            for name, values in p.allowed.items():
                lines.append(f"{toml_key(name)} = {_toml_list(values)}")
                if name in p.rare:
                    rare = _("left out as rare (typos?): {values}",
                             values=", ".join(f"{toml_string(v)} ({n})" for v, n in p.rare[name][:10]))
                    lines.append(f"# {rare.render(lang)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- commands

LANGS = ("en", "id", "ko")  # the languages the reports are written in (crm-audit run --lang)


def _summary(table: str, obj: ObjectPolicy) -> Message:
    """One line of `policy validate`: what the policy asks of ``table``."""
    values = dict(table=table, required=len(obj.required), allowed=len(obj.allowed))
    if obj.max_age_days and obj.owner:
        return _("{table}: {required} required, {allowed} with allowed values, max age {days} days, owner {owner}",
                 days=obj.max_age_days, owner=obj.owner, **values)
    if obj.max_age_days:
        return _("{table}: {required} required, {allowed} with allowed values, max age {days} days",
                 days=obj.max_age_days, **values)
    if obj.owner:
        return _("{table}: {required} required, {allowed} with allowed values, owner {owner}", owner=obj.owner, **values)
    return _("{table}: {required} required, {allowed} with allowed values", **values)


def register_commands(group) -> None:
    """Add ``crm-audit policy init`` and ``crm-audit policy validate``."""
    import click

    lang_option = click.option("--lang", "lang", type=click.Choice(LANGS), default=None,
                               help="The language of the output: en, id, ko (default: [audit] lang, else en).")

    @click.group(name="policy")
    def policy_group():
        """The data policy: propose one from your data, validate the one in crm-audit.toml."""

    @policy_group.command("init")
    @click.option("--files", "files_dir", type=click.Path(file_okay=False, exists=True), help="Read a folder of <table>.csv files.")
    @click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="Read the tenant configured in crm-audit.toml.")
    @click.option("--tenant", "tenant_name", help="Which tenant of the config (default: the first).")
    @click.option("--out", "out", type=click.Path(dir_okay=False), help="Write the policy here (default: print it).")
    @click.option("--as-of", "as_of", help="Date freshness is measured from (default: the config's, else today).")
    @click.option("--required-at", type=click.FloatRange(0, 100), default=95.0, show_default=True,
                  help="Fields filled on at least this % of records become required.")
    @click.option("--max-values", type=click.IntRange(1, 200), default=12, show_default=True,
                  help="Text fields with at most this many values get an allowed list.")
    @lang_option
    def init(files_dir, config_path, tenant_name, out, as_of, required_at, max_values, lang):
        """Propose a data policy from the audited data, as TOML that pastes into crm-audit.toml."""
        from pathlib import Path

        if bool(files_dir) == bool(config_path):
            raise ConfigError(_("give exactly one of --files DIR or -c crm-audit.toml"), where="policy init")
        config = load_config(config_path)
        lang = lang or getattr(config, "lang", None) or "en"
        with read_tenant(config, files=files_dir, tenant=tenant_name,
                         as_of=as_of) as ctx:
            if ctx.read_error:
                warning = _("warning: reading stopped early ({error}); proposing from what was read",
                            error=ctx.read_error)
                click.echo(warning.render(lang), err=True)
            proposals = propose(ctx, required_at=required_at, max_values=max_values)
            tenant, when = ctx.tenant, ctx.as_of
        if not proposals:
            raise ConfigError(_("the tenant supplied no contacts, companies or deals to propose a policy from"),
                              where=tenant)
        text = policy_toml(proposals, tenant=tenant, as_of=when, required_at=required_at, lang=lang)
        parse_policy(_parse_toml(text)["policy"], _("the proposal"))  # never hand out a policy we would reject
        if out:
            Path(out).write_text(text, encoding="utf-8")
            click.echo(_("wrote {path}: paste it into crm-audit.toml after review", path=str(out)).render(lang), err=True)
        else:
            click.echo(text, nl=False)

    @policy_group.command("validate")
    @click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default="crm-audit.toml",
                  show_default=True, help="The config holding [policy].")
    @lang_option
    def validate(config_path, lang):
        """Check the [policy] section of crm-audit.toml and summarise its rules."""
        config = load_config(config_path)
        lang = lang or getattr(config, "lang", None) or "en"
        policy = policy_from_config(config)
        if policy is None:
            raise ConfigError(_("has no [policy] section"), where=str(config_path),
                              hint=_("run `crm-audit policy init` to propose one"))
        for table, obj in policy.objects.items():
            click.echo(_summary(table, obj).render(lang))
        if policy.review_every_days and policy.last_reviewed:
            click.echo(_("review every {days} days, last reviewed {date}", days=policy.review_every_days,
                         date=policy.last_reviewed.isoformat()).render(lang))
        elif policy.review_every_days:
            click.echo(_("review every {days} days", days=policy.review_every_days).render(lang))
        click.echo(_("policy OK").render(lang))

    group.add_command(policy_group)


def _parse_toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)
