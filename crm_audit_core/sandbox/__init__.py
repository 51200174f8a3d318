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

from .generator import generate_tenant
from .manifest import CHECK_IDS, DEFECT_OBJECTS
from .tenant import GeneratedTenant

__all__ = ["generate_tenant", "GeneratedTenant", "CHECK_IDS", "DEFECT_OBJECTS"]
