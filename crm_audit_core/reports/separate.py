"""Report formats written in a process of their own (``Reporter.separate``).

A forked child shares the audit as it is (nothing is copied or pickled), writes its one
format on another core while the audit's process writes the others, and sends back the
paths it wrote or its error through a pipe. Linux only (fork); elsewhere, and with
``--debug``, every format is written in the audit's own process (see ``runner.write_reports``).
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..secrets import redact

if TYPE_CHECKING:
    from ..findings import AuditResult
    from . import ReportContext


def can_fork() -> bool:
    """Whether formats can be written by forked processes here (Linux)."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


class SeparateReport:
    """One report format written by a forked child process (which shares the audit as it is,
    nothing copied), its paths or its error sent back through a pipe."""

    def __init__(self, reporter, audit: AuditResult, context: ReportContext):
        fork = multiprocessing.get_context("fork")
        self._receive, send = fork.Pipe(duplex=False)
        self._process = fork.Process(target=_main, args=(send, reporter, audit, context), daemon=True,
                                     name=f"crm-audit-report-{reporter.name}")
        self._process.start()
        send.close()

    def result(self) -> tuple[list[Path], str | None]:
        try:
            try:
                paths, error = self._receive.recv()
            except EOFError:  # the child died without a word (killed, out of memory)
                self._process.join()
                return [], f"the process writing it stopped (exit code {self._process.exitcode})"
            self._process.join()
            return [Path(p) for p in paths], error
        finally:
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._receive.close()


def _main(send, reporter, audit: AuditResult, context: ReportContext) -> None:
    try:
        paths = [str(p) for p in reporter.write(audit, context) or []]
        send.send((paths, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which records it
        send.send(([], f"{type(exc).__name__}: {redact(str(exc))[:200]}"))
    finally:
        send.close()
