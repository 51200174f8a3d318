"""read_tenant: one tenant outside an audit (through its connector, or from an archived snapshot)."""

from __future__ import annotations

from datetime import datetime

import pytest
from click.testing import CliRunner

from crm_audit_core import AuditConfig, ConfigError, ConnectorInfo, CrmAuditError, check, hookimpl, read_tenant
from crm_audit_core.cli import main


def test_reads_a_files_folder(small_folder):
    with read_tenant(files=small_folder, as_of="2026-12-31") as ctx:
        assert ctx.tenant == "tenant"  # made from the folder's name
        assert ctx.check is None and ctx.settings == {} and ctx.read_error is None
        assert ctx.as_of == datetime(2026, 12, 31)
        assert ctx.supplied("users", "email") and not ctx.supplied("deals")
        assert ctx.count("users") == 4
        assert ctx.ids("SELECT id FROM contacts WHERE updated_at < $as_of") == ["10", "11", "12", "13"]
        # It makes no results: it runs no check.
        with pytest.raises(CrmAuditError, match="runs no check"):
            ctx.result(ids=["1"])
    # The temporary snapshot is gone with the block.
    with pytest.raises(Exception):
        ctx.count("users")


def test_picks_a_configured_tenant_and_says_which_exist(tmp_path, small_folder):
    config = tmp_path / "crm-audit.toml"
    config.write_text(f'[audit]\nas_of = "2026-06-30"\n\n[tenants.first]\nconnector = "files"\npath = "{small_folder.as_posix()}"\n\n'
                      f'[tenants.second]\nconnector = "files"\npath = "{small_folder.as_posix()}"\n\n'
                      '[survey]\nanswers = "a.csv"\n', encoding="utf-8")
    with read_tenant(config) as ctx:
        assert ctx.tenant == "first" and ctx.as_of == datetime(2026, 6, 30)
        assert ctx.config.section("survey") == {"answers": "a.csv"}
    with read_tenant(config, tenant="second", as_of="2026-01-01") as ctx:
        assert ctx.tenant == "second" and ctx.as_of == datetime(2026, 1, 1)
    with pytest.raises(ConfigError, match=r"no tenant 'third'.*tenants: first, second"):
        with read_tenant(config, tenant="third"):
            pass


def test_names_what_is_wrong_before_reading(tmp_path, small_folder):
    with pytest.raises(ConfigError, match="no tenant to read"):
        with read_tenant():
            pass
    with pytest.raises(ConfigError, match="unknown connector 'nope'"):
        with read_tenant(connector="nope"):
            pass
    with pytest.raises(ConfigError, match="not files and snapshot"):
        with read_tenant(files=small_folder, snapshot=tmp_path):
            pass
    with pytest.raises(ConfigError, match="need a connector"):
        with read_tenant(files=small_folder, options={"token": "x"}):
            pass
    with pytest.raises(ConfigError, match="not a date"):
        with read_tenant(files=small_folder, as_of="someday"):
            pass


class _Failing:
    """A connector that reads users, then fails (or fails at once)."""

    def __init__(self, options, context):
        self.options = options

    def extract(self, sink):
        if self.options.get("users"):
            sink.write("users", [{"id": "1", "name": "Budi", "is_active": True}])
            sink.complete("users")
        raise CrmAuditError("the vendor said no")

    def api_calls(self):
        return 1


class _FailingPlugin:
    @hookimpl
    def crm_audit_register_connectors(self, register):
        register(ConnectorInfo(name="failing", factory=_Failing, description="fails on purpose",
                               options={"users": "write one user before failing"}))


def test_a_connector_that_fails_part_way_leaves_what_it_read(crm_audit_plugin):
    crm_audit_plugin(_FailingPlugin())
    with read_tenant(connector="failing", options={"users": True}) as ctx:
        assert ctx.tenant == "failing"
        assert ctx.supplied("users") and ctx.count("users") == 1
        assert "the vendor said no" in ctx.read_error
    with pytest.raises(CrmAuditError, match="the vendor said no"):
        with read_tenant(connector="failing"):
            pass


def test_opens_an_archived_audit(isolated_env, small_folder):
    run = CliRunner().invoke(main, ["run", "--files", str(small_folder), "--tenant", "acme", "--as-of", "2026-03-01",
                                    "--no-progress", "--check", "security.*", "--out", "audits"])
    assert run.exit_code in (0, 1), run.output
    [folder] = (isolated_env / "audits").iterdir()
    with read_tenant(snapshot=folder) as ctx:
        assert ctx.tenant == "acme" and ctx.as_of == datetime(2026, 3, 1)  # the audit's as-of date
        assert ctx.count("contacts") == 4
    with read_tenant(snapshot=folder / "snapshot.duckdb", tenant="acme", as_of="2027-01-01") as ctx:
        assert ctx.as_of == datetime(2027, 1, 1)
    with pytest.raises(ConfigError, match=r"no tenant 'other' in the snapshot \(tenants: acme\)"):
        with read_tenant(snapshot=folder, tenant="other"):
            pass
    with pytest.raises(ConfigError, match="snapshot not found"):
        with read_tenant(snapshot=isolated_env / "nothing-here"):
            pass
    not_duckdb = isolated_env / "notes.duckdb"
    not_duckdb.write_text("hello", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot open the snapshot"):
        with read_tenant(snapshot=not_duckdb):
            pass


@check(id="test.limits", title="Limits", step="security", area="security", severity="low",
       settings={"days": 90, "share": 0.5}, description="d", remediation="r")
def _limits(ctx):
    return ctx.result()


def test_settings_for_any_check_follows_the_config(small_folder):
    config = AuditConfig(check_settings={"test.limits": {"days": 30, "share": 1}})
    with read_tenant(config, files=small_folder) as ctx:
        assert ctx.settings_for(_limits) == {"days": 30, "share": 1.0}  # an int for a float default is fine
    config.check_settings["test.limits"] = {"dayz": 30}
    with read_tenant(config, files=small_folder) as ctx:
        with pytest.raises(ConfigError, match="checks.test.limits.dayz is not a setting"):
            ctx.settings_for(_limits)
        with pytest.raises(TypeError, match="takes a Check"):
            ctx.settings_for("test.limits")

