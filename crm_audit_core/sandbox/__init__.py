"""Deterministic synthetic CRM tenants with planted defects and a ground-truth manifest.

    from crm_audit_core.sandbox import generate_tenant
    t = generate_tenant(contacts=1000, seed=42, defects=True, name="demo")
    t.tables["contacts"]      # pyarrow.Table (canonical columns + custom fields)
    t.rows("deals")           # list of dicts with python values
    t.manifest["defects"]     # {check_id: {"object": ..., "ids": [...]}}
    t.write("out/")           # <table>.csv per table + manifest.json

The contract is docs/dev/ground-truth.md; defect families live in ``defects_usage``
and ``defects_data`` (one planter function each, registered in ``PLANTERS``).
"""

from .generator import generate_tenant
from .tenant import GeneratedTenant
from .manifest import CHECK_IDS, DEFECT_OBJECTS

__all__ = ["generate_tenant", "GeneratedTenant", "CHECK_IDS", "DEFECT_OBJECTS"]
