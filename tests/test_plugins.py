"""Plugin system: registration at the door, isolation, listings."""

from __future__ import annotations

from crm_audit_core import ConnectorInfo, check, hookimpl
from crm_audit_core.plugins import build_plugin_manager, plugin_table


def make_check(id="test.thing", **kw):
    meta = dict(title="A thing", step="security", area="security", severity="low",
                needs={"users": ["id"]}, description="d", remediation="r")
    meta.update(kw)
    return check(id=id, **meta)(lambda ctx: ctx.result())


def test_duplicate_check_id_is_rejected_naming_plugins():
    class A:
        @hookimpl
        def crm_audit_register_checks(self, register):
            register(make_check("security.dormant-users"))

    registry = build_plugin_manager(extra_plugins=[A()])
    messages = [str(f) for f in registry.failures]
    assert any("registered twice" in m and "standard" in m for m in messages), messages
    assert registry.checks["security.dormant-users"].plugin == "standard"


def test_invalid_metadata_is_rejected_with_reasons():
    class Bad:
        @hookimpl
        def crm_audit_register_checks(self, register):
            register(make_check("Not An Id", step="nowhere", severity="huge", remediation="", needs={"userz": ["id"]}))

    registry = build_plugin_manager(extra_plugins=[Bad()])
    [failure] = [f for f in registry.failures if "Not An Id" in f.error]
    for words in ("id must read like", "step 'nowhere'", "severity 'huge'", "remediation is empty", "unknown table 'userz'"):
        assert words in failure.error


def test_misspelled_hook_fails_loudly_but_not_fatally():
    class Typo:
        @hookimpl
        def crm_audit_register_chekcs(self, register):
            pass

    registry = build_plugin_manager(extra_plugins=[Typo()])
    assert any("unknown hook" in f.error for f in registry.failures)
    assert "security.dormant-users" in registry.checks


def test_registration_error_in_one_plugin_leaves_the_others():
    class Raises:
        @hookimpl
        def crm_audit_register_connectors(self, register):
            raise RuntimeError("boom")

    registry = build_plugin_manager(extra_plugins=[Raises()])
    assert "files" in registry.connectors
    assert any("boom" in f.error for f in registry.failures)


def test_duplicate_connector_name():
    class Dup:
        @hookimpl
        def crm_audit_register_connectors(self, register):
            register(ConnectorInfo(name="files", factory=lambda o, c: None))

    registry = build_plugin_manager(extra_plugins=[Dup()])
    assert any("connector 'files' is registered twice" in f.error for f in registry.failures)


def test_autoload_can_be_disabled(monkeypatch):
    monkeypatch.setenv("CRM_AUDIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = build_plugin_manager()
    assert set(registry.connectors) == {"files"}
    assert registry.checks == {}


def test_named_plugins_can_be_disabled(monkeypatch):
    monkeypatch.setenv("CRM_AUDIT_DISABLE_PLUGINS", "example")
    registry = build_plugin_manager()
    assert "example.free-mail-contacts" not in registry.checks
    assert "security.dormant-users" in registry.checks


def test_plugin_table_lists_versions_and_hooks():
    rows = {r["name"]: r for r in plugin_table(build_plugin_manager())}
    assert rows["example"]["version"] == "crm-audit-example-plugin 0.3.0"
    assert rows["example"]["hooks"] == ["crm_audit_register_checks"]
    assert "crm_audit_register_connectors" in rows["crm_audit_core.files_connector"]["hooks"]


def test_result_hook_and_after_audit_hook_are_called(small_folder, tmp_path):
    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.runner import run_audit

    seen, after = [], []

    class Observer:
        @hookimpl
        def crm_audit_result(self, result, check):
            seen.append((result.check_id, check.id))

        @hookimpl
        def crm_audit_after_audit(self, audit, folder):
            after.append((audit.id, folder))

        @hookimpl
        def crm_audit_integration_counts(self, tenant, integrations, config):
            return None

    registry = build_plugin_manager(extra_plugins=[Observer()])
    config = AuditConfig(out=tmp_path / "o", tenants=[TenantConfig("t", "files", {"path": str(small_folder)})])
    audit, folder = run_audit(config, registry=registry, progress=False)
    assert len(seen) == len(audit.results) and all(a == b for a, b in seen)
    assert after == [(audit.id, folder)]
