"""Issue 19: the security and data-quality checks (security, security_depth, unused_data,
segmentation, unrecognised, data_policy, stale_data, missing_data) speak Korean and
Indonesian: every text a reader sees of every result is a template of the standard checks'
domain, translated, with every value filled in, also after a round trip through report.json."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from crm_audit_checks import data_policy, missing_data, security, security_depth, segmentation, stale_data
from crm_audit_checks import unrecognised, unused_data
from crm_audit_checks.i18n import DOMAIN
from crm_audit_core import Message
from crm_audit_core.config import AuditConfig, TenantConfig
from crm_audit_core.findings import AuditResult
from crm_audit_core.i18n import Joined, render
from crm_audit_core.plugins import build_plugin_manager
from crm_audit_core.runner import run_audit
from crm_audit_core.sandbox import generate_tenant
from crm_audit_core.testing import result_texts

MODULES = (security, security_depth, unused_data, segmentation, unrecognised, data_policy, stale_data, missing_data)
IDS = [c.id for m in MODULES for c in m.CHECKS]
AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)
HANGUL = re.compile("[\uac00-\ud7a3]")
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
POLICY = {"contacts": {"required": ["email", "lifecycle_stage"], "allowed": {"lifecycle_stage": ["lead", "customer"]},
                       "max_age_days": 365, "owner": "RevOps", "owners": {"email": "Marketing"}},
          "deals": {"required": ["amount"]}}


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    """The eight modules' checks on a generated tenant with planted defects and a data policy."""
    folder = tmp_path_factory.mktemp("tenant")
    generate_tenant(contacts=400, seed=13, name="acme", as_of=AS_OF).write(folder)
    config = AuditConfig(as_of=AS_OF, out=tmp_path_factory.mktemp("audits"))
    config.tenants.append(TenantConfig("acme", "files", {"path": str(folder)}))
    config.sections["policy"] = POLICY
    result, _ = run_audit(config, registry=build_plugin_manager(), progress=False, check_patterns=IDS)
    return result


def ours(text) -> bool:
    """Whether ``text`` is a template of the standard checks' domain (not the core's), or
    texts joined of such templates."""
    if isinstance(text, Joined):
        messages = [p for p in text.parts if isinstance(p, (Message, Joined))]
        return bool(messages) and all(ours(p) for p in messages)
    return isinstance(text, Message) and text.domain in (DOMAIN.name, "*")


def test_every_check_ran_and_judged(audit):
    by_id = {r.check_id: r for r in audit.results}
    assert set(by_id) == set(IDS)
    judged = [r for r in audit.results if r.status in ("pass", "fail")]
    assert len(judged) >= 25, {r.check_id: r.status for r in audit.results}
    assert sum(1 for r in judged if r.status == "fail") >= 15
    assert by_id["data.policy-violations"].status == "fail"
    for r in judged:  # the checks' own words, never the core's or plain English strings
        assert ours(r.message), (r.check_id, r.message)
        assert all(ours(d) for d in r.details.values()), r.check_id


@pytest.mark.parametrize("lang", ["ko", "id"])
def test_every_text_is_translated_and_filled(audit, lang):
    problems = []
    for r in audit.results:
        if r.status not in ("pass", "fail", "skipped"):
            continue
        for field, text in result_texts(r).items():
            if not ours(text):
                continue  # a core text (e.g. the runner's reason for a table not supplied)
            shown = render(text, lang)
            if PLACEHOLDER.search(shown):
                problems.append(f"{r.check_id} {field}: unfilled value in {shown!r}")
            if lang == "ko" and not HANGUL.search(shown):
                problems.append(f"{r.check_id} {field}: no Hangul in {shown!r}")
            if lang == "id" and field in ("title", "remediation", "message") and shown == str(text):
                problems.append(f"{r.check_id} {field}: still English: {shown!r}")
    assert not problems, "\n".join(problems[:40])


def test_localised_audit_survives_report_json(audit):
    """report.json keeps the templates: an archived audit renders in Korean again."""
    archived = AuditResult.from_json(audit.localised("id").to_json())
    again = archived.localised("ko")
    for r in again.results:
        if r.status != "fail":
            continue
        assert HANGUL.search(r.title) and HANGUL.search(r.message), (r.check_id, r.message)
        assert all(HANGUL.search(d) for d in r.details.values()), r.check_id


def test_counts_dates_and_shares_follow_the_language(audit):
    by_id = {r.check_id: r for r in audit.results}
    admins = by_id["security.too-many-admins"]
    ko = render(admins.message, "ko")
    assert "명" in ko and "%" in ko
    policy = by_id["data.policy-violations"]
    detail = next(d for d in policy.details.values() if "owner: RevOps" in d)
    assert "소유자: RevOps" in render(detail, "ko") and "pemilik: RevOps" in render(detail, "id")
    assert "catatan" in render(policy.message, "id")


def test_own_skip_reasons_are_translated(crm_audit_tenant, crm_audit_run_check):
    tenant = crm_audit_tenant(contacts=200, seed=11)
    skipped = crm_audit_run_check("data.policy-violations", tenant)
    assert skipped.status == "skipped" and ours(skipped.reason)
    assert HANGUL.search(render(skipped.reason, "ko")) and "policy init" in render(skipped.reason, "ko")
    bad_region = crm_audit_run_check("data.invalid-phones", tenant, settings={"default_region": "XX"})
    assert bad_region.status == "skipped" and "'XX'" in render(bad_region.reason, "ko")
    assert HANGUL.search(render(bad_region.reason, "ko"))


def test_library_explanations_are_translated():
    from crm_audit_checks.stale_data import _email_problem, phone_problem
    from crm_audit_checks.validation_text import email_problem_text

    for address in ("a..b@example.com", "budi@example", "budi@@example.com", "x@-bad-.com", "x" * 300 + "@ex.com",
                    "bad address@example.com", ".a@b.com", "budi", "@x.com", "a@localhost.test", "x@" + "a" * 70 + ".com"):
        problem = _email_problem(address)
        text = email_problem_text(problem)
        assert isinstance(text, Message) and str(text) == problem  # English exactly as the library wrote it
        assert HANGUL.search(render(text, "ko")) and not PLACEHOLDER.search(render(text, "ko"))
    for pair in (("12", "US"), ("not a phone", "DE"), ("0812", None), ("+999 123", None)):
        text = phone_problem(pair)
        assert isinstance(text, Message) and HANGUL.search(render(text, "ko")), (pair, text)


def test_policy_commands_speak_the_language(tmp_path, crm_audit_tenant):
    from crm_audit_core.cli import main

    if "policy" not in main.commands:
        data_policy.register_commands(main)
    folder = tmp_path / "export"
    crm_audit_tenant(contacts=200, seed=11, defects=False).write(folder)
    proposal = CliRunner().invoke(main, ["policy", "init", "--files", str(folder), "--as-of", "2026-12-31",
                                         "--lang", "ko"])
    assert proposal.exit_code == 0, proposal.output
    assert HANGUL.search(proposal.output) and not PLACEHOLDER.search(proposal.output)
    policy = data_policy.parse_policy(__import__("tomllib").loads(proposal.output)["policy"])
    assert "contacts" in policy.objects  # comments in Korean, the keys and values as they were
    config = tmp_path / "crm-audit.toml"
    config.write_text('[audit]\nlang = "id"\n\n' + proposal.output, encoding="utf-8")
    valid = CliRunner().invoke(main, ["policy", "validate", "-c", str(config)])
    assert valid.exit_code == 0 and "kebijakan OK" in valid.output and "wajib" in valid.output
    english = CliRunner().invoke(main, ["policy", "validate", "-c", str(config), "--lang", "en"])
    assert english.exit_code == 0 and "policy OK" in english.output
