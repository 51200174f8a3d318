"""The CLI's own words: the language it speaks, and what it prints after an audit.

The language of the CLI's lines and errors is ``--lang`` of ``run``, ``report`` and
``diff``, else ``[audit] lang`` of the configuration, else English (:func:`use_lang`,
called by each command before the configuration is read, so its errors are worded in
it too). :func:`finish` prints the summary, the tenants' notes, where the report is and
the one command to run next, then exits with the audit's code.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from rich.console import Console

from .i18n import DEFAULT_LANG, LANGUAGES, tr

EXIT_BELOW_THRESHOLD = 1

_LANG = DEFAULT_LANG


def lang() -> str:
    """The language the CLI speaks now."""
    return _LANG


def _t(msgid: str, **values) -> str:
    """A CLI line in the CLI's language."""
    return tr(_LANG, msgid, **values)


def use_lang(wanted: str | None, config_path: str | None = None) -> None:
    """Set the CLI's language: ``wanted`` (``--lang``) when given (a language the reports
    are not written in is a usage error), else a valid ``[audit] lang`` of
    ``config_path``, else English."""
    global _LANG
    from .config import check_lang

    _LANG = DEFAULT_LANG
    if wanted:
        _LANG = check_lang(wanted)
        return
    if not config_path:
        return
    try:
        import tomllib

        with open(config_path, "rb") as fh:
            configured = str((tomllib.load(fh).get("audit") or {}).get("lang") or "").strip().lower()
    except Exception:  # load_config reports what is wrong with the file
        return
    if configured in LANGUAGES:
        _LANG = configured


def console(err: bool = False) -> Console:
    stream = sys.stderr if err else sys.stdout
    # Piped output (CI logs, files): wide enough that tables do not wrap every cell.
    width = None if stream.isatty() or os.environ.get("COLUMNS") else 132
    return Console(stderr=err, highlight=False, soft_wrap=True, width=width)


def _archive_option(folder: Path) -> str:
    """``--out X`` for commands that read the archive, when it is not the default."""
    archive = folder.parent
    try:
        same = archive.resolve() == Path("audits").resolve()
    except OSError:
        same = False
    return "" if same else f" --out {archive}"


def next_after_run(folder: Path) -> str:
    """The one command to run after an audit: a diff when the archive holds an earlier one."""
    from .history import list_audits

    earlier = [a for a in list_audits(folder.parent) if a["id"] != folder.name]
    if earlier:
        return _t("{command}   (what changed since the last audit)",
                  command="crm-audit diff previous latest" + _archive_option(folder))
    return _t("{command}   (the report as Markdown, for email)",
              command="crm-audit report latest --format md" + _archive_option(folder))


def finish(audit, folder, fail_under, next_step: str | None = None, notes: bool = True) -> None:
    """The summary, the tenants' notes (bad cells, what a CRM does not supply), where the
    report is and the one command to run next; then the exit code."""
    from .findings import WARNING_PREFIX
    from .reports.terminal import print_summary

    print_summary(audit.localised(audit.lang), console(), None, lang=audit.lang)
    if notes:
        for t in audit.tenants:
            for note in t.notes:
                if note.startswith(WARNING_PREFIX):
                    continue  # the summary printed it already, as a warning
                click.echo(_t("note: {tenant}: {note}", tenant=t.name, note=note), err=True)
    html = folder / "report.html"
    click.echo(_t("Report: {path}", path=str(html if html.exists() else folder / "report.md")))
    if next_step:
        click.echo(_t("Next: {step}", step=next_step))
    failed = [t for t in audit.tenants if t.error]
    for t in failed:
        click.echo(_t("error: {error}", error=t.error), err=True)
    if failed:
        click.echo(_t("error: connector failure: the report holds the partial results, marked partial"), err=True)
        sys.exit(3)
    overall = (audit.score or {}).get("overall")
    if fail_under is not None and overall is None:
        # Too little was judged to give a score: a CI gate must not pass on that.
        click.echo(_t("score n/a (too little of the audit was judged) cannot meet --fail-under {threshold}",
                      threshold=format(fail_under, "g")), err=True)
        sys.exit(EXIT_BELOW_THRESHOLD)
    if fail_under is not None and overall < fail_under:
        click.echo(_t("score {score} is below --fail-under {threshold}", score=str(overall),
                      threshold=format(fail_under, "g")), err=True)
        sys.exit(EXIT_BELOW_THRESHOLD)
