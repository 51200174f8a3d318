"""The checks' progress bar on the terminal: one bar a tenant, the check running now beside it.

The extraction has its bars (:class:`crm_audit_core.extract.ProgressBoard`); the checks came
after them in silence, a minute and more on a tenant of a million contacts, where the
duplicate checks alone take most of it. Silent when stderr is not a terminal, like the
extraction's bars.
"""

from __future__ import annotations

from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .i18n import _, render


class CheckProgress:
    """A context for the checks phase; :meth:`tenant` gives the callback ``run_checks`` calls
    with each check's id as it starts, and with None when the last one is done."""

    def __init__(self, console: Console | None = None, enabled: bool | None = None, lang: str = "en"):
        self.console = console or Console(stderr=True)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.lang = lang
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[check]}"),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.enabled,
            transient=False,
        )

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def tenant(self, tenant: str, total: int) -> Callable[[str | None], None] | None:
        """The callback for one tenant's ``total`` checks (None when the bar is off)."""
        if not self.enabled:
            return None
        task = self.progress.add_task(render(_("{tenant}: checks", tenant=tenant), self.lang), total=total, check="")
        started = [False]

        def on_check(check_id: str | None) -> None:
            if started[0]:
                self.progress.advance(task)
            started[0] = check_id is not None
            self.progress.update(task, check=check_id or "")

        return on_check
