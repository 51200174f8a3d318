"""The shape of a generated tenant: how it spreads its values, beyond how many records it has.

The default shape (``Shape()``) is the generator's historical one and gives byte-identical
tenants. :data:`BENCHMARK` is shaped like the real tenants the performance work was measured
on (issue 20): fewer contacts per company (so more distinct web domains for the same
contacts), a share of e-mail addresses on an internationalised (Hangul) domain, a share of
contacts whose names are written in Hangul, and many custom fields, most of them sparse.

    from crm_audit_core.sandbox import generate_tenant
    from crm_audit_core.sandbox.shape import BENCHMARK
    t = generate_tenant(contacts=100_000, seed=1, shape=BENCHMARK.with_(idn_email_share=0.14))

Every shape keeps the ground truth: what the standard checks must report is still exactly
what the manifest lists (``manifest["shape"]`` records the shape a tenant was built with).
Phone numbers are distinct per contact and company domains distinct per company in every
shape (see ``people.mobile_phones`` and ``pools.company_base_name``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from . import pools

COMPANY_MAIL_SHARE = 0.6
"""Share of contacts whose address is on their company's domain (the rest use free mail)."""
KR_LATIN_NAME_SHARE = 0.15
"""Share of Korean contacts whose names are written in Latin script in the default shape."""
SPARSE_BELOW_PERCENT = 5.0
"""data.sparse-custom-fields' default threshold: fields filled on fewer records are planted."""


@dataclass(frozen=True)
class Shape:
    """How a generated tenant spreads its values.

    Attributes:
        contacts_per_company: contacts per company of the base data (each company has its
            own web domain, so this sets the number of distinct company domains).
        idn_email_share: share (0 to 1) of the contacts' e-mail addresses whose domain is an
            internationalised (Hangul) domain such as ``한빛테크.kr``; 0 gives none.
        non_latin_name_share: share (0 to 1) of contacts whose names are written in a
            non-Latin script (Hangul); None keeps the default country mix (about 20%).
        extra_custom_fields: custom fields added to each of contacts, companies and deals,
            with fill rates spread log-uniformly from 1% to 60% of the records (the ones
            under data.sparse-custom-fields' 5% are planted as such; on a tenant without
            defects they stay at 6% or more).
    """

    contacts_per_company: float = 4.0
    idn_email_share: float = 0.0
    non_latin_name_share: float | None = None
    extra_custom_fields: int = 0

    def __post_init__(self) -> None:
        if not self.contacts_per_company >= 1:
            raise ValueError(f"contacts_per_company must be at least 1, got {self.contacts_per_company!r}")
        for name in ("idn_email_share", "non_latin_name_share"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        if self.extra_custom_fields < 0:
            raise ValueError(f"extra_custom_fields must be 0 or more, got {self.extra_custom_fields!r}")

    @property
    def is_default(self) -> bool:
        return self == Shape()

    def with_(self, **changes) -> "Shape":
        return replace(self, **changes)

    def to_json(self) -> dict:
        return asdict(self)

    # -- what the build derives from it ------------------------------------------
    def korean_share(self) -> float:
        """Share of companies in Korea: enough for the Hangul names and the Hangul domains
        asked for (contacts mostly share their company's country)."""
        default = float(pools.COUNTRY_WEIGHTS[pools.COUNTRY_CODES.index("KR")])
        need = default
        if self.non_latin_name_share is not None:
            need = self.non_latin_name_share / (1 - KR_LATIN_NAME_SHARE)
        need = max(need, self.idn_email_share / COMPANY_MAIL_SHARE)
        return min(need, 0.95)

    def country_weights(self) -> np.ndarray:
        """pools.COUNTRY_WEIGHTS with Korea at :meth:`korean_share` (the others in proportion)."""
        weights = pools.COUNTRY_WEIGHTS.copy()
        if self.non_latin_name_share is None and not self.idn_email_share:
            return weights
        k = pools.COUNTRY_CODES.index("KR")
        share = self.korean_share()
        others = 1.0 - weights[k]
        weights = weights * (1.0 - share) / others
        weights[k] = share
        return weights / weights.sum()

    def korean_latin_share(self) -> float:
        """Share of Korean contacts named in Latin script (the rest in Hangul)."""
        if self.non_latin_name_share is None:
            return KR_LATIN_NAME_SHARE
        return max(0.0, 1.0 - self.non_latin_name_share / self.korean_share())

    def idn_company_share(self) -> float:
        """Share of Korean companies with a Hangul domain."""
        if not self.idn_email_share:
            return 0.0
        return min(1.0, self.idn_email_share / (COMPANY_MAIL_SHARE * self.korean_share()))


DEFAULT = Shape()
BENCHMARK = Shape(contacts_per_company=6.8, idn_email_share=0.0, non_latin_name_share=0.2, extra_custom_fields=40)
"""Shaped like the held-out tenant of issue 20 (1.02M contacts at 150,000 companies, each
with its own domain, 1M distinct phone numbers); set ``idn_email_share`` for the
international-domain measurement (0.14 there)."""

IDN_TLDS = ("kr", "co.kr", "한국", "com")


def hangul_domain(name: str, pick: int) -> str:
    """An internationalised domain for a Korean company's Hangul name: ``한빛테크.kr``."""
    label = "".join(ch for ch in name if ch.isalnum())
    return f"{label}.{IDN_TLDS[pick % len(IDN_TLDS)]}"


def add_extra_custom_fields(b) -> None:
    """Sparse custom fields on contacts, companies and deals (after planting, so the fill is
    measured on the final rows). Planted as sparse when under 5% (defects only)."""
    n_fields = b.shape.extra_custom_fields
    if not n_fields:
        return
    rng = np.random.default_rng([b.seed, 3])
    low = 0.01 if b.defects else 0.06
    for table in ("contacts", "companies", "deals"):
        fr = b.frames[table]
        n = len(fr)
        for i in range(n_fields):
            rate = float(np.exp(rng.uniform(np.log(low), np.log(0.6))))
            k = int(round(rate * n))
            percent = 100.0 * k / n if n else 0.0
            if abs(percent - SPARSE_BELOW_PERCENT) < 0.5 or k == 0:
                k = int(np.ceil(0.06 * n))  # clear of the threshold, never empty
                percent = 100.0 * k / n
            name = f"x_{table[:-1]}_field_{i + 1:02d}"
            values = np.full(n, None, dtype=object)
            rows = rng.choice(n, size=k, replace=False)
            values[rows] = [f"v{int(v)}" for v in rng.integers(0, 50, size=k)]
            fr[name] = values
            b.add_custom_field(table, name, f"Extra field {i + 1} ({table})", "string", b.T - int(rng.integers(400, 1800)) * 86400)
            if percent < SPARSE_BELOW_PERCENT:
                b.record("data.sparse-custom-fields", [f"{table}.{name}"])
