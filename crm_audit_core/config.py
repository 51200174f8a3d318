"""crm-audit.toml: reading, ``${ENV}`` secrets and validation with clear errors.

Example::

    [audit]
    as_of = "2026-12-31"          # default: now (UTC)
    lang = "id"                   # the reports' language: en (default), id, ko
    out = "audits"                # where audit folders are archived
    select = ["*"]                # check id patterns to run (fnmatch)
    skip = []                     # check id patterns to leave out
    fail_under = 70               # exit code 1 when the overall score is lower
    incremental = false           # true: read only what changed since the last audit

    [tenants.acme-hubspot]
    connector = "hubspot"
    access_token = "${HUBSPOT_TOKEN}"   # any other key is a connector option

    [checks."security.dormant-users"]
    days = 60                      # per-check settings (see `crm-audit checks list`)

Other top-level sections (``value``, ``survey``, ``policy``, ``accepted_risks``,
``integrations``, ``plugins``) are read by the checks and plugins that own them.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .i18n import _
from .secrets import is_secret_key, remember

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
TENANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

KNOWN_SECTIONS = {"audit", "tenants", "checks", "value", "survey", "policy", "accepted_risks", "integrations", "plugins", "connectors", "probes"}
AUDIT_KEYS = {"as_of", "out", "select", "skip", "fail_under", "name", "incremental", "lang"}


@dataclass
class TenantConfig:
    name: str
    connector: str
    options: dict[str, Any] = field(default_factory=dict)
    # [tenants.<name>.probes.<probe>]: probe name -> its options
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class AuditConfig:
    path: Path | None = None
    as_of: datetime | None = None
    out: Path = Path("audits")
    select: list[str] = field(default_factory=lambda: ["*"])
    skip: list[str] = field(default_factory=list)
    fail_under: float | None = None
    incremental: bool = False
    lang: str = "en"  # the reports' language: en, id, ko (crm_audit_core.i18n.LANGUAGES)
    tenants: list[TenantConfig] = field(default_factory=list)
    check_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    sections: dict[str, Any] = field(default_factory=dict)
    debug: bool = False
    # The config as the user wrote it, ${ENV} references unexpanded (safe to archive).
    unexpanded: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def section(self, name: str) -> dict:
        value = self.sections.get(name)
        return value if isinstance(value, dict) else {}

    def plugin_settings(self, name: str) -> dict:
        return self.section("plugins").get(name, {}) if isinstance(self.section("plugins").get(name), dict) else {}

    def resolve_path(self, value: str | Path) -> Path:
        p = Path(value).expanduser()
        return p if p.is_absolute() else self.base_dir / p


def parse_as_of(value, where: str = "as_of") -> datetime:
    """A date or timestamp (str/date/datetime) as an aware UTC datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(_("{value} is not a date", value=repr(text)), where=where,
                              hint=_("use YYYY-MM-DD or an ISO-8601 timestamp")) from None
    else:
        raise ConfigError(_("{value} is not a date", value=repr(value)), where=where, hint=_("use YYYY-MM-DD"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _expand(value: Any, where: str, env: dict[str, str]) -> Any:
    if isinstance(value, str):
        def sub(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                _("refers to {reference}, which is not set", reference="${" + name + "}"),
                where=where,
                hint=_("export {name}=... in the environment that runs crm-audit; never write a secret "
                       "itself into the file", name=name),
            )

        return ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}", env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", env) for i, v in enumerate(value)]
    return value


def _remember_secrets(options: dict) -> None:
    for key, value in options.items():
        if isinstance(value, str) and is_secret_key(key):
            remember(value)


def load_config(path: str | Path | None, *, env: dict[str, str] | None = None) -> AuditConfig:
    """Read and validate ``crm-audit.toml``; ``None`` gives an empty config."""
    env = dict(os.environ) if env is None else env
    if path is None:
        return AuditConfig()
    path = Path(path)
    if not path.exists():
        raise ConfigError(_("config file not found"), where=str(path),
                          hint=_("create it or pass -c PATH; see docs/getting-started.md"))
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_("not valid TOML: {problem}", problem=str(exc)), where=str(path)) from None
    except UnicodeDecodeError:
        raise ConfigError(_("not UTF-8 text"), where=str(path)) from None
    return config_from_dict(data, path=path, env=env)


def config_from_dict(data: dict, *, path: Path | None = None, env: dict[str, str] | None = None) -> AuditConfig:
    env = dict(os.environ) if env is None else env
    where = str(path) if path else "config"
    unknown = sorted(set(data) - KNOWN_SECTIONS)
    if unknown:
        raise ConfigError(_("unknown section {section}", section=repr(unknown[0])), where=where,
                          hint=_("known sections: {sections}", sections=", ".join(sorted(KNOWN_SECTIONS))))
    cfg = AuditConfig(path=path, unexpanded=data)
    audit = data.get("audit", {})
    if not isinstance(audit, dict):
        raise ConfigError(_("[audit] must be a table"), where=where)
    bad = sorted(set(audit) - AUDIT_KEYS)
    if bad:
        raise ConfigError(_("unknown key {key}", key="audit." + bad[0]), where=where,
                          hint=_("known keys: {keys}", keys=", ".join(sorted(AUDIT_KEYS))))
    audit = _expand(audit, f"{where}: audit", env)
    if audit.get("as_of") not in (None, ""):
        cfg.as_of = parse_as_of(audit["as_of"], where=f"{where}: audit.as_of")
    if audit.get("lang") not in (None, ""):
        cfg.lang = check_lang(str(audit["lang"]), where=f"{where}: audit.lang")
    if "out" in audit:
        cfg.out = Path(str(audit["out"]))
        if path and not cfg.out.is_absolute():
            cfg.out = path.parent / cfg.out
    for key in ("select", "skip"):
        if key in audit:
            value = audit[key]
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(_("{key} must be a list of check id patterns", key="audit." + key), where=where)
            setattr(cfg, key, value)
    if audit.get("fail_under") is not None:
        try:
            cfg.fail_under = float(audit["fail_under"])
        except (TypeError, ValueError):
            raise ConfigError(_("{key} must be a number 0-100", key="audit.fail_under"), where=where) from None
        if not 0 <= cfg.fail_under <= 100:
            raise ConfigError(_("{key} must be between 0 and 100", key="audit.fail_under"), where=where)

    if "incremental" in audit:
        if not isinstance(audit["incremental"], bool):
            raise ConfigError(_("{key} must be true or false", key="audit.incremental"), where=where)
        cfg.incremental = audit["incremental"]
    tenants = data.get("tenants", {})
    if not isinstance(tenants, dict):
        raise ConfigError(_("[tenants] must be tables like {example}", example="[tenants.acme]"), where=where)
    for name, body in tenants.items():
        cfg.tenants.append(tenant_from_dict(name, body, where=where, env=env))

    checks = data.get("checks", {})
    if not isinstance(checks, dict) or not all(isinstance(v, dict) for v in checks.values()):
        raise ConfigError(_("[checks] must hold tables like {example}", example='[checks."security.dormant-users"]'),
                          where=where)
    cfg.check_settings = {k: dict(v) for k, v in checks.items()}
    for name in KNOWN_SECTIONS - {"audit", "tenants", "checks"}:
        if name in data:
            cfg.sections[name] = _expand(data[name], f"{where}: {name}", env)
    return cfg


def tenant_from_dict(name: str, body: Any, *, where: str = "config", env: dict | None = None) -> TenantConfig:
    env = dict(os.environ) if env is None else env
    if not TENANT_NAME.match(name):
        raise ConfigError(_("tenant name {name} is not allowed", name=repr(name)), where=where,
                          hint=_("use letters, digits, '-', '_' or '.' (max {n} characters)", n=64))
    if not isinstance(body, dict):
        raise ConfigError(_("{section} must be a table", section="[tenants." + name + "]"), where=where)
    connector = body.get("connector")
    if not isinstance(connector, str) or not connector:
        raise ConfigError(_("tenant {name} has no connector", name=repr(name)), where=where,
                          hint=_("add {example} (or hubspot, salesforce, pipedrive)", example='connector = "files"'))
    options = _expand({k: v for k, v in body.items() if k not in ("connector", "probes")}, f"{where}: tenants.{name}", env)
    _remember_secrets(options)
    probes = body.get("probes", {})
    if not isinstance(probes, dict) or not all(isinstance(v, dict) for v in probes.values()):
        raise ConfigError(_("{section} must hold tables like {example}", section="[tenants." + name + ".probes]",
                            example="[tenants." + name + ".probes.mailchimp]"), where=where)
    probe_options = {}
    for probe, values in probes.items():
        probe_options[probe] = _expand(dict(values), f"{where}: tenants.{name}.probes.{probe}", env)
        _remember_secrets(probe_options[probe])
    return TenantConfig(name=name, connector=connector, options=options, probes=probe_options)


def parse_option_pairs(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--option k=v`` values as a dict, with a clear error for a missing '='."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(_("--option {value} is not KEY=VALUE", value=repr(pair)),
                              hint=_("for example {example}", example="--option access_token=$HUBSPOT_TOKEN"))
        out[key.strip()] = value
    _remember_secrets(out)
    return out


def coerce_setting(check_id: str, key: str, default: Any, value: Any, where: str) -> Any:
    """Check a user's setting against the type of its documented default."""
    if default is None or value is None:
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, list):
        if isinstance(value, list):
            return value
    elif isinstance(default, dict):
        if isinstance(value, dict):
            return value
    else:
        return value
    raise ConfigError(
        _("{setting} = {value} should be {type} like the default {default}", setting="checks." + check_id + "." + key,
          value=repr(value), type=type(default).__name__, default=repr(default)),
        where=where,
    )


def check_lang(lang: str | None, where: str = "--lang") -> str:
    """``lang`` when it is a language the reports are written in
    (:data:`crm_audit_core.i18n.LANGUAGES`); a ConfigError naming the choices otherwise."""
    from .i18n import DEFAULT_LANG, LANGUAGES, _

    lang = (lang or DEFAULT_LANG).strip().lower()
    if lang not in LANGUAGES:
        raise ConfigError(_("language '{lang}' is not one the reports are written in", lang=lang), where=where,
                          hint=_("use one of: {languages}",
                                 languages=", ".join(f"{k} ({v})" for k, v in LANGUAGES.items())))
    return lang
