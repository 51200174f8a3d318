"""The same arguments give the same tenant, row for row, across refactorings.

The digests below were computed on main at commit 409564e (before generator.py was split
into build/people/work/integrations/finalize/tenant) with exactly :func:`digest` below,
by running ``generate_tenant(contacts=150, seed=3, defects=..., name="digest",
as_of=AS_OF)``. A change to the generated rows, their types or the manifest changes them:
if that change is deliberate (a new defect family, a new column), recompute them and say
so in the commit message. Recomputed for issue 16 (the security and updates tables, the
new users/login_events/platform columns, the guest user): every row of the tables that
existed before is unchanged except login_events.id (numbered after the new tables' ids).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import pytest

from crm_audit_core.sandbox import generate_tenant

AS_OF = datetime(2026, 12, 31, tzinfo=timezone.utc)

DIGESTS = {
    True: "da1556d7a7da2a4a419c0fa7ab5d6cfa98c6c41c2e767020595b436604e90f2e",
    False: "ccbeb645aeb49333fab57635d0a3f3a35a4f370922afb185687ee5f6af94594c",
}


def digest(tenant) -> str:
    """sha256 over every table (name, arrow schema, rows as JSON) and the manifest."""
    h = hashlib.sha256()
    for name in sorted(tenant.tables):
        table = tenant.tables[name]
        h.update(name.encode())
        h.update(str(table.schema).encode())
        h.update(json.dumps(table.to_pylist(), sort_keys=True, default=str, ensure_ascii=False).encode())
    h.update(json.dumps(tenant.manifest, sort_keys=True, ensure_ascii=False).encode())
    return h.hexdigest()


@pytest.mark.parametrize("defects", [True, False])
def test_a_small_tenant_is_byte_identical_to_mains(defects):
    tenant = generate_tenant(contacts=150, seed=3, defects=defects, name="digest", as_of=AS_OF)
    assert digest(tenant) == DIGESTS[defects]


def test_the_digest_sees_one_changed_value():
    tenant = generate_tenant(contacts=150, seed=3, defects=False, name="digest", as_of=AS_OF)
    before = digest(tenant)
    tenant.edit("contacts", {"id": tenant.rows("contacts")[0]["id"]}, {"title": "Changed"})
    assert digest(tenant) != before


def test_as_of_as_date_string_or_naive_datetime_gives_the_same_tenant():
    from datetime import date

    want = digest(generate_tenant(contacts=100, seed=5, defects=False, as_of=AS_OF))
    for as_of in ("2026-12-31", "2026-12-31T00:00:00Z", date(2026, 12, 31), datetime(2026, 12, 31)):
        assert digest(generate_tenant(contacts=100, seed=5, defects=False, as_of=as_of)) == want, as_of
    with pytest.raises(TypeError, match="as_of must be a datetime, date or ISO string, not int"):
        generate_tenant(contacts=100, as_of=20261231)
