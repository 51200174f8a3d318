"""The public :func:`generate_tenant`: the order in which a synthetic tenant is built.

The build runs in three phases on a :class:`~.build.Build` (the shared state):

1. base data (``people``, ``integrations``, ``work``): clean, far from every default
   threshold of the standard checks;
2. defect planting: the functions registered in ``defects_usage.PLANTERS`` and
   ``defects_data.PLANTERS`` (one small function per defect family), which edit the
   frames through ``build``'s helpers and record the planted ids; then the security and
   updates tables (``security``, from their own random stream) and their defects
   (``defects_security.PLANTERS``);
3. finalisation (``finalize``): derived columns (last activity, last login, integration
   counts), pyarrow tables and the manifest, as a :class:`~.tenant.GeneratedTenant`.

Everything is a deterministic function of (contacts, seed, defects, name, as_of, shape): the
base draws from one random stream and planting from another, so a clean tenant and a
tenant with defects share the same base.
"""

from __future__ import annotations

from datetime import datetime, time

import numpy as np

from .build import UTC, Build
from .defects_data import PLANTERS as DATA_PLANTERS
from .defects_security import PLANTERS as SECURITY_PLANTERS
from .defects_usage import PLANTERS as USAGE_PLANTERS
from .finalize import common_name_groups, finalize
from .frame import DAY
from .integrations import ensure_recent_integration_records, gen_campaigns, gen_integrations, gen_platform
from .people import gen_companies, gen_contacts, gen_login_events, gen_users
from .planting import to_utc
from .shape import Shape, add_extra_custom_fields
from .security import gen_security
from .tenant import GeneratedTenant
from .work import gen_activities, gen_deals, gen_stages

__all__ = ["GeneratedTenant", "generate_tenant"]


def declare_base_custom_fields(b: Build) -> None:
    c = b.T - 1500 * DAY
    for table, name, label, kind in (
        ("companies", "employee_count", "Employee count", "number"),
        ("companies", "account_tier", "Account tier", "enumeration"),
        ("companies", "tax_id", "Tax ID (NPWP)", "string"),
        ("contacts", "preferred_language", "Preferred language", "enumeration"),
        ("contacts", "nps_score", "NPS score", "number"),
        ("contacts", "linkedin_url", "LinkedIn URL", "string"),
        ("deals", "deal_type", "Deal type", "enumeration"),
        ("deals", "forecast_category", "Forecast category", "enumeration"),
    ):
        b.add_custom_field(table, name, label, kind, c)
        c += 37 * DAY


def build_base(b: Build) -> None:
    rng = b.rng
    gen_users(b)
    gen_login_events(b)
    gen_integrations(b)
    if b.shape.contacts_per_company == 4.0:
        n_comp = max(10, b.n_contacts // 4)
    else:
        n_comp = max(10, int(round(b.n_contacts / b.shape.contacts_per_company)))
    b.frames["companies"] = gen_companies(b, rng, n_comp)
    b.assignable_companies = np.arange(n_comp)
    b.n_base_contacts = b.n_contacts
    b.frames["contacts"] = gen_contacts(b, rng, b.n_contacts, common=True)
    ensure_recent_integration_records(b, rng)
    gen_stages(b)
    gen_deals(b)
    gen_activities(b)
    gen_campaigns(b)
    gen_platform(b)
    declare_base_custom_fields(b)


# --------------------------------------------------------------------------- public entry point


def _as_of(value) -> datetime:
    if value is None:
        today = datetime.now(UTC).date()
        return datetime.combine(today, time(0), tzinfo=UTC)
    as_of = to_utc(value)
    if as_of is None:
        raise TypeError(f"as_of must be a datetime, date or ISO string, not {type(value).__name__}")
    return as_of


def generate_tenant(contacts: int = 1000, seed: int = 42, defects: bool = True, name: str = "demo",
                    as_of=None, shape: Shape | None = None) -> GeneratedTenant:
    """Generate a deterministic synthetic tenant (see docs/dev/ground-truth.md).

    ``shape``: how the tenant spreads its values (:class:`~.shape.Shape`; ``shape.BENCHMARK``
    is shaped like real tenants); None is the default shape.
    """
    if contacts < 100:
        raise ValueError("contacts must be at least 100")
    b = Build(contacts, seed, defects, name, _as_of(as_of), shape)
    build_base(b)
    if b.defects:
        for plant in USAGE_PLANTERS + DATA_PLANTERS:
            plant(b)
            b.flush()
    add_extra_custom_fields(b)
    gen_security(b)
    if b.defects:
        for plant in SECURITY_PLANTERS:
            plant(b)
    common_name_groups(b)
    return finalize(b)
