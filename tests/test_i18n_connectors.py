"""The connectors' and probes' translation domains (issue 19): each distribution registers
its own catalogue, translates all of it into Bahasa Indonesia and Korean, and the vendor
limitations it declares (the reasons of the checks skipped for want of them) render in the
reader's language, also inside the core's skip reason."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from crm_audit_core.checks import CheckContext
from crm_audit_core.i18n import Message, render
from crm_audit_core.i18n_tools import coverage
from crm_audit_core.plugins import build_plugin_manager

HANGUL = re.compile(r"[\uac00-\ud7a3]")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
CONNECTORS = ("hubspot", "salesforce", "pipedrive")
PROBES = ("mailchimp", "xero")


@pytest.fixture(scope="module")
def registry():
    return build_plugin_manager(autoload=True)


def _limitations(registry, name):
    info = registry.connectors[name]
    assert info.limitations, f"{name} declares no limitations"
    return info.limitations


@pytest.mark.parametrize("name", CONNECTORS + PROBES)
def test_domain_registered_and_fully_translated(registry, name):
    domain = registry.translations.get(name)
    assert domain is not None and domain.name == f"crm_audit_{name}"
    for lang in ("id", "ko"):
        cov = coverage(domain, lang)
        assert cov.total > 0 and cov.missing == [], (lang, cov.missing)


@pytest.mark.parametrize("name", CONNECTORS + PROBES)
def test_translations_keep_every_placeholder(registry, name):
    from babel.messages.pofile import read_po

    domain = registry.translations[name]
    for lang in ("id", "ko"):
        with open(domain.po_path(lang), "rb") as fh:
            catalog = read_po(fh, locale=lang)
        for m in catalog:
            if not m.id:
                continue
            ids = m.id if isinstance(m.id, tuple) else (m.id,)
            strings = m.string if isinstance(m.string, tuple) else (m.string,)
            wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids))
            for s in strings:
                got = set(PLACEHOLDER.findall(s))
                # the count may go unsaid in a language with one plural form; nothing else
                assert got <= wanted and wanted - got <= {"n"}, (lang, ids[0], s)
            if lang == "ko":
                assert all(HANGUL.search(s) for s in strings), (ids[0], strings)


@pytest.mark.parametrize("name", CONNECTORS)
def test_every_limitation_renders_in_korean_and_indonesian(registry, name):
    for key, why in _limitations(registry, name).items():
        assert isinstance(why, Message) and why.domain == f"crm_audit_{name}", key
        ko, id_ = render(why, "ko"), render(why, "id")
        assert HANGUL.search(ko), (key, ko)
        assert "{" not in ko and "{" not in id_, (key, ko, id_)
        assert id_ != str(why), (key, id_)
        assert "docs/connectors/" in ko and "docs/connectors/" in id_, key  # where the page explains it


@pytest.mark.parametrize("name", CONNECTORS)
def test_skip_reason_carries_the_translated_limitation(registry, name):
    limitations = _limitations(registry, name)
    ctx = CheckContext(check=None, tenant="t", connection=None, as_of=datetime(2026, 12, 1), settings={},
                       supplied={}, limitations=limitations)
    for key, why in limitations.items():
        missing = f"the {key} table" if "." not in key else key
        reason = ctx.not_supplied(missing)
        assert str(why) in str(reason)  # English as before
        assert render(why, "ko") in render(reason, "ko"), key


@pytest.mark.parametrize("name", CONNECTORS + PROBES)
def test_description_is_translated(registry, name):
    info = registry.connectors.get(name) or registry.probes[name]
    assert isinstance(info.description, Message)
    assert HANGUL.search(render(info.description, "ko"))


def test_salesforce_permission_reasons_render_in_korean():
    from crm_audit_salesforce.security import GRANTS
    from crm_audit_salesforce.transport import OPTIONAL

    for table, grant in GRANTS.items():
        ko = render(grant, "ko")
        assert HANGUL.search(ko) and "{" not in ko, table
    assert "'View Setup and Configuration'" in render(GRANTS["audit_trail"], "ko")  # Salesforce's own name
    for sobject, what in OPTIONAL.items():
        if isinstance(what, Message):  # plain table names stay as they are
            assert HANGUL.search(render(what, "ko")), sobject


def test_refused_hubspot_token_is_a_korean_tenant_error_in_report_json(tmp_path):
    """A 401 from the HubSpot sandbox (a wrong token), audited with --lang ko: the tenant's
    error line in report.json is Korean, names the tenant's connector and keeps no token."""
    import json

    from click.testing import CliRunner

    from crm_audit_core.cli import main
    from crm_audit_core.sandbox import generate_tenant
    from crm_audit_hubspot.sandbox import start_sandbox

    out = tmp_path / "audits"
    with start_sandbox(generate_tenant(contacts=100, seed=3), token="right-token") as handle:
        options = {**handle.options, "access_token": "wrong-token-123", "retry_base_delay": 0.01,
                   "retry_max_delay": 0.2, "timeout": 5}
        lines = ["[audit]", f'out = "{out.as_posix()}"', "", "[tenants.acme]", 'connector = "hubspot"']
        lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
        config = tmp_path / "crm-audit.toml"
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        result = CliRunner().invoke(main, ["run", "-c", str(config), "--lang", "ko", "--no-progress"],
                                    catch_exceptions=False)
        assert len(handle.requests) == 1  # refused once, never retried
    assert "wrong-token-123" not in result.output
    [folder] = [p for p in out.iterdir() if p.is_dir()]
    text = (folder / "report.json").read_text(encoding="utf-8")
    assert "wrong-token-123" not in text
    [info] = json.loads(text)["audit"]["tenants"]
    error = info["error"]
    assert error and "\n" not in error and "{" not in error, error
    assert HANGUL.search(error), error
    assert "액세스 토큰이 거부되었습니다" in error and "HUBSPOT_ACCESS_TOKEN" in error, error
