"""Deterministic synthetic CRM tenants with planted defects and a ground-truth manifest.

    from crm_audit_core.sandbox import generate_tenant
    t = generate_tenant(contacts=1000, seed=42, defects=True, name="demo")
    t.tables["contacts"]      # pyarrow.Table (canonical columns + custom fields)
    t.rows("deals")           # list of dicts with python values
    t.manifest["defects"]     # {check_id: {"object": ..., "ids": [...]}}
    t.write("out/")           # <table>.csv per table + manifest.json
    t = t.copy(); t.add_rows("contacts", [{...}], defect="my.check")   # plant for a test
    t.planted("my.check")     # the ids that check must report

The contract is docs/dev/ground-truth.md (which also maps the modules); defect families
live in ``defects_usage`` and ``defects_data`` (one planter function each, registered in
``PLANTERS``). ``server`` is the base of the connectors' emulated CRMs.
"""

from importlib import import_module

__all__ = ["generate_tenant", "GeneratedTenant", "CHECK_IDS", "DEFECT_OBJECTS"]

# Imported on first use: a connector's sandbox imports ``sandbox.server`` while its plugin
# is registered, and the generator (numpy, pyarrow.compute) is not needed for that.
_LAZY = {"generate_tenant": ".generator", "GeneratedTenant": ".tenant", "CHECK_IDS": ".manifest",
         "DEFECT_OBJECTS": ".manifest"}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
