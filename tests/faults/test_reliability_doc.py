"""docs/reliability.md is generated from the acceptance suite's fault matrix; it must name every case.

Each connector runs the fault matrix in its own acceptance test
(``connectors/<crm>/tests/test_acceptance.py``, :mod:`crm_audit_core.acceptance.faults`);
``CRM_AUDIT_RELIABILITY_OUT=path.json`` collects the outcomes and
``benchmarks/reliability_table.py`` renders the doc.
"""

from __future__ import annotations

from pathlib import Path

from crm_audit_core.acceptance import faults
from crm_audit_core.plugins import build_plugin_manager

ROOT = Path(__file__).resolve().parent.parent.parent


def test_reliability_doc_lists_every_case():
    doc = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    rows = set()
    for line in doc.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and line.startswith("|"):
            rows.add((cells[0], cells[1]))
    names = sorted(i.name for i in build_plugin_manager().connectors.values() if i.sandbox)
    wanted = {(name, case.fault) for name in names for case in faults.CASES}
    missing = sorted(wanted - rows)
    assert not missing, (f"docs/reliability.md lacks {missing}: run CRM_AUDIT_RELIABILITY_OUT=... pytest "
                         "connectors/*/tests/test_acceptance.py -k fault and benchmarks/reliability_table.py")
