"""One audit: configure -> extract -> check -> score -> report -> archive.

Each step keeps going when one piece fails: a connector error keeps the rows already
read (marked partial) and the audit runs on what it has; a check that raises becomes an
``error`` result with its message; a check whose data no connector supplied is
``skipped`` with a reason. Nothing is silently dropped.
"""

from __future__ import annotations

import fnmatch
import gc
import json
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from rich.console import Console

from .version import __version__
from .checks import Check, CheckContext, SkipCheck
from .connector import ExtractContext, PreviousSnapshot
from .config import AuditConfig, TenantConfig
from .errors import ConfigError, PluginError, stop_if_interrupted
from .extract import ProgressBoard, run_connector
from .findings import AuditResult, Result, TenantInfo
from .i18n import Message, _, ngettext, render
from .integrations import prepare_integrations
from .progress import CheckProgress
from .probes import close_quietly
from .vocabulary import judge as judge_vocabulary
from .vocabulary import normalise as normalise_vocabulary
from .plugins import Registry, build_plugin_manager
from .reports import ReportContext
from .reports.separate import SeparateReport, can_fork
from .scoring import score
from .secrets import redact, scrub_mapping
from .store import SCHEMA, Store


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def select_checks(registry: Registry, config: AuditConfig, patterns: tuple[str, ...] = ()) -> list[Check]:
    """The checks to run: ``patterns`` (``--check``) or ``select`` in crm-audit.toml, minus ``skip``.

    A ``--check`` pattern that matches no installed check is a usage error (ConfigError,
    exit 2) naming the pattern, never an audit that runs nothing and passes.
    """
    select = list(patterns) or config.select or ["*"]
    if patterns:
        _refuse_unmatched(registry, patterns)
    chosen = []
    for check_id, item in sorted(registry.checks.items()):
        if any(fnmatch.fnmatchcase(check_id, p) for p in select) and not any(fnmatch.fnmatchcase(check_id, p) for p in config.skip):
            chosen.append(item)
    if patterns and not chosen:
        raise ConfigError(_("--check {patterns} selects only checks that the configuration skips",
                            patterns=" ".join(patterns)), where=str(config.path or "config"),
                          hint=f"skip = {list(config.skip)}")
    return chosen


def _refuse_unmatched(registry: Registry, patterns: tuple[str, ...]) -> None:
    import difflib

    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(cid, p) for cid in registry.checks)]
    if not unmatched:
        return
    names = ", ".join(repr(p) for p in unmatched)
    refused = [f for f in registry.refused("check").values() if any(fnmatch.fnmatchcase(f.item, p) for p in unmatched)]
    if refused:
        hint = str(refused[0])
    else:
        near = difflib.get_close_matches(unmatched[0], list(registry.checks), n=1)
        hint = (_("did you mean {name}? see {command}", name=repr(near[0]), command="`crm-audit checks list`") if near
                else _("see {command}", command="`crm-audit checks list`"))
    raise ConfigError(_("--check {patterns} matches no installed check", patterns=names), hint=hint)


def refuse_plugin_failures(registry: Registry) -> None:
    """``--strict``: any plugin failure (import error, refused check or reporter) stops the audit."""
    if registry.failures:
        listed = "; ".join(str(f) for f in registry.failures)
        raise PluginError(ngettext("--strict: {n} plugin failure, nothing was run: {failures}",
                                   "--strict: {n} plugin failures, nothing was run: {failures}",
                                   len(registry.failures), failures=listed),
                          hint=_("fix or uninstall the plugin, or leave it out with {setting}",
                                 setting="CRM_AUDIT_DISABLE_PLUGINS=name"))


def resolve_settings(registry: Registry, config: AuditConfig) -> dict[str, dict]:
    """Each check's settings: its documented defaults overlaid with crm-audit.toml."""
    where = str(config.path or "config")
    for check_id in config.check_settings:
        if check_id not in registry.checks and not registry.failures:
            # (with failures, its plugin failed to load or the check was refused: reported separately)
            near = [c for c in registry.checks if c.split(".")[-1] == check_id.split(".")[-1]]
            hint = (_("did you mean {name}?", name=repr(near[0])) if near
                    else _("see {command}", command="`crm-audit checks list`"))
            raise ConfigError(_("{section} names no installed check", section="[checks." + repr(check_id) + "]"), where=where,
                              hint=hint)
    return {check_id: item.resolve_settings(config) for check_id, item in registry.checks.items()}


def validate_tenants(registry: Registry, config: AuditConfig) -> None:
    where = str(config.path or "config")
    if not config.tenants:
        raise ConfigError(_("no tenant to audit"), where=where,
                          hint=_("add a [tenants.NAME] section or pass --files DIR / --connector NAME"))
    for tenant in config.tenants:
        info = registry.connectors.get(tenant.connector)
        if info is None:
            failed = [f for f in registry.failures if f.item == tenant.connector or (f.item is None and tenant.connector in f.name)]
            hint = str(failed[0]) if failed else _("installed connectors: {connectors}; {command}?",
                                                   connectors=", ".join(sorted(registry.connectors)),
                                                   command="pip install crm-audit-" + tenant.connector)
            raise ConfigError(_("tenant {tenant} uses unknown connector {connector}", tenant=repr(tenant.name),
                                connector=repr(tenant.connector)), where=where, hint=hint)
        refuse_unknown_options(info, tenant, where)
        missing = [o for o in info.required_options if tenant.options.get(o) in (None, "")]
        if missing:
            raise ConfigError(
                _("tenant {tenant} ({connector}) is missing option {option}", tenant=repr(tenant.name),
                  connector=tenant.connector, option=repr(missing[0])),
                where=where,
                hint=str(info.options[missing[0]]) if missing[0] in info.options
                else _("see {command}", command="`crm-audit connectors list`"),
            )
        _preflight(info, tenant, config)
        _validate_probes(registry, tenant, config, where)


def _validate_probes(registry: Registry, tenant: TenantConfig, config: AuditConfig, where: str) -> None:
    """A probe that is not installed, an unknown or missing option, or an option value its
    factory refuses is a usage error before anything is read."""
    from .probes import ProbeContext, validate_probe_options
    from .secrets import remember

    for name, options in tenant.probes.items():
        info = registry.probes.get(name)
        if info is None:
            installed = ", ".join(sorted(registry.probes)) or _("none")
            raise ConfigError(_("tenant {tenant} configures probe {probe}, which is not installed", tenant=repr(tenant.name),
                                probe=repr(name)), where=where,
                              hint=_("installed probes: {probes}; {command}?", probes=installed,
                                     command="pip install crm-audit-" + name))
        validate_probe_options(info, tenant.name, options, where)
        for key, option in info.options.items():
            if option.is_secret(key) and isinstance(options.get(key), str) and options[key]:
                remember(options[key])
        context = ProbeContext(tenant=tenant.name, as_of=config.as_of or _now())
        try:
            probe = info.factory(dict(options), context)
        except ConfigError as exc:
            if not exc.where:
                exc.where = f"{tenant.name}: probes.{name}"
            raise
        except Exception:
            continue
        close_quietly(probe)


def refuse_unknown_options(info, tenant: TenantConfig, where: str) -> None:
    """An option the connector does not declare (``ConnectorInfo.options``) is a usage error
    naming the options it has, with a did-you-mean: a typo is never silently ignored."""
    import difflib

    unknown = [name for name in tenant.options if name not in info.options]
    if not unknown:
        return
    name = unknown[0]
    near = difflib.get_close_matches(name, list(info.options), n=1)
    known = ", ".join(sorted(info.options)) or _("none")
    hint = (_("did you mean {name}? its options: {options}", name=repr(near[0]), options=known) if near
            else _("its options: {options}", options=known))
    raise ConfigError(_("tenant {tenant}: {option} is not an option of the {connector} connector", tenant=repr(tenant.name),
                        option=repr(name), connector=info.name), where=where, hint=hint)


def _preflight(info, tenant: TenantConfig, config: AuditConfig) -> None:
    """Build the connector once before anything is read or archived, so that a bad option
    value, a missing credential or a missing folder (ConfigError) is a usage error (exit 2)
    rather than an archived audit of nothing. Factories only read their options (no
    network: see ConnectorInfo); any other exception surfaces when the tenant is read."""
    context = ExtractContext(tenant=tenant.name, as_of=config.as_of or _now(), debug=False,
                             settings=config.section("connectors").get(tenant.connector, {}))
    try:
        connector = info.factory(dict(tenant.options), context)
    except ConfigError as exc:
        if not exc.where:
            exc.where = tenant.name
        raise
    except Exception:
        return
    close_quietly(connector)


def _new_folder(out: Path, started: datetime) -> tuple[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    base = started.strftime("%Y%m%dT%H%M%SZ")
    audit_id, n = base, 1
    while (out / audit_id).exists():
        n += 1
        audit_id = f"{base}-{n}"
    folder = out / audit_id
    folder.mkdir()
    return audit_id, folder


def run_checks(registry: Registry, store: Store, tenant: str, checks: list[Check], settings: dict[str, dict],
               as_of: datetime, config: AuditConfig, partial: dict[str, str] | None = None,
               stopped: str | None = None, limitations: dict[str, str] | None = None,
               unavailable: dict[str, str] | None = None, connector: str | None = None,
               on_check: Callable[[str | None], None] | None = None) -> list[Result]:
    """Run ``checks`` on one tenant of the store.

    ``partial``: table -> why it is partial. ``stopped``: the error that stopped the
    tenant's extraction, so a check whose table was never reached says so instead of
    blaming the connector for not supplying it. ``limitations``: the connector's
    :attr:`ConnectorInfo.limitations`, so a check skipped for what the vendor does not
    expose names the limitation. ``unavailable``: what the connector said at run time it
    could not read (``sink.unavailable``), merged over ``limitations`` for this tenant.
    ``connector``: the connector that read the tenant; a check whose ``vendors`` do not
    name it is ``not-applicable`` there (never run, never scored). ``on_check``: called with
    each check's id as it starts and with None after the last (the progress bar).
    """
    unrecognised = normalise_vocabulary(store, tenant)
    info = registry.connectors.get(connector) if connector else None
    any_vendor = bool(info is not None and info.any_vendor)
    supplied = store.supplied(tenant)
    cursor = store.tenant_cursor(tenant)
    shared: dict = {}
    as_of_naive = as_of.astimezone(timezone.utc).replace(tzinfo=None)
    results = []
    for item in checks:
        if on_check is not None:
            on_check(item.id)
        ctx = CheckContext(check=item, tenant=tenant, connection=cursor, as_of=as_of_naive,
                           settings=dict(settings.get(item.id, item.settings)), config=config,
                           supplied=supplied, shared=shared, limitations=limitations, read_error=stopped,
                           unavailable=unavailable)
        started = time.perf_counter()
        missing = _missing_needs(item, supplied)
        absent = _absent_vendor_tables(item, supplied, any_vendor)
        if not item.applies_to(connector, any_vendor) or absent:
            result = ctx.not_applicable(connector, absent)
            result.duration_seconds = time.perf_counter() - started
            results.append(result)
            registry.hook.crm_audit_result(result=result, check=item)
            continue
        if missing:
            if stopped:
                result = ctx.skip(_("needs {missing}, which was not read: extraction stopped ({error})",
                                    missing=missing, error=stopped))
            else:
                result = ctx.skip(ctx.not_supplied(missing))
        else:
            try:
                with collector_paused():
                    result = item.func(ctx)
                if not isinstance(result, Result):
                    raise TypeError(f"returned {type(result).__name__}, not a Result (use ctx.result / ctx.skip)")
            except SkipCheck as exc:
                result = ctx.skip(exc.args[0] if exc.args and exc.args[0] else _("skipped by the check"))
            except Exception as exc:
                stop_if_interrupted(exc)  # a Ctrl-C DuckDB turned into an error stops the audit
                text = redact(str(exc)).strip().splitlines()
                result = ctx._result("error", reason=f"{type(exc).__name__}: {text[0] if text else ''}".strip(),
                                     message=_("the check raised an error; the audit went on"))
        judge_vocabulary(result, item.needs, unrecognised)
        if partial and result.status in ("pass", "fail"):
            hit = sorted(t for t in item.needs if t in partial)
            if hit:
                # (a template inside another's arguments is not extracted: build it first)
                tables = Message.join([_("{table} ({why})", table=t, why=partial[t]) for t in hit])
                note = _("based on partial data: {tables}", tables=tables)
                result.reason = Message.join([note, result.reason]) if result.reason else note
        result.duration_seconds = time.perf_counter() - started
        results.append(result)
        registry.hook.crm_audit_result(result=result, check=item)
    cursor.close()
    if on_check is not None:
        on_check(None)
    return results


def _absent_vendor_tables(item: Check, supplied: dict[str, set[str]], any_vendor: bool) -> str | None:
    """For a check of some CRMs (``vendors``) on a connector of any CRM's data (the files
    connector): "the X table" when it supplied no table the check needs (the data decides
    whether it applies)."""
    if not item.vendors or not any_vendor:
        return None
    absent = [t for t in item.needs if t not in supplied]
    return _("the {table} table", table=absent[0]) if absent else None


def _missing_needs(item: Check, supplied: dict[str, set[str]]) -> str | None:
    for table, columns in item.needs.items():
        if table not in supplied:
            return _("the {table} table", table=table)
        lacking = [c for c in columns if c not in supplied[table]]
        if lacking:
            return ", ".join(f"{table}.{c}" for c in lacking)
    return None


def _link_function(registry: Registry, config: AuditConfig):
    by_tenant = {t.name: t for t in config.tenants}

    def link(tenant: str, obj: str, rid: str):
        t = by_tenant.get(tenant)
        info = registry.connectors.get(t.connector) if t else None
        if info is None or info.record_url is None:
            return None
        try:
            return info.record_url(t.options, obj, rid)
        except Exception:
            return None

    return link


BUILTIN_REPORTERS = "crm_audit_core.reports.builtin"
STATE_FILE = "state.json"
INCREMENTAL_OVERLAP = timedelta(minutes=10)


def _write_state(folder: Path, state: dict) -> None:
    tmp = folder / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, default=str), encoding="utf-8")
    tmp.replace(folder / STATE_FILE)


def find_interrupted(out: Path) -> Path | None:
    """The newest audit folder whose state says it did not finish."""
    if not out.exists():
        return None
    for folder in sorted((p for p in out.iterdir() if (p / STATE_FILE).exists()), reverse=True):
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        if state.get("status") != "complete":
            return folder
    return None


def find_previous(out: Path, tenant: str, connector: str, before: str) -> PreviousSnapshot | None:
    """The newest complete audit in ``out`` that read ``tenant`` fully with ``connector``."""
    if not out.exists():
        return None
    for folder in sorted((p for p in out.iterdir() if (p / STATE_FILE).exists()), reverse=True):
        if folder.name >= before:
            continue
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        info = (state.get("tenants") or {}).get(tenant) or {}
        if state.get("status") != "complete" or info.get("connector") != connector or not info.get("complete"):
            continue
        if not (folder / "snapshot.duckdb").exists():
            continue
        since = datetime.fromisoformat(info["extract_started_at"]) - INCREMENTAL_OVERLAP
        return PreviousSnapshot(audit_id=state["audit_id"], path=folder / "snapshot.duckdb", since=since,
                                records=info.get("records", {}), tenant=tenant)
    return None


def run_audit(config: AuditConfig, *, registry: Registry | None = None, console: Console | None = None,
              check_patterns: tuple[str, ...] = (), progress: bool | None = None,
              resume: bool = False, incremental: bool = False, strict: bool = False) -> tuple[AuditResult, Path]:
    """Run a whole audit; returns the result and its archive folder.

    ``resume``: continue the newest interrupted audit in ``config.out`` (same folder,
    same as-of date): tenants already read are kept, a connector that checkpoints
    continues from its last checkpoint, others read their tenant again.
    ``incremental``: connectors that support it read only what changed since the last
    complete audit of the same tenant and take the rest from its snapshot.
    ``strict``: a plugin that failed to load or had a check or reporter refused stops
    the audit before anything is read or archived (PluginError, exit 2).
    """
    registry = registry or build_plugin_manager()
    console = console or Console(stderr=True)
    if strict:
        refuse_plugin_failures(registry)
    validate_tenants(registry, config)
    settings = resolve_settings(registry, config)
    checks = select_checks(registry, config, check_patterns)
    # [[accepted_risks]] are checked now, so a bad entry is a usage error before anything is archived.
    apply_accepted_risks(AuditResult(id="", as_of="", started_at="", tool_version=__version__), config,
                         config.as_of or _now())
    registry.hook.crm_audit_configure(config=config)
    out = Path(config.out)
    if resume:
        folder = find_interrupted(out)
        if folder is None:
            raise ConfigError(_("there is no interrupted audit to resume"), where=str(out),
                              hint=_("run without --resume to start a new audit"))
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
        missing = sorted(set(state.get("tenants", {})) - {t.name for t in config.tenants})
        if missing:
            raise ConfigError(_("the interrupted audit {audit} also read tenant {tenant}, which this configuration "
                                "does not name", audit=state["audit_id"], tenant=repr(missing[0])),
                              hint=_("resume with the same configuration"))
        audit_id = state["audit_id"]
        as_of = datetime.fromisoformat(state["as_of"])
        started = datetime.fromisoformat(state["started_at"])
        console.print(render(_("resuming audit {audit} (as of {date})", audit=audit_id, date=as_of.date()), config.lang))
    else:
        as_of = config.as_of or _now()
        started = _now()
        audit_id, folder = _new_folder(out, started)
        state = {"audit_id": audit_id, "status": "extracting", "as_of": as_of.isoformat(),
                 "started_at": started.isoformat(), "tenants": {}}
        _write_state(folder, state)
    audit = AuditResult(id=audit_id, as_of=as_of.isoformat(), started_at=started.isoformat(), tool_version=__version__,
                        lang=config.lang,
                        plugin_errors=[str(f) for f in registry.failures])
    store = Store(folder / "snapshot.duckdb")
    try:
        with ProgressBoard(console, enabled=progress) as board:
            for tenant in config.tenants:
                info = registry.connectors[tenant.connector]
                done = state["tenants"].get(tenant.name) or {}
                if resume and done.get("complete"):
                    tinfo = TenantInfo.from_json(done["info"])
                    audit.tenants.append(tinfo)
                    continue
                previous = None
                if incremental and info.incremental:
                    previous = find_previous(out, tenant.name, tenant.connector, before=audit_id)
                extract_started = done.get("extract_started_at") or _now().isoformat()
                state["tenants"][tenant.name] = {"connector": tenant.connector, "complete": False,
                                                 "extract_started_at": extract_started}
                _write_state(folder, state)
                outcome = run_connector(info, tenant.options, tenant.name, store, as_of, board=board, debug=config.debug,
                                        settings=config.section("connectors").get(tenant.connector, {}),
                                        previous=previous, resuming=resume and bool(done), lang=config.lang)
                tinfo = TenantInfo(name=tenant.name, connector=tenant.connector, api_calls=outcome.api_calls,
                                   partial_tables=outcome.partial_tables, notes=outcome.notes,
                                   error=outcome.error.one_line() if outcome.error else None,
                                   unavailable=dict(outcome.unavailable))
                if previous is not None:
                    tinfo.notes.append(ngettext(
                        "incremental: read what changed since {since} UTC and took {n} unchanged record from audit {audit}",
                        "incremental: read what changed since {since} UTC and took {n} unchanged records from audit {audit}",
                        sum(outcome.carried.values()), since=previous.since.strftime("%Y-%m-%d %H:%M"), audit=previous.audit_id))
                tinfo.records = store.counts(tenant.name)
                audit.tenants.append(tinfo)
                complete = tinfo.error is None and not tinfo.partial_tables
                state["tenants"][tenant.name].update(complete=complete, records=tinfo.records, info=tinfo.to_json())
                _write_state(folder, state)
        state["status"] = "checking"
        _write_state(folder, state)
        by_name = {t.name: t for t in config.tenants}
        with CheckProgress(console, enabled=progress, lang=config.lang) as shown:
            for tinfo in audit.tenants:
                prepare_integrations(registry, store, by_name[tinfo.name], tinfo, config, as_of, console)
                why = tinfo.error or _("extraction did not complete")
                partial = {t: why for t in tinfo.partial_tables}
                limitations = (registry.connectors[tinfo.connector].limitations
                               if tinfo.connector in registry.connectors else {})
                audit.results.extend(run_checks(registry, store, tinfo.name, checks, settings, as_of, config, partial,
                                                stopped=tinfo.error, limitations=limitations,
                                                unavailable=tinfo.unavailable, connector=tinfo.connector,
                                                on_check=shown.tenant(tinfo.name, len(checks))))
        apply_accepted_risks(audit, config, as_of)
        audit.score = score(audit.results)
        audit.finished_at = _now().isoformat()
        # the reports read the results, not the snapshot: closing it first hands DuckDB's
        # cache (up to CHECK_MEMORY_LIMIT) back before they are written
        store.close()
        write_reports(registry, audit, folder, config)
        _archive_settings(folder, config, settings, checks)
        failed = [t for t in audit.tenants if t.error or t.partial_tables]
        # A tenant that failed can be resumed; a finished audit cannot.
        state["status"] = "interrupted" if failed else "complete"
        _write_state(folder, state)
    finally:
        store.close()
    registry.hook.crm_audit_after_audit(audit=audit, folder=folder)
    return audit, folder


def apply_accepted_risks(audit: AuditResult, config: AuditConfig, as_of: datetime) -> None:
    """Hook point for accepted risks (config ``[[accepted_risks]]``); see history.py."""
    from .history import apply_accepted_risks as apply

    apply(audit, config, as_of)


@contextmanager
def collector_paused():
    """Python's cyclic garbage collector paused while a check runs or the reports are written.

    Both build hundreds of thousands of objects that live on (a result's details, the
    reports' templates); the collector would walk all of them again and again as they pile
    up (at 1M contacts: localising the results took 4.2 s, 1.0 s paused). What they free
    goes by reference counting as ever; cycles wait for the collector's next pass.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def write_reports(registry: Registry, audit: AuditResult, folder: Path, config: AuditConfig, formats=None,
                  lang: str | None = None) -> list[Path]:
    """Write the report formats (all default ones, or ``formats``) of ``audit`` into
    ``folder``, its text rendered in ``lang`` (default: the config's ``[audit] lang``)."""
    from .history import list_audits

    history = [h for h in list_audits(folder.parent) if h["id"] != audit.id]
    history.append({"id": audit.id, "as_of": audit.as_of, "score": (audit.score or {}).get("overall")})
    context = ReportContext(folder=folder, link=_link_function(registry, config), registry=registry, history=history,
                            lang=lang or config.lang)
    with collector_paused():
        return _write_reports(registry, audit, context, config, formats)


def _write_reports(registry: Registry, audit: AuditResult, context: ReportContext, config: AuditConfig,
                   formats) -> list[Path]:
    audit = audit.localised(context.lang)
    # Plugins' formats first and report.json last, so a format that fails is named in
    # report.json (and in the built-in reports written after it).
    order = sorted(registry.reporters.items(), key=lambda kv: (kv[1].plugin == BUILTIN_REPORTERS, kv[0] == "json"))
    order = [(name, reporter) for name, reporter in order
             if (name in formats if formats is not None else reporter.default)]
    # A format marked ``separate`` is written by a child process on another core while the
    # formats after it are written here; if it fails, those are written again, to name it.
    fork = len(order) > 1 and not config.debug and can_fork()
    apart: dict[str, SeparateReport] = {}
    written: dict[str, list[Path]] = {}
    for name, reporter in order:
        if reporter.separate and fork:
            apart[name] = SeparateReport(reporter, audit, context)
        else:
            written[name] = _write_one(name, reporter, audit, context, config)
    for position, (name, reporter) in enumerate(order):
        if name not in apart:
            continue
        paths, error = apart[name].result()
        written[name] = paths
        if error:
            audit.plugin_errors.append(f"plugin {reporter.plugin!r}: report format {name!r} failed: {error}")
            for later, other in order[position + 1:]:
                if later not in apart:
                    written[later] = _write_one(later, other, audit, context, config)
    return [path for name, _reporter in order for path in written.get(name, [])]


def _write_one(name: str, reporter, audit: AuditResult, context: ReportContext, config: AuditConfig) -> list[Path]:
    try:
        return list(reporter.write(audit, context) or [])
    except Exception as exc:
        if config.debug:
            raise
        audit.plugin_errors.append(f"plugin {reporter.plugin!r}: report format {name!r} failed: "
                                   f"{type(exc).__name__}: {redact(str(exc))[:200]}")
        return []


def _archive_settings(folder: Path, config: AuditConfig, settings: dict, checks: list[Check]) -> None:
    data = {
        "config_file": str(config.path) if config.path else None,
        "config": scrub_mapping(config.unexpanded),
        "as_of": config.as_of.isoformat() if config.as_of else None,
        "tenants": [{"name": t.name, "connector": t.connector, "options": scrub_mapping(t.options),
                     **({"probes": {p: scrub_mapping(o) for p, o in t.probes.items()}} if t.probes else {})}
                    for t in config.tenants],
        "checks": {c.id: settings.get(c.id, {}) for c in checks},
    }
    (folder / "settings.json").write_text(json.dumps(data, indent=1, default=str, ensure_ascii=False), encoding="utf-8")
