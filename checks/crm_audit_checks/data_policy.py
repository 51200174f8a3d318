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
documented in docs/data-policy.md and docs/checks/data.policy-violations.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from crm_audit_core import ConfigError, check, load_config, model, read_tenant

from .missing_data import fill_counts, filled_sql, is_canonical, known_custom_fields, object_table, present, quote, stripped

# Tables a policy may govern: those whose records have an id (and so a fix-list row).
POLICY_OBJECTS = tuple(name for name, t in model.TABLES.items() if t.key == "id")
OBJECT_KEYS = ("required", "allowed", "max_age_days", "owner", "owners")
TOP_KEYS = ("review_every_days", "last_reviewed", "owner")
SHOWN = 60


@dataclass
class ObjectPolicy:
    table: str
    required: list[str] = field(default_factory=list)
    allowed: dict[str, list[str]] = field(default_factory=dict)
    max_age_days: int | None = None
    owner: str | None = None
    owners: dict[str, str] = field(default_factory=dict)

    def owner_of(self, name: str | None = None) -> str | None:
        return self.owners.get(name or "", self.owner)


@dataclass
class Policy:
    objects: dict[str, ObjectPolicy] = field(default_factory=dict)
    review_every_days: int | None = None
    last_reviewed: date | None = None
    owner: str | None = None


# ------------------------------------------------------------------------------ parsing


def _positive_days(value, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{key} must be a positive whole number of days, not {value!r}", where=where)
    return value


def _text(value, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a non-empty string, not {value!r}", where=where)
    return value.strip()


def _field_name(value, key: str, where: str) -> str:
    name = _text(value, key, where)
    if name in ("tenant", "raw"):
        raise ConfigError(f"{key} names {name!r}, which is bookkeeping, not a field", where=where)
    return name


def _date(value, key: str, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise ConfigError(f"{key} must be a date like 2026-10-01, not {value!r}", where=where)


def parse_policy(section, where: str = "crm-audit.toml") -> Policy | None:
    """The ``[policy]`` section as a :class:`Policy` (None when there is none); ConfigError names the key."""
    if section in (None, {}):
        return None
    if not isinstance(section, dict):
        raise ConfigError("[policy] must be a table", where=where)
    policy = Policy()
    for key, value in section.items():
        if key == "review_every_days":
            policy.review_every_days = _positive_days(value, "policy.review_every_days", where)
        elif key == "last_reviewed":
            policy.last_reviewed = _date(value, "policy.last_reviewed", where)
        elif key == "owner":
            policy.owner = _text(value, "policy.owner", where)
        elif key in POLICY_OBJECTS:
            policy.objects[key] = _parse_object(key, value, where)
        else:
            hint = f"objects: {', '.join(POLICY_OBJECTS)}; settings: {', '.join(TOP_KEYS)}"
            near = object_table(key)
            if near in POLICY_OBJECTS:
                hint = f"did you mean [policy.{near}]?"
            raise ConfigError(f"unknown key policy.{key}", where=where, hint=hint)
    for obj in policy.objects.values():
        if obj.owner is None:
            obj.owner = policy.owner
    return policy


def _parse_object(table: str, body, where: str) -> ObjectPolicy:
    prefix = f"policy.{table}"
    if not isinstance(body, dict):
        raise ConfigError(f"{prefix} must be a table like [{prefix}]", where=where)
    obj = ObjectPolicy(table)
    for key, value in body.items():
        here = f"{prefix}.{key}"
        if key == "required":
            if isinstance(value, str) or not isinstance(value, list):
                raise ConfigError(f"{here} must be a list of field names, like [\"email\"]", where=where)
            for i, name in enumerate(value):
                name = _field_name(name, f"{here}[{i}]", where)
                if name not in obj.required:
                    obj.required.append(name)
        elif key == "allowed":
            if not isinstance(value, dict):
                raise ConfigError(f"{here} must be a table of field = [allowed values], like "
                                  "{lifecycle_stage = [\"lead\", \"customer\"]}", where=where)
            for name, values in value.items():
                name = _field_name(name, f"{here} key", where)
                if isinstance(values, str) or not isinstance(values, list) or not values:
                    raise ConfigError(f"{here}.{name} must be a non-empty list of values", where=where)
                texts = []
                for i, v in enumerate(values):
                    if isinstance(v, (dict, list)) or v is None:
                        raise ConfigError(f"{here}.{name}[{i}] must be a string, number or boolean, not {v!r}", where=where)
                    texts.append(("true" if v else "false") if isinstance(v, bool) else str(v))
                obj.allowed[name] = texts
        elif key == "max_age_days":
            if "updated_at" not in model.TABLES[table].column_names:
                fresh = [t for t in POLICY_OBJECTS if "updated_at" in model.TABLES[t].column_names]
                raise ConfigError(f"{here}: {table} records have no updated_at to measure freshness by",
                                  where=where, hint=f"max_age_days applies to {', '.join(fresh)}")
            obj.max_age_days = _positive_days(value, here, where)
        elif key == "owner":
            obj.owner = _text(value, here, where)
        elif key == "owners":
            if not isinstance(value, dict):
                raise ConfigError(f"{here} must be a table of field = \"owner\"", where=where)
            for name, who in value.items():
                obj.owners[_field_name(name, f"{here} key", where)] = _text(who, f"{here}.{name}", where)
        else:
            raise ConfigError(f"unknown key {here}", where=where, hint=f"known keys: {', '.join(OBJECT_KEYS)}")
    return obj


def policy_from_config(config) -> Policy | None:
    if config is None:
        return None
    where = str(config.path) if getattr(config, "path", None) else "crm-audit.toml"
    return parse_policy(config.section("policy") if hasattr(config, "section") else None, where)


# ------------------------------------------------------------------------------- check


def _who(obj: ObjectPolicy, name: str) -> str:
    """A field owner who differs from the object's owner (that one is named once per record)."""
    owner = obj.owners.get(name)
    return f" (owner: {owner})" if owner and owner != obj.owner else ""


class _Rules:
    """The SQL terms for one object's rules; every piece of policy text travels as a $param."""

    def __init__(self):
        self.terms: list[tuple[str, str]] = []  # (rule key, SQL message expression or NULL)
        self.params: dict = {}

    def param(self, value) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return "$" + name


def _violations_for(ctx, obj: ObjectPolicy, where: str, notes: list[str]) -> tuple[dict[str, list[str]], dict[str, int], int]:
    table = obj.table
    key = quote(model.TABLES[table].key)
    custom = None
    rules = _Rules()
    custom_rules: list[tuple[str, str, str, list[str] | None]] = []  # (rule key, field, message, allowed)

    def classify(name: str, rule: str) -> str | None:
        nonlocal custom
        if is_canonical(table, name):
            if ctx.supplied(table, name):
                return "canonical"
            notes.append(f"{table}.{name} not supplied by the CRM ({rule} not checked)")
            return None
        if custom is None:
            custom = known_custom_fields(ctx, table)
        if name in custom:
            return "custom"
        known = ", ".join(sorted(model.TABLES[table].column_names)[:12])
        raise ConfigError(f"policy.{table}.{rule} names {name!r}, which {table} does not have", where=where,
                          hint=f"fields include {known}, ... and the custom fields in the fields table")

    for name in obj.required:
        kind = classify(name, "required")
        message = f"{name} is required but empty{_who(obj, name)}"
        if kind == "canonical":
            rules.terms.append((f"{table}.required.{name}",
                                f"CASE WHEN NOT {filled_sql(table, name, 't')} THEN {rules.param(message)} END"))
        elif kind == "custom":
            custom_rules.append((f"{table}.required.{name}", name, message, None))
    for name, values in obj.allowed.items():
        kind = classify(name, "allowed")
        listing = ", ".join(values[:10]) + (", ..." if len(values) > 10 else "")
        pre, post = f"{name} ", f" is not an allowed value (allowed: {listing}){_who(obj, name)}"
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
            shown = f"'''' || left({value}, {SHOWN}) || ''''"
            rules.terms.append((f"{table}.allowed.{name}",
                                f"CASE WHEN {cond} THEN {rules.param(pre)} || {shown} || {rules.param(post)} END"))
        elif kind == "custom":
            custom_rules.append((f"{table}.allowed.{name}", name, pre + "\x00" + post, values))
    if obj.max_age_days is not None:
        if ctx.supplied(table, "updated_at"):
            updated = "coalesce(t.updated_at, t.created_at)" if ctx.supplied(table, "created_at") else "t.updated_at"
            days = rules.param(obj.max_age_days)
            pre = f"not updated for more than {obj.max_age_days} days (last update "
            rules.terms.append((
                f"{table}.max_age_days",
                f"CASE WHEN {updated} < $as_of - to_days({days}) THEN {rules.param(pre)} || "
                f"strftime({updated}, '%Y-%m-%d') || ')' END",
            ))
        else:
            notes.append(f"{table}.updated_at not supplied by the CRM (max_age_days not checked)")

    found: dict[str, list[str]] = {}
    per_rule: dict[str, int] = {rule: 0 for rule, _expr in rules.terms}
    if rules.terms:
        names = [f"v{i}" for i in range(len(rules.terms))]
        inner = ", ".join(f"{expr} AS {n}" for (_rule, expr), n in zip(rules.terms, names))
        query = (f"SELECT id, {', '.join(names)} FROM (SELECT CAST(t.{key} AS VARCHAR) AS id, {inner} FROM {table} t) "
                 f"WHERE {' OR '.join(f'{n} IS NOT NULL' for n in names)}")
        for row in ctx.sql(query, **rules.params).fetchall():
            messages = [m for m in row[1:] if m is not None]
            found.setdefault(row[0], []).extend(messages)
            for (rule, _expr), m in zip(rules.terms, row[1:]):
                if m is not None:
                    per_rule[rule] += 1
    for rule, name, message, values in custom_rules:
        per_rule[rule] = 0
        if values is None:
            query = (f"SELECT CAST(t.{key} AS VARCHAR) FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM custom_values cv "
                     f"WHERE cv.object = $o AND cv.field = $f AND cv.record_id = CAST(t.{key} AS VARCHAR) "
                     f"AND {present('cv.value')})")
            rows = [(rid, message) for (rid,) in ctx.sql(query, o=table, f=name).fetchall()]
        else:
            pre, post = message.split("\x00")
            query = ("SELECT record_id, value FROM custom_values WHERE object = $o AND field = $f "
                     f"AND {present('value')} AND NOT list_contains($allowed, value)")
            rows = [(rid, f"{pre}'{v[:SHOWN]}'{post}") for rid, v in ctx.sql(query, o=table, f=name, allowed=values).fetchall()]
        for rid, text in rows:
            found.setdefault(rid, []).append(text)
            per_rule[rule] += 1
    return found, per_rule, ctx.count(table)


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
        return ctx.skip("no [policy] in crm-audit.toml: run `crm-audit policy init` to propose one from your data "
                        "(see docs/data-policy.md)")
    if not policy.objects:
        return ctx.skip("the [policy] section has no object rules ([policy.contacts], [policy.deals], ...)")
    where = str(ctx.config.path) if getattr(ctx.config, "path", None) else "crm-audit.toml"
    notes: list[str] = []
    checked = {}
    per_rule: dict[str, int] = {}
    by_table: dict[str, dict[str, list[str]]] = {}
    for table, obj in policy.objects.items():
        if not ctx.supplied(table):
            notes.append(f"{table} not supplied by the CRM")
            continue
        found, counts, total = _violations_for(ctx, obj, where, notes)
        by_table[table] = found
        per_rule.update(counts)
        checked[table] = total
    if not checked:
        return ctx.skip("the policy covers only tables the CRM did not supply: " + "; ".join(notes))
    # One object: plain ids (links into the CRM work). Several: "<table>/<id>", since ids are
    # only unique within an object in most CRMs.
    single = len(policy.objects) == 1
    details = {}
    for table, found in by_table.items():
        owner = policy.objects[table].owner
        suffix = f" — owner: {owner}" if owner else ""
        for rid, messages in found.items():
            details[rid if single else f"{table}/{rid}"] = "; ".join(messages) + suffix
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
    message = f"{len(details)} of {total} records break the data policy"
    if overdue:
        message += f"; the policy review was due {metrics['review']['due']}"
    if notes:
        message += " (" + "; ".join(notes) + ")"
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


def policy_toml(proposals: list[Proposal], *, tenant: str, as_of: datetime, required_at: float,
                review_every_days: int = 90) -> str:
    """The proposal as TOML that pastes into crm-audit.toml."""
    day = as_of.date().isoformat()
    lines = [
        f"# Data policy proposed by `crm-audit policy init` from tenant {tenant!r} as of {day}.",
        "# A starting point, not a decision: agree it with the owners, then paste it into crm-audit.toml;",
        "# the next audit checks every record against it (data.policy-violations). See docs/data-policy.md.",
        "",
        "[policy]",
        f"review_every_days = {review_every_days}   # review the policy itself this often",
        f"last_reviewed = {day}",
        '# owner = "RevOps"           # default owner of every rule',
    ]
    for p in proposals:
        lines += ["", f"[policy.{p.table}]", f"# {p.records} records; fields filled on at least {required_at:g}% are required."]
        if p.required:
            lines.append("required = [")
            for name, share in p.required:
                lines.append(f"    {toml_string(name)},  # filled on {share:g}%")
            lines.append("]")
        else:
            lines.append("required = []")
        if p.max_age_days is not None:
            lines.append(f"max_age_days = {p.max_age_days}   # 90% of {p.table} were updated within {p.p90_age_days:g} days")
        lines.append(f'# owner = "RevOps"           # who fixes {p.table} that break this policy')
        if p.allowed:
            lines += ["", f"[policy.{p.table}.allowed]"]
            for name, values in p.allowed.items():
                lines.append(f"{toml_key(name)} = {_toml_list(values)}")
                if name in p.rare:
                    rare = ", ".join(f"{toml_string(v)} ({n})" for v, n in p.rare[name][:10])
                    lines.append(f"# left out as rare (typos?): {rare}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- commands


def register_commands(group) -> None:
    """Add ``crm-audit policy init`` and ``crm-audit policy validate``."""
    import click

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
    def init(files_dir, config_path, tenant_name, out, as_of, required_at, max_values):
        """Propose a data policy from the audited data, as TOML that pastes into crm-audit.toml."""
        from pathlib import Path

        if bool(files_dir) == bool(config_path):
            raise ConfigError("give exactly one of --files DIR or -c crm-audit.toml", where="policy init")
        config = load_config(config_path)
        with read_tenant(config, files=files_dir, tenant=tenant_name,
                         as_of=as_of) as ctx:
            if ctx.read_error:
                click.echo(f"warning: reading stopped early ({ctx.read_error}); proposing from what was read", err=True)
            proposals = propose(ctx, required_at=required_at, max_values=max_values)
            tenant, when = ctx.tenant, ctx.as_of
        if not proposals:
            raise ConfigError("the tenant supplied no contacts, companies or deals to propose a policy from",
                              where=tenant)
        text = policy_toml(proposals, tenant=tenant, as_of=when, required_at=required_at)
        parse_policy(_parse_toml(text)["policy"], "the proposal")  # never hand out a policy we would reject
        if out:
            Path(out).write_text(text, encoding="utf-8")
            click.echo(f"wrote {out}: paste it into crm-audit.toml after review", err=True)
        else:
            click.echo(text, nl=False)

    @policy_group.command("validate")
    @click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default="crm-audit.toml",
                  show_default=True, help="The config holding [policy].")
    def validate(config_path):
        """Check the [policy] section of crm-audit.toml and summarise its rules."""
        config = load_config(config_path)
        policy = policy_from_config(config)
        if policy is None:
            raise ConfigError("has no [policy] section", where=str(config_path),
                              hint="run `crm-audit policy init` to propose one")
        for table, obj in policy.objects.items():
            parts = [f"{len(obj.required)} required", f"{len(obj.allowed)} with allowed values"]
            if obj.max_age_days:
                parts.append(f"max age {obj.max_age_days} days")
            if obj.owner:
                parts.append(f"owner {obj.owner}")
            click.echo(f"{table}: " + ", ".join(parts))
        if policy.review_every_days:
            last = f", last reviewed {policy.last_reviewed.isoformat()}" if policy.last_reviewed else ""
            click.echo(f"review every {policy.review_every_days} days{last}")
        click.echo("policy OK")

    group.add_command(policy_group)


def _parse_toml(text: str) -> dict:
    import tomllib

    return tomllib.loads(text)
