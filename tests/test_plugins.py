"""Plugin system: registration at the door, isolation, listings."""

from __future__ import annotations

import pytest

from crm_audit_core import ConnectorInfo, Reporter, check, hookimpl
from crm_audit_core.errors import PluginError
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
    assert "plugin 'A': check 'security.dormant-users' refused: registered twice (by 'standard' and 'A')" in messages
    assert registry.checks["security.dormant-users"].plugin == "standard"


def test_invalid_metadata_is_rejected_with_reasons():
    class Bad:
        @hookimpl
        def crm_audit_register_checks(self, register):
            register(make_check("Not An Id", step="nowhere", severity="huge", remediation="", needs={"userz": ["id"]}))

    registry = build_plugin_manager(extra_plugins=[Bad()])
    [failure] = [f for f in registry.failures if f.item == "Not An Id"]
    assert failure.kind == "check" and failure.name == "Bad"
    for words in ("id must read like", "step 'nowhere'", "severity 'huge'", "remediation is empty", "unknown table 'userz'"):
        assert words in failure.error
    assert str(failure).startswith("plugin 'Bad': check 'Not An Id' refused: id must read like")


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
    [failure] = [f for f in registry.failures if f.name == "Dup"]
    assert (failure.kind, failure.item) == ("connector", "files") and "registered twice" in failure.error
    assert registry.connectors["files"].plugin == "crm_audit_core.files_connector"


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


class Mixed:
    """A plugin with one good check, one check with bad metadata, one duplicate and a reporter."""

    @hookimpl
    def crm_audit_register_checks(self, register):
        register(make_check("test.first-good"))
        register(make_check("test.bad-severity", severity="urgent"))
        register(make_check("security.dormant-users"))  # the standard plugin's id
        register(make_check("test.second-good"))

    @hookimpl
    def crm_audit_register_reporters(self, register):
        register(Reporter("txt", lambda audit, context: []))


def test_one_invalid_check_is_refused_alone():
    registry = build_plugin_manager(extra_plugins=[Mixed()])
    assert {"test.first-good", "test.second-good"} <= set(registry.checks)
    assert registry.checks["test.second-good"].plugin == "Mixed"
    assert "test.bad-severity" not in registry.checks
    assert registry.reporters["txt"].plugin == "Mixed"
    refused = registry.refused("check")
    assert set(refused) == {"test.bad-severity", "security.dormant-users"}
    bad = refused["test.bad-severity"]
    assert bad.name == "Mixed" and bad.error == "severity 'urgent' is not one of critical, high, medium, low, info"
    assert str(bad) == ("plugin 'Mixed': check 'test.bad-severity' refused: "
                        "severity 'urgent' is not one of critical, high, medium, low, info")
    assert registry.checks["security.dormant-users"].plugin == "standard"


def test_a_bad_reporter_is_refused_alone():
    class Reports:
        @hookimpl
        def crm_audit_register_reporters(self, register):
            register("not a reporter")
            register(Reporter("Bad Name!", lambda audit, context: []))
            register(Reporter("nowrite", write=None))
            register(Reporter("json", lambda audit, context: []))  # a built-in's name
            register(Reporter("ok", lambda audit, context: []))

        @hookimpl
        def crm_audit_register_checks(self, register):
            register(make_check("test.with-reports"))

    registry = build_plugin_manager(extra_plugins=[Reports()])
    assert registry.reporters["ok"].plugin == "Reports" and registry.reporters["json"].plugin == "crm_audit_core.reports.builtin"
    assert "test.with-reports" in registry.checks
    refused = registry.refused("reporter")
    assert refused["str"].error == "register() expects a Reporter, got str"
    assert "lowercase" in refused["Bad Name!"].error
    assert refused["nowrite"].error == "write is not callable"
    assert refused["json"].error == "registered twice (by 'crm_audit_core.reports.builtin' and 'Reports')"


def test_a_hook_that_raises_is_a_plugin_failure_and_keeps_what_it_registered():
    class Half:
        @hookimpl
        def crm_audit_register_checks(self, register):
            register(make_check("test.before-the-crash"))
            raise RuntimeError("crash")

    registry = build_plugin_manager(extra_plugins=[Half()])
    assert "test.before-the-crash" in registry.checks
    [failure] = [f for f in registry.failures if f.name == "Half"]
    assert failure.kind == "plugin" and failure.item is None
    assert str(failure) == "plugin 'Half' failed to load: crm_audit_register_checks raised RuntimeError: crash"


def broken_entry_point(site, name="broken", error="ImportError('broken on purpose')"):
    """A distribution on ``site`` whose crm_audit entry point raises when imported."""
    dist = site / f"crm_audit_{name}-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: crm-audit-{name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[crm_audit]\n{name} = crm_audit_{name}_plugin\n")
    (site / f"crm_audit_{name}_plugin.py").write_text(f"raise {error}\n")
    return site


def test_entry_point_import_error_is_recorded(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(broken_entry_point(tmp_path)))
    registry = build_plugin_manager()
    [failure] = [f for f in registry.failures if f.name == "broken"]
    assert str(failure) == "plugin 'broken' failed to load: ImportError: broken on purpose"
    assert "security.dormant-users" in registry.checks


def test_strict_refuses_before_anything_is_read(small_folder, tmp_path):
    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.runner import run_audit

    registry = build_plugin_manager(extra_plugins=[Mixed()])
    config = AuditConfig(out=tmp_path / "o", tenants=[TenantConfig("t", "files", {"path": str(small_folder)})])
    with pytest.raises(PluginError) as raised:
        run_audit(config, registry=registry, progress=False, strict=True)
    assert raised.value.message.startswith("--strict: 2 plugin failures, nothing was run: plugin 'Mixed': check 'test.bad-severity'")
    assert not (tmp_path / "o").exists()


def test_plugin_errors_reach_every_report(small_folder, tmp_path):
    import json

    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.runner import run_audit

    registry = build_plugin_manager(extra_plugins=[Mixed()])
    config = AuditConfig(out=tmp_path / "o", tenants=[TenantConfig("t", "files", {"path": str(small_folder)})])
    audit, folder = run_audit(config, registry=registry, progress=False)
    line = "plugin 'Mixed': check 'test.bad-severity' refused: severity 'urgent' is not one of critical, high, medium, low, info"
    assert line in audit.plugin_errors and len(audit.plugin_errors) == 2
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["audit"]["plugin_errors"] == audit.plugin_errors
    assert {r["check_id"] for r in report["results"]} >= {"test.first-good", "test.second-good"}
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert "## Plugin problems" in md and "- plugin 'Mixed': check 'test.bad-severity' refused: severity 'urgent'" in md
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="plugin-errors"' in page
    assert "<li class=\"plugin-error\">plugin &#39;Mixed&#39;: check &#39;test.bad-severity&#39; refused" in page


def test_a_check_missing_metadata_is_refused_at_registration_not_at_import(tmp_path, monkeypatch):
    """A forgotten field must not make the module fail to import (which would lose the
    plugin's other checks and its reporter): the check is refused alone, saying what is missing."""
    (tmp_path / "half_done_plugin.py").write_text(
        "from crm_audit_core import Reporter, check, hookimpl\n"
        "fine = check(id='half.fine', title='Fine', step='security', area='security', severity='low',\n"
        "             needs={'users': ['id']}, description='d', remediation='r')(lambda ctx: ctx.result())\n"
        "unfinished = check(id='half.unfinished', title='Unfinished', step='security',\n"
        "                   needs={'users': ['id']}, description='d', remediation='r')(lambda ctx: ctx.result())\n"
        "@hookimpl\n"
        "def crm_audit_register_checks(register):\n"
        "    register(unfinished)\n"
        "    register(fine)\n"
        "@hookimpl\n"
        "def crm_audit_register_reporters(register):\n"
        "    register(Reporter('half', lambda audit, context: []))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import half_done_plugin

    registry = build_plugin_manager(extra_plugins=[half_done_plugin])
    assert "half.fine" in registry.checks and registry.reporters["half"].plugin == "half_done_plugin"
    [failure] = registry.failures
    assert str(failure) == ("plugin 'half_done_plugin': check 'half.unfinished' refused: "
                            "area '' is not one of usage, security, data; severity '' is not one of critical, high, medium, low, info")


def test_a_report_format_that_fails_is_named_in_report_json(small_folder, tmp_path):
    import json

    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.runner import run_audit

    class Fragile:
        @hookimpl
        def crm_audit_register_reporters(self, register):
            def write(audit, context):
                raise OSError("disk full")

            register(Reporter("fragile", write))

    registry = build_plugin_manager(extra_plugins=[Fragile()])
    config = AuditConfig(out=tmp_path / "o", tenants=[TenantConfig("t", "files", {"path": str(small_folder)})])
    audit, folder = run_audit(config, registry=registry, progress=False)
    line = "plugin 'Fragile': report format 'fragile' failed: OSError: disk full"
    assert audit.plugin_errors == [line]
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["audit"]["plugin_errors"] == [line]
    assert "report format &#39;fragile&#39; failed" in (folder / "report.html").read_text(encoding="utf-8")


def test_check_patterns_that_select_only_skipped_checks_are_an_error():
    from crm_audit_core.config import AuditConfig
    from crm_audit_core.errors import ConfigError
    from crm_audit_core.runner import select_checks

    registry = build_plugin_manager()
    config = AuditConfig(skip=["security.*"])
    assert [c.id for c in select_checks(registry, config, ("security.*", "data.invalid-emails"))] == ["data.invalid-emails"]
    with pytest.raises(ConfigError) as raised:
        select_checks(registry, config, ("security.dormant-users",))
    assert raised.value.one_line() == ("config: --check security.dormant-users selects only checks that the configuration skips "
                                       "(skip = ['security.*'])")
    with pytest.raises(ConfigError, match=r"--check 'nope\*' matches no installed check"):
        select_checks(registry, AuditConfig(), ("nope*",))


def test_a_separate_report_format_that_fails_is_named_in_the_formats_after_it(small_folder, tmp_path):
    """A format written in a process of its own (``separate``) that fails: its error comes
    back from the child, and report.json and report.md, written meanwhile, are written again
    to name it. The formats written meanwhile and before it are all there."""
    import json
    import os

    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.runner import run_audit

    parent = os.getpid()

    class Apart:
        @hookimpl
        def crm_audit_register_reporters(self, register):
            def fails(audit, context):
                raise OSError(f"disk full in {'a child' if os.getpid() != parent else 'the parent'}")

            def fine(audit, context):
                path = context.folder / "fine.txt"
                path.write_text("written by " + ("a child" if os.getpid() != parent else "the parent"))
                return [path]

            register(Reporter("fails", fails, separate=True))
            register(Reporter("fine", fine, separate=True))

    registry = build_plugin_manager(extra_plugins=[Apart()])
    config = AuditConfig(out=tmp_path / "o", tenants=[TenantConfig("t", "files", {"path": str(small_folder)})])
    audit, folder = run_audit(config, registry=registry, progress=False)
    line = "plugin 'Apart': report format 'fails' failed: OSError: disk full in a child"
    assert audit.plugin_errors == [line]
    assert (folder / "fine.txt").read_text() == "written by a child"
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["audit"]["plugin_errors"] == [line]
    assert "disk full in a child" in (folder / "report.md").read_text(encoding="utf-8")
    assert (folder / "report.html").exists() and (folder / "fixlists").is_dir()


def test_a_separate_report_format_whose_process_dies_is_named(small_folder, tmp_path):
    """The child writing a ``separate`` format dies without a word (killed, out of memory):
    the audit still finishes, and the format is named with the child's exit code."""
    import json
    import os

    from crm_audit_core.config import AuditConfig, TenantConfig
    from crm_audit_core.runner import run_audit

    parent = os.getpid()

    class Dies:
        @hookimpl
        def crm_audit_register_reporters(self, register):
            def dies(audit, context):
                if os.getpid() != parent:
                    os._exit(9)  # as the kernel's OOM killer leaves it: no exception, no message
                return []

            register(Reporter("dies", dies, separate=True))

    registry = build_plugin_manager(extra_plugins=[Dies()])
    config = AuditConfig(out=tmp_path / "o", tenants=[TenantConfig("t", "files", {"path": str(small_folder)})])
    audit, folder = run_audit(config, registry=registry, progress=False)
    line = "plugin 'Dies': report format 'dies' failed: the process writing it stopped (exit code 9)"
    assert audit.plugin_errors == [line]
    assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["audit"]["plugin_errors"] == [line]
    assert (folder / "report.html").exists()
