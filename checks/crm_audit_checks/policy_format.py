"""The ``[policy]`` section of crm-audit.toml: its format, read into a :class:`Policy`.

The format is documented in data_policy.py, docs/data-policy.md and
docs/checks/data.policy-violations.md. A mistake is a ConfigError naming the key
(``policy.contacts.required[1]``) and the file, worded as a template so the CLI shows it
in the configured language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from crm_audit_core import ConfigError, model

from .i18n import _
from .missing_data import object_table

# Tables a policy may govern: those whose records have an id (and so a fix-list row).
POLICY_OBJECTS = tuple(name for name, t in model.TABLES.items() if t.key == "id")
OBJECT_KEYS = ("required", "allowed", "max_age_days", "owner", "owners")
TOP_KEYS = ("review_every_days", "last_reviewed", "owner")


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


def _positive_days(value, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(_("{key} must be a positive whole number of days, not {value}", key=key, value=repr(value)),
                          where=where)
    return value


def _text(value, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(_("{key} must be a non-empty string, not {value}", key=key, value=repr(value)), where=where)
    return value.strip()


def _field_name(value, key: str, where: str) -> str:
    name = _text(value, key, where)
    if name in ("tenant", "raw"):
        raise ConfigError(_("{key} names {name}, which is bookkeeping, not a field", key=key, name=repr(name)),
                          where=where)
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
    raise ConfigError(_("{key} must be a date like 2026-10-01, not {value}", key=key, value=repr(value)), where=where)


def parse_policy(section, where: str = "crm-audit.toml") -> Policy | None:
    """The ``[policy]`` section as a :class:`Policy` (None when there is none); ConfigError names the key."""
    if section in (None, {}):
        return None
    if not isinstance(section, dict):
        raise ConfigError(_("[policy] must be a table"), where=where)
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
            near = object_table(key)
            if near in POLICY_OBJECTS:
                hint = _("did you mean [policy.{table}]?", table=near)
            else:
                hint = _("objects: {objects}; settings: {settings}", objects=", ".join(POLICY_OBJECTS),
                         settings=", ".join(TOP_KEYS))
            raise ConfigError(_("unknown key {key}", key="policy." + key), where=where, hint=hint)
    for obj in policy.objects.values():
        if obj.owner is None:
            obj.owner = policy.owner
    return policy


def _parse_allowed(obj: ObjectPolicy, here: str, value, where: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError(_("{key} must be a table of field = [allowed values], like {example}", key=here,
                            example='{lifecycle_stage = ["lead", "customer"]}'), where=where)
    for name, values in value.items():
        name = _field_name(name, f"{here} key", where)
        if isinstance(values, str) or not isinstance(values, list) or not values:
            raise ConfigError(_("{key} must be a non-empty list of values", key=here + "." + name), where=where)
        texts = []
        for i, v in enumerate(values):
            if isinstance(v, (dict, list)) or v is None:
                item = f"{here}.{name}[{i}]"
                raise ConfigError(_("{key} must be a string, number or boolean, not {value}", key=item, value=repr(v)),
                                  where=where)
            texts.append(("true" if v else "false") if isinstance(v, bool) else str(v))
        obj.allowed[name] = texts


def _parse_object(table: str, body, where: str) -> ObjectPolicy:
    prefix = f"policy.{table}"
    if not isinstance(body, dict):
        raise ConfigError(_("{key} must be a table like [{key}]", key=prefix), where=where)
    obj = ObjectPolicy(table)
    for key, value in body.items():
        here = f"{prefix}.{key}"
        if key == "required":
            if isinstance(value, str) or not isinstance(value, list):
                raise ConfigError(_("{key} must be a list of field names, like {example}", key=here,
                                    example='["email"]'), where=where)
            for i, name in enumerate(value):
                name = _field_name(name, f"{here}[{i}]", where)
                if name not in obj.required:
                    obj.required.append(name)
        elif key == "allowed":
            _parse_allowed(obj, here, value, where)
        elif key == "max_age_days":
            if "updated_at" not in model.TABLES[table].column_names:
                fresh = [t for t in POLICY_OBJECTS if "updated_at" in model.TABLES[t].column_names]
                raise ConfigError(_("{key}: {table} records have no updated_at to measure freshness by", key=here,
                                    table=table),
                                  where=where, hint=_("max_age_days applies to {tables}", tables=", ".join(fresh)))
            obj.max_age_days = _positive_days(value, here, where)
        elif key == "owner":
            obj.owner = _text(value, here, where)
        elif key == "owners":
            if not isinstance(value, dict):
                raise ConfigError(_("{key} must be a table of field = \"owner\"", key=here), where=where)
            for name, who in value.items():
                obj.owners[_field_name(name, f"{here} key", where)] = _text(who, f"{here}.{name}", where)
        else:
            raise ConfigError(_("unknown key {key}", key=here), where=where,
                              hint=_("known keys: {keys}", keys=", ".join(OBJECT_KEYS)))
    return obj


def policy_from_config(config) -> Policy | None:
    if config is None:
        return None
    where = str(config.path) if getattr(config, "path", None) else "crm-audit.toml"
    return parse_policy(config.section("policy") if hasattr(config, "section") else None, where)
