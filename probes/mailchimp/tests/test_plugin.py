"""The probe as the core sees it: registered through the entry point, its sandbox handle's
options configure it, and the core's run_probe reads it (or marks its totals missing)."""

from __future__ import annotations

from datetime import datetime, timezone

from crm_audit_core import ProbeInfo
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.probes import ProbeContext, run_probe
from crm_audit_mailchimp.probe import EXPECTED

from .conftest import FAST


def info() -> ProbeInfo:
    registry = build_plugin_manager()
    assert not [f for f in registry.failures if "mailchimp" in str(f)]
    return registry.probes["mailchimp"]


def test_registered_with_its_options_and_sandbox():
    probe = info()
    assert probe.integration == "Mailchimp" and probe.expected == EXPECTED and probe.sandbox is not None
    assert probe.required_options == ("api_key",)
    assert probe.options["api_key"].is_secret("api_key") and not probe.options["list_id"].is_secret("list_id")
    assert {"server", "list_id", "integration", "timeout", "rate_limit", "max_calls"} <= set(probe.options)


def test_sandbox_handle_configures_the_probe(tenant):
    probe = info()
    context = ProbeContext(tenant="mc", as_of=datetime(2026, 3, 1, tzinfo=timezone.utc))
    with probe.sandbox(tenant) as handle:
        outcome = run_probe(probe, {**FAST, **handle.options}, context)
        assert outcome.error is None and outcome.api_calls == len(handle.requests) == 9
        records = next(r for r in outcome.rows if (r["object"], r["measure"], r["key"]) == ("contacts", "records", None))
        assert records["value"] > 0 and records["probe"] == "mailchimp"
        failed = run_probe(probe, {**FAST, **handle.options, "api_key": "x" * 32 + "-us21"}, context)
    assert failed.error.startswith("probe mailchimp (tenant mc): ") and "x" * 32 not in failed.error
    assert [(r["object"], r["measure"], r["value"]) for r in failed.rows] == [(o, m, None) for o, m in EXPECTED]
