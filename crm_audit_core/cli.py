"""The command line (click). Errors are one line; tracebacks only with --debug.

Exit codes: 0 the audit ran (and met --fail-under), 1 below --fail-under,
2 usage or configuration error (a ``--check`` pattern that matches no check, an unknown
connector option, a missing folder or unreadable file; with ``--strict``, a plugin that
failed to load or had a check or report format refused), 3 connector failure.
Click's own usage errors have the same shape as ours: one line starting ``error:``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from . import __version__, model
from .cli_output import EXIT_BELOW_THRESHOLD, _t, console as _console, finish as _finish, lang as _lang
from .cli_output import next_after_run as _next_after_run, use_lang as _use_lang
from .config import AuditConfig, TenantConfig, load_config, parse_as_of, parse_option_pairs
from .errors import ConfigError, CrmAuditError, interrupted
from .i18n import _
from .secrets import redact
from .tenant_access import tenant_name_from



class _HelpGroup(click.Group):
    """A group whose command list shows each description whole (wrapped, never cut off)."""

    def format_commands(self, ctx, formatter):
        rows = [(name, cmd.get_short_help_str(limit=10_000)) for name, cmd in
                ((n, self.get_command(ctx, n)) for n in self.list_commands(ctx)) if cmd is not None and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _Group(_HelpGroup):
    """Turns every CrmAuditError, and click's own usage errors, into one ``error:`` line."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        prog_name = prog_name or "crm-audit"  # also under `python -m crm_audit_core.cli`
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # a group given no command: its help, as click shows it
                exc.show()
                sys.exit(exc.exit_code)
            click.echo(_t("error: {error}", error=_click_message(exc)), err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo(_t("error: aborted"), err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx):
        debug = bool(ctx.params.get("debug")) or os.environ.get("CRM_AUDIT_DEBUG") == "1"
        try:
            return super().invoke(ctx)
        except CrmAuditError as exc:
            if debug:
                raise
            click.echo(redact(_t("error: {error}", error=exc.render(_lang()))), err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(_t("error: interrupted"), err=True)
            ctx.exit(130)
        except Exception as exc:
            if interrupted(exc):  # a Ctrl-C DuckDB turned into an error
                click.echo(_t("error: interrupted"), err=True)
                ctx.exit(130)
            if debug:
                raise
            text = redact(str(exc)).strip().splitlines()
            click.echo(_t("error: internal error: {kind}: {problem} (run with --debug for the traceback)",
                          kind=type(exc).__name__, problem=text[0] if text else ""), err=True)
            ctx.exit(2)


def _click_message(exc: click.ClickException) -> str:
    text = " ".join(exc.format_message().split())
    text = text[:1].lower() + text[1:]
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        text += f" (see '{ctx.command_path} --help')"
    return text


@click.group(cls=_Group, name="crm-audit", context_settings={"max_content_width": 100})
@click.version_option(__version__, prog_name="crm-audit")
@click.option("--debug", is_flag=True, help="Show tracebacks and re-raise errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """crm-audit: the year-end CRM audit, for any CRM a plugin can read."""
    _use_lang(None)  # English unless the command says otherwise (run, report, diff: --lang / [audit] lang)
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug or os.environ.get("CRM_AUDIT_DEBUG") == "1"


_ENTRY_REGISTRY = None  # built once by entry() (the console script); commands reuse it


def _registry():
    from .plugins import build_plugin_manager

    return _ENTRY_REGISTRY if _ENTRY_REGISTRY is not None else build_plugin_manager()


def _warn_failures(registry) -> None:
    for failure in registry.failures:
        click.echo(_t("warning: {warning}", warning=str(failure)), err=True)


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------


@main.command()
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), help="crm-audit.toml (default: ./crm-audit.toml if present).")
@click.option("--connector", help="Audit one tenant with this connector (with --option k=v).")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="An option of the --connector or --files tenant (repeatable); `crm-audit connectors list` shows them.")
@click.option("--tenant", "tenant_name", help="Tenant name for --connector / --files (default: the connector's or folder's name).")
@click.option("--files", "files_dir", type=click.Path(), help="Audit a folder of <table>.csv files, or of a CRM's export (or the export's .zip).")
@click.option("--files-format", "files_format", default=None,
              help="What the --files folder holds: canonical, salesforce-export, hubspot-export, pipedrive-export "
                   "(default: detected from the files' names and headers).")
@click.option("--encoding", "files_encoding", default=None,
              help="The --files CSVs' encoding when detection cannot tell (utf-8, utf-16, cp949, cp1252).")
@click.option("--date-order", "files_date_order", type=click.Choice(["day-first", "month-first"]), default=None,
              help="Dates such as 05/03/2024 in the --files CSVs: day-first or month-first.")
@click.option("--as-of", "as_of", help="Audit date (YYYY-MM-DD); default now.")
@click.option("--out", "out", type=click.Path(file_okay=False),
              help="Archive folder: the audit is written to a new folder inside it (default ./audits).")
@click.option("--fail-under", type=click.FloatRange(0, 100), help="Exit with code 1 when the overall score is lower.")
@click.option("--check", "check_patterns", multiple=True, metavar="PATTERN", help="Only checks matching this id pattern (repeatable).")
@click.option("--survey", "survey", type=click.Path(dir_okay=False), help="Survey answers CSV to fold into the feedback step.")
@click.option("--resume", is_flag=True, help="Continue the newest interrupted audit in the archive folder.")
@click.option("--incremental", is_flag=True, help="Read only what changed since the last complete audit of each tenant.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: when stderr is a terminal).")
@click.option("--strict", is_flag=True, help="Refuse to run (exit 2) when a plugin failed to load or had a check or report format refused.")
@click.option("--lang", "lang", default=None, metavar="LANG",
              help="The reports' language: en, id (Bahasa Indonesia), ko (Korean); default [audit] lang, else en.")
@click.pass_context
def run(ctx, config_path, connector, options, tenant_name, files_dir, files_format, files_encoding, files_date_order,
        as_of, out, fail_under, check_patterns, survey, resume, incremental, progress, strict, lang):
    """Run an audit and archive it (report.json, fix-lists, snapshot)."""
    from .runner import run_audit

    if config_path is None and Path("crm-audit.toml").exists() and not (connector or files_dir):
        config_path = "crm-audit.toml"
    _use_lang(lang, config_path)
    config = load_config(config_path) if config_path else AuditConfig()
    config.debug = ctx.obj["debug"]
    if connector:
        config.tenants.append(TenantConfig(tenant_name or connector, connector, parse_option_pairs(options)))
    elif options and not files_dir:
        raise ConfigError(_("--option needs --connector NAME or --files DIR"))
    if (files_format or files_encoding or files_date_order) and not files_dir:
        raise ConfigError(_("--files-format, --encoding and --date-order need --files DIR"))
    if files_dir:
        files_options = {} if connector else parse_option_pairs(options)
        for key, value in (("format", files_format), ("encoding", files_encoding), ("date_order", files_date_order)):
            if value:
                files_options[key] = value
        source = Path(files_dir).resolve()
        label = source.stem if source.suffix.lower() == ".zip" else source.name
        name = tenant_name if tenant_name and not connector else tenant_name_from(label)
        config.tenants.append(TenantConfig(name, "files", {**files_options, "path": files_dir}))
    names = [t.name for t in config.tenants]
    if len(set(names)) != len(names):
        raise ConfigError(_("tenant name {name} is used twice", name=repr(names[-1])), hint=_("give --tenant NAME"))
    if as_of:
        config.as_of = parse_as_of(as_of, where="--as-of")
    if out:
        config.out = Path(out)
    if fail_under is not None:
        config.fail_under = fail_under
    if lang:
        from .config import check_lang

        config.lang = check_lang(lang)
    if survey:
        config.sections.setdefault("survey", {})["answers"] = str(Path(survey).resolve())
    if resume and as_of:
        raise ConfigError(_("--resume continues an audit with its own as-of date; leave out --as-of"))
    audit, folder = run_audit(config, check_patterns=tuple(check_patterns), progress=progress,
                              console=Console(stderr=True), resume=resume,
                              incremental=incremental or config.incremental, strict=strict)
    _finish(audit, folder, config.fail_under, next_step=_next_after_run(folder))


# ---------------------------------------------------------------------------
# listings
# ---------------------------------------------------------------------------


@main.group(cls=_HelpGroup)
def checks():
    """The checks installed."""


@checks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def checks_list(as_json):
    """List every installed check with its step, severity, settings, the CRMs it applies to
    and its references."""
    registry = _registry()
    _warn_failures(registry)
    rows = [
        {"id": c.id, "title": c.title, "step": c.step, "area": c.area, "severity": c.severity, "plugin": c.plugin,
         "needs": {t: list(cols) for t, cols in c.needs.items()}, "settings": c.settings,
         "vendors": list(c.vendors), "references": list(c.references)}
        for c in sorted(registry.checks.values(), key=lambda c: (model.STEPS.index(c.step), c.id))
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=1, default=str))
        return
    table = Table(title=f"{len(rows)} checks")
    for col in ("id", "step", "severity", "CRMs", "settings", "plugin"):
        table.add_column(col)
    for r in rows:
        settings = ", ".join(f"{k}={v}" for k, v in r["settings"].items())
        refs = f"\n[dim]{escape('; '.join(r['references']))}[/dim]" if r["references"] else ""
        table.add_row(escape(r["id"]) + refs, r["step"], r["severity"], escape(", ".join(r["vendors"]) or "all"),
                      escape(settings), escape(r["plugin"]))
    _console().print(table)


@main.group(cls=_HelpGroup)
def connectors():
    """The connectors installed."""


@connectors.command("list")
def connectors_list():
    """List connectors, their options and whether they ship a sandbox."""
    registry = _registry()
    _warn_failures(registry)
    table = Table(title="connectors")
    for col in ("name", "plugin", "options", "sandbox", "description"):
        table.add_column(col)
    for info in sorted(registry.connectors.values(), key=lambda i: i.name):
        opts = ", ".join(info.options)
        table.add_row(info.name, escape(info.plugin), escape(opts), "yes" if info.sandbox else "no", escape(info.description))
    _console().print(table)


@main.group(cls=_HelpGroup)
def probes():
    """The integration probes installed (they read the other side of an integration)."""


@probes.command("list")
def probes_list():
    """List integration probes, their options and whether they ship a sandbox."""
    registry = _registry()
    _warn_failures(registry)
    table = Table(title="integration probes (configured per tenant: tenants.NAME.probes.PROBE in crm-audit.toml)")
    for col in ("name", "plugin", "integration", "options", "sandbox", "description"):
        table.add_column(col)
    for info in sorted(registry.probes.values(), key=lambda i: i.name):
        table.add_row(info.name, escape(info.plugin), escape(info.integration), escape(", ".join(info.options)),
                      "yes" if info.sandbox else "no", escape(info.description))
    _console().print(table)


@main.command()
def plugins():
    """List plugins, their versions and the hooks each implements."""
    from .plugins import plugin_table

    registry = _registry()
    table = Table(title="plugins")
    for col in ("plugin", "version", "hooks"):
        table.add_column(col)
    for row in plugin_table(registry):
        table.add_row(escape(row["name"]), escape(row["version"]), escape(", ".join(row["hooks"])))
    console = _console()
    console.print(table)
    for failure in registry.failures:
        console.print(f"[red]failed[/red] {escape(str(failure))}")


# ---------------------------------------------------------------------------
# sandbox and demo
# ---------------------------------------------------------------------------


@main.group(cls=_HelpGroup)
def sandbox():
    """Synthetic tenants with planted defects (for demos, tests and benchmarks)."""


@sandbox.command("generate")
@click.option("--contacts", default=1000, show_default=True, type=click.IntRange(100, 1_000_000),
              help="How many contacts (the other tables scale with it).")
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed: the same seed gives the same tenant.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="Folder to write the tenant's <table>.csv files and manifest.json into.")
@click.option("--clean", is_flag=True, help="No planted defects (every check should pass).")
@click.option("--as-of", "as_of", help="Audit date the data is built around (default today).")
@click.option("--name", default="sandbox", show_default=True, help="The tenant's name.")
def sandbox_generate(contacts, seed, out, clean, as_of, name):
    """Write a generated tenant as a files-connector folder plus manifest.json."""
    from .sandbox import generate_tenant

    started = time.perf_counter()
    tenant = generate_tenant(contacts=contacts, seed=seed, defects=not clean, name=name,
                             as_of=parse_as_of(as_of, "--as-of") if as_of else None)
    tenant.write(Path(out))
    sizes = ", ".join(f"{t}={tbl.num_rows}" for t, tbl in tenant.tables.items())
    click.echo(f"wrote {out} in {time.perf_counter() - started:.1f}s: {sizes}")


@main.command()
@click.option("--out", "out", default="audits", show_default=True, type=click.Path(file_okay=False),
              help="Archive folder: the demo audit is written to a new folder inside it.")
@click.option("--contacts", default=2000, show_default=True, type=click.IntRange(100, 200_000),
              help="Contacts per sandbox CRM.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed of the sandbox data.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: when stderr is a terminal).")
@click.option("--lang", "lang", default=None, metavar="LANG",
              help="The reports' language: en (default), id (Bahasa Indonesia), ko (Korean).")
@click.pass_context
def demo(ctx, out, contacts, seed, progress, lang):
    """Audit built-in sandbox CRMs end to end; needs no account and no network."""
    from .demo import run_demo

    _use_lang(lang)
    audit, folder = run_demo(out=Path(out), contacts=contacts, seed=seed, progress=progress, debug=ctx.obj["debug"],
                             lang=_lang())
    _finish(audit, folder, None, notes=False,
            next_step=_t("audit your own CRM: export it as <table>.csv files (contacts.csv, users.csv, ...) and run "
                         "{command}, or connect it as docs/getting-started.md shows",
                         command="`crm-audit run --files ./export`"))


# ---------------------------------------------------------------------------
# archive
# ---------------------------------------------------------------------------


@main.command()
@click.option("--out", "out", default="audits", show_default=True, type=click.Path(file_okay=False),
              help="Archive folder to list the audits of.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def history(out, as_json):
    """Past audits: date, tenants, scores and how much of each audit they cover."""
    from .history import list_audits
    from .scoring import coverage_text, value_text

    rows = list_audits(Path(out))
    if as_json:
        click.echo(json.dumps([{**r, "folder": str(r["folder"])} for r in rows], indent=1))
        return
    table = Table(title=f"audits in {out}")
    for col in ("audit", "as of", "tenants", "score", "coverage"):
        table.add_column(col)
    for r in rows:
        per_tenant = r.get("tenant_scores") or {}
        tenants = ", ".join(f"{t} ({value_text(per_tenant[t])})" if len(r["tenants"]) > 1 and t in per_tenant else t
                            for t in r["tenants"])
        table.add_row(r["id"], str(r["as_of"] or ""), escape(tenants), value_text(r["score"]),
                      coverage_text(r.get("coverage")) or "not recorded")
    _console().print(table)


@main.command()
@click.argument("old_ref")
@click.argument("new_ref", default="latest")
@click.option("--out", "out", default="audits", show_default=True, type=click.Path(file_okay=False),
              help="Archive folder the two audits are looked up in.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--fail-on-drop", type=float,
              help="Exit with code 1 when the overall score (or, when the audits read different tenants, "
                   "a tenant's score) dropped by more than this.")
@click.option("--lang", "lang", default=None, metavar="LANG", help="Write the comparison in this language: en, id, ko (default en).")
def diff(old_ref, new_ref, out, as_json, fail_on_drop, lang):
    """Compare two archived audits (ids, folders, 'latest', 'previous'), tenant by tenant."""
    from .history import diff_audits, list_audits, load_audit, score_drops

    _use_lang(lang)

    audits = list_audits(Path(out))

    def resolve(ref):
        if ref == "previous":
            if len(audits) < 2:
                raise ConfigError(_("there is no previous audit to compare with"), where=str(out))
            return str(audits[-2]["folder"])
        return ref

    old, _ = load_audit(Path(out), resolve(old_ref))
    new, _ = load_audit(Path(out), resolve(new_ref))
    result = diff_audits(old, new)
    if as_json:
        click.echo(json.dumps(result, indent=1, ensure_ascii=False))
    else:
        from .reports.diff import print_diff

        print_diff(result, _console(), _lang())
    if fail_on_drop is not None:
        for what, before, after in score_drops(result):
            if before - after > fail_on_drop:
                click.echo(_t("{what} dropped by {points} points (more than --fail-on-drop {threshold})", what=what,
                              points=format(before - after, ".1f"), threshold=format(fail_on_drop, "g")), err=True)
                sys.exit(EXIT_BELOW_THRESHOLD)


@main.command()
@click.argument("audit_ref")
@click.option("--format", "fmt", default="html", show_default=True, help="A report format: html, md, json, csv (or one a plugin adds).")
@click.option("--out", "out", default="audits", show_default=True, type=click.Path(file_okay=False),
              help="Archive folder the audit is looked up in (the report is rewritten inside the audit's folder).")
@click.option("--lang", "lang", default=None, metavar="LANG",
              help="Render in this language: en, id, ko (default: the language the audit was run in).")
def report(audit_ref, fmt, out, lang):
    """Re-render an archived audit (by id, folder or 'latest')."""
    from .history import load_audit
    from .runner import write_reports

    _use_lang(lang)
    audit, folder = load_audit(Path(out), audit_ref)
    if not lang:
        _use_lang(audit.lang)  # the CLI speaks the audit's language too
    registry = _registry()
    if fmt not in registry.reporters:
        raise ConfigError(_("report format {format} is not installed", format=repr(fmt)),
                          hint=_("installed: {formats}", formats=", ".join(registry.reporters)))
    config = AuditConfig()
    settings = folder / "settings.json"
    if settings.exists():  # tenants (secrets removed) give record links their instance URLs
        saved = json.loads(settings.read_text(encoding="utf-8"))
        config.tenants = [TenantConfig(t["name"], t["connector"], t.get("options") or {}) for t in saved.get("tenants", [])]
    written = write_reports(registry, audit, folder, config, formats={fmt}, lang=_lang())
    for path in written:
        click.echo(str(path))


@main.group(cls=_HelpGroup)
def i18n():
    """Translations: coverage per language and domain, and template extraction."""


def _domains(registry):
    return {d.name: (plugin, d) for plugin, d in registry.translations.items()}


@i18n.command("coverage")
@click.option("--lang", "langs", multiple=True, metavar="LANG", help="Only this language (repeatable).")
@click.option("--missing", is_flag=True, help="List the texts not translated yet.")
@click.option("--fail-under", type=click.FloatRange(0, 100), help="Exit with code 1 when a language of a domain is below this percentage.")
def i18n_coverage(langs, missing, fail_under):
    """How much of each plugin's text is translated, per language."""
    from .config import check_lang
    from .i18n import LANGUAGES
    from .i18n_tools import coverage

    registry = _registry()
    langs = [check_lang(x) for x in langs] or [x for x in LANGUAGES if x != "en"]
    table = Table(box=None)
    for col in ("domain", "plugin", *langs):
        table.add_column(col, justify="right" if col in langs else "left")
    below = False
    lines = []
    for name, (plugin, domain) in sorted(_domains(registry).items()):
        cells = []
        for lang in langs:
            cov = coverage(domain, lang)
            cells.append(f"{cov.percent:g}% ({cov.translated}/{cov.total})")
            below = below or (fail_under is not None and cov.percent < fail_under)
            if missing:
                lines += [f"{name} {lang}: {text}" for text in cov.missing]
        table.add_row(name, plugin, *cells)
    _console().print(table)
    for line in lines:
        click.echo(line)
    if below:
        sys.exit(EXIT_BELOW_THRESHOLD)


@i18n.command("extract")
@click.option("--domain", "names", multiple=True, help="Only this domain (repeatable; default: every domain whose code is writable).")
@click.option("--check", "check_only", is_flag=True, help="Change nothing; exit 1 when a messages.pot is out of date.")
def i18n_extract(names, check_only):
    """Write each domain's locale/messages.pot from its code and update its .po files."""
    import os

    from .i18n_tools import extract

    registry = _registry()
    stale = False
    for name, (_plugin, domain) in sorted(_domains(registry).items()):
        if names and name not in names:
            continue
        if not names and not os.access(domain.sources, os.W_OK):
            continue
        change = extract(domain, registry.checks.values(), write=not check_only)
        if check_only and (change["added"] or change["removed"]):
            stale = True
            click.echo(f"{name}: messages.pot is out of date: {len(change['added'])} new, "
                       f"{len(change['removed'])} gone (run: crm-audit i18n extract --domain {name})", err=True)
        elif not check_only:
            click.echo(f"{name}: {domain.pot_path} ({len(change['added'])} new, {len(change['removed'])} gone)")
    if stale:
        sys.exit(1)


class _CommandGroupGuard:
    """Lets plugins add commands but never replace a built-in one."""

    def __init__(self, group: click.Group, plugin: str):
        self._group, self._plugin = group, plugin

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if name in self._group.commands:
            click.echo(f"warning: plugin {self._plugin!r} tried to add command {name!r}, which exists", err=True)
            return
        self._group.add_command(cmd, name)

    def __getattr__(self, item):
        return getattr(self._group, item)


def entry() -> None:
    """The console script: plugins may add commands, then click runs."""
    from .plugins import build_plugin_manager

    global _ENTRY_REGISTRY
    try:
        registry = _ENTRY_REGISTRY = build_plugin_manager()
        for impl in registry.pm.hook.crm_audit_register_commands.get_hookimpls():
            try:
                impl.function(_CommandGroupGuard(main, impl.plugin_name))
            except Exception as exc:  # a broken plugin never takes the CLI down
                click.echo(f"warning: plugin {impl.plugin_name!r} failed to add commands: {type(exc).__name__}: {redact(str(exc))[:200]}", err=True)
    except Exception as exc:
        click.echo(f"warning: plugins not loaded: {type(exc).__name__}: {redact(str(exc))[:200]}", err=True)
    main()


if __name__ == "__main__":  # pragma: no cover
    entry()
