"""CheckContext helpers that checks building on other checks use: settings_for, temporary_tables."""

from __future__ import annotations

import pyarrow as pa
import pytest

from crm_audit_core import check, hookimpl, read_tenant


@check(id="test.base", title="Base", step="duplicates", area="data", severity="low",
       settings={"threshold": 0.9, "max_block": 50}, description="d", remediation="r")
def base(ctx):
    return ctx.result(metrics={"seen": ctx.settings_for(base)})


@check(id="test.derived", title="Derived", step="duplicates", area="data", severity="low",
       settings={"min": 1}, description="d", remediation="r")
def derived(ctx):
    return ctx.result(metrics={"base": ctx.settings_for(base), "own": ctx.settings_for(derived)})


class _Plugin:
    @hookimpl
    def crm_audit_register_checks(self, register):
        register(base)
        register(derived)


def test_settings_for_gives_the_running_check_its_own_and_others_theirs(crm_audit_plugin, crm_audit_tenant,
                                                                         crm_audit_run_check):
    crm_audit_plugin(_Plugin())
    tenant = crm_audit_tenant(contacts=100)
    config = {"checks": {"test.base": {"max_block": 5}}}
    own = crm_audit_run_check("test.base", tenant, settings={"threshold": 0.5}, config=config)
    assert own.metrics["seen"] == {"threshold": 0.5, "max_block": 5}  # what the check runs with
    other = crm_audit_run_check("test.derived", tenant, settings={"min": 3}, config=config)
    assert other.metrics == {"base": {"threshold": 0.9, "max_block": 5}, "own": {"min": 3}}


def test_temporary_tables_live_for_the_block(small_folder):
    folded = pa.table({"raw": ["Siti", "지우"], "norm": ["siti", "jiu"]})
    with read_tenant(files=small_folder) as ctx:
        with ctx.temporary_tables(folded=folded):
            assert ctx.rows("SELECT c.id, f.norm FROM contacts c JOIN folded f ON f.raw = c.first_name ORDER BY 1") == [
                {"id": "10", "norm": "siti"}, {"id": "11", "norm": "jiu"}]
        with pytest.raises(Exception, match="folded"):
            ctx.sql("SELECT * FROM folded")
        with pytest.raises(RuntimeError):
            with ctx.temporary_tables(folded=folded):
                raise RuntimeError("the block failed")
        with pytest.raises(Exception, match="folded"):
            ctx.sql("SELECT * FROM folded")  # gone also when the block raised


def test_temporary_tables_never_hide_the_tenant(small_folder):
    with read_tenant(files=small_folder) as ctx:
        with pytest.raises(ValueError, match="would hide the canonical contacts table"):
            with ctx.temporary_tables(contacts=pa.table({"id": ["x"]})):
                pass
        with pytest.raises(ValueError, match="not a plain identifier"):
            with ctx.temporary_tables(**{"x; DROP TABLE y": pa.table({"id": ["x"]})}):
                pass
        assert ctx.count("contacts") == 4
