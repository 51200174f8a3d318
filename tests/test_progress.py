"""The checks' progress bar: on a terminal, one bar a tenant counting its checks, the check
running now beside it; nothing when the bars are off (not a terminal, --no-progress)."""

from __future__ import annotations

import io
import time
from datetime import datetime, timezone

from rich.console import Console

from crm_audit_core import ConnectorInfo, check, hookimpl
from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit

seen_while_running: list[str] = []
BAR_EXPECTED = False


class Connector:
    def __init__(self, context):
        self.context = context

    def api_calls(self):
        return 0

    def extract(self, sink):
        sink.write("contacts", [{"id": "c1", "email": "a@example.com"}, {"id": "c2", "email": "not an address"}])
        sink.complete("contacts")


@check(id="test.looks-at-the-bar", title="A check that reads the terminal", step="missing-data", area="data",
       severity="low", needs={"contacts": ["id"]}, description="-", remediation="-")
def looks_at_the_bar(ctx):
    deadline = time.monotonic() + (5 if BAR_EXPECTED else 0)  # the bar is redrawn ten times a second
    while "test.looks-at-the-bar" not in CONSOLE.file.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    seen_while_running.append(CONSOLE.file.getvalue().rsplit("\r", 1)[-1])
    return ctx.result(ids=[], population=ctx.count("contacts"))


class Plugin:
    @hookimpl
    def crm_audit_register_connectors(self, register):
        register(ConnectorInfo(name="two-contacts", factory=lambda options, context: Connector(context)))

    @hookimpl
    def crm_audit_register_checks(self, register):
        register(looks_at_the_bar)


CONSOLE = Console(file=io.StringIO(), force_terminal=True, width=160)


def audit(tmp_path, progress, lang="en"):
    config = AuditConfig(as_of=datetime(2026, 12, 31, tzinfo=timezone.utc), out=tmp_path / "audits", lang=lang)
    config.tenants.append(TenantConfig("acme", "two-contacts", {}))
    global BAR_EXPECTED
    BAR_EXPECTED = progress and lang == "en"
    CONSOLE.file = io.StringIO()
    seen_while_running.clear()
    run_audit(config, registry=build_plugin_manager(extra_plugins=[Plugin()]), console=CONSOLE, progress=progress,
              check_patterns=("data.invalid-emails", "test.looks-at-the-bar"))
    return CONSOLE.file.getvalue()


def test_the_checks_have_a_bar_naming_the_check_running(tmp_path):
    out = audit(tmp_path, progress=True)
    assert "acme: checks" in out and "2/2" in out
    # data.invalid-emails ran first; while the second check ran, the bar said 1 of 2 and named it
    assert any("1/2" in text and "test.looks-at-the-bar" in text for text in seen_while_running), seen_while_running


def test_the_bar_speaks_the_audits_language(tmp_path):
    assert "acme: 점검" in audit(tmp_path, progress=True, lang="ko")


def test_no_bar_when_the_bars_are_off(tmp_path):
    out = audit(tmp_path, progress=False)
    assert "checks" not in out and "2/2" not in out
