"""Integration probes: read the other side of an integration.

A CRM says how many contacts its Mailchimp sync created; only Mailchimp says how many
members the audience holds. A probe is a plugin that reads such counts from the other
system (a mailing tool, an accounting package, a data warehouse) so the reconciliation
checks can compare both sides. Probes register like connectors
(``crm_audit_register_probes``), are configured per tenant in crm-audit.toml::

    [tenants.acme.probes.mailchimp]
    api_key = "${MAILCHIMP_API_KEY}"
    list_id = "a1b2c3d4e5"

and run after the tenant's CRM has been read. What they return goes into the canonical
table ``sync_counts``. A probe that fails (a wrong key, a timeout, an audience that does
not exist) costs one line on the terminal and marks its counts missing; the CRM audit goes
on, and the checks that needed the counts say which were missing and why.

Probes are read-only, like connectors, and use the connector kit
(:mod:`crm_audit_core.kit`) for options, rate limits, budgets and retries.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Protocol

from . import model
from .connector import SandboxHandle
from .errors import ConfigError, CrmAuditError
from .i18n import _
from .kit.calls import NullProgress
from .secrets import redact

MEASURES = model.SYNC_MEASURES
OBJECTS = ("contacts", "companies", "deals", "campaigns", "activities")


@dataclass
class SyncCount:
    """One count the other system reports.

    ``integration``: the integration's name as the CRM knows it (``integrations.name``,
    compared case-insensitively). ``object``: the canonical table whose records the count
    corresponds to. ``measure``: one of :data:`MEASURES`. ``key``: one item's name in the
    other system (a campaign, a survey) or None for a total. ``value`` None means the
    count could not be read and ``missing`` says why. ``source``: where it came from, for
    a reader ("Mailchimp audience 'Newsletter' (GET /3.0/lists/{list_id})").
    """

    integration: str
    object: str
    measure: str
    value: int | None
    key: str | None = None
    source: str = ""
    missing: str | None = None

    def validate(self, probe: str) -> None:
        if self.object not in OBJECTS:
            raise CrmAuditError(f"probe {probe!r} returned a count of unknown object {self.object!r} "
                                f"(known: {', '.join(OBJECTS)})")
        if self.measure not in MEASURES:
            raise CrmAuditError(f"probe {probe!r} returned a count of unknown measure {self.measure!r} "
                                f"(known: {', '.join(MEASURES)})")
        if self.value is not None and (not isinstance(self.value, int) or isinstance(self.value, bool)):
            raise CrmAuditError(f"probe {probe!r} returned {self.value!r} for {self.object} {self.measure}, not a whole number")

    def row(self, probe: str, observed_at: datetime) -> dict:
        key = self.key if self.key not in ("",) else None
        return {
            "id": f"{probe}:{self.integration}:{self.object}:{key or ''}:{self.measure}",
            "probe": probe,
            "integration": self.integration,
            "object": self.object,
            "key": key,
            "measure": self.measure,
            "value": self.value,
            "source": self.source,
            "missing": self.missing,
            "observed_at": observed_at,
        }


@dataclass
class ProbeContext:
    """What the runner tells a probe: the tenant, the audit date and the integrations the
    CRM lists (``[{"id", "name", "kind"}]``, possibly empty)."""

    tenant: str
    as_of: datetime
    integrations: list[dict] = field(default_factory=list)
    debug: bool = False
    progress: Any = field(default_factory=NullProgress)
    settings: dict = field(default_factory=dict)  # [probes.<name>] defaults of crm-audit.toml


class Probe(Protocol):
    """A configured probe. ``read`` returns the counts; ``api_calls`` (optional attribute)
    says how many calls it made; ``close`` (optional) frees its session."""

    def read(self, context: ProbeContext) -> Iterable[SyncCount]: ...


@dataclass
class ProbeInfo:
    """Registration record for a probe (see :mod:`crm_audit_core.probes`).

    ``factory(options, context)`` builds the probe from its options without touching the
    network, so a bad option is a usage error before anything is read. ``options``: as
    :attr:`ConnectorInfo.options` (secrets masked, unknown options refused with a
    did-you-mean). ``integration``: the integration name its counts speak for by default;
    a probe should accept the option ``integration`` to override it. ``expected``: the
    ``(object, measure)`` totals it reports, so a failure marks exactly these missing.
    ``sandbox(tenant)``: optional; serves the other side of a generated tenant on
    127.0.0.1 and returns a :class:`SandboxHandle` whose ``options`` configure the probe.
    """

    name: str
    factory: Callable[[dict, ProbeContext], Any]
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    integration: str = ""
    expected: tuple[tuple[str, str], ...] = ()
    sandbox: Callable[..., SandboxHandle] | None = None
    plugin: str = ""

    def __post_init__(self) -> None:
        from .kit.options import option_spec

        self.options = option_spec(self.options)

    @property
    def required_options(self) -> tuple[str, ...]:
        return tuple(n for n, o in self.options.items() if o.required)


def validate_probe_options(info: ProbeInfo, tenant: str, options: dict, where: str) -> None:
    """Unknown or missing options are usage errors naming the probe and the tenant."""
    unknown = [n for n in options if n not in info.options]
    if unknown:
        name = unknown[0]
        near = difflib.get_close_matches(name, list(info.options), n=1)
        known = ", ".join(sorted(info.options)) or _("none")
        hint = (_("did you mean {name}? its options: {options}", name=repr(near[0]), options=known) if near
                else _("its options: {options}", options=known))
        raise ConfigError(_("tenant {tenant}: {option} is not an option of the {probe} probe", tenant=repr(tenant),
                            option=repr(name), probe=info.name), where=where, hint=hint)
    missing = [n for n in info.required_options if options.get(n) in (None, "")]
    if missing:
        raise ConfigError(_("tenant {tenant}: the {probe} probe is missing option {option}", tenant=repr(tenant),
                            probe=info.name, option=repr(missing[0])), where=where, hint=str(info.options[missing[0]]))


@dataclass
class ProbeOutcome:
    name: str
    rows: list[dict]
    api_calls: int = 0
    error: str | None = None


def run_probe(info: ProbeInfo, options: dict, context: ProbeContext) -> ProbeOutcome:
    """Build and read one probe; a failure becomes missing counts, never an exception."""
    observed = datetime.now(timezone.utc)
    probe = None
    try:
        probe = info.factory(dict(options), context)
        counts = list(probe.read(context))
        for c in counts:
            c.validate(info.name)
        rows = [c.row(info.name, observed) for c in counts]
        # an expected total the answer left out is missing, said so, never just absent
        given = {(c.object, c.measure) for c in counts if c.key is None}
        integration = options.get("integration") or info.integration or info.name
        for obj, measure in info.expected:
            if (obj, measure) not in given:
                line = _("probe {probe} (tenant {tenant}): the answer holds no {object} {measure} count",
                         probe=info.name, tenant=context.tenant, object=obj, measure=measure)
                rows.append(SyncCount(integration, obj, measure, None, source=f"{info.name} probe",
                                      missing=str(line)).row(info.name, observed))
        return ProbeOutcome(info.name, rows, api_calls=int(getattr(probe, "api_calls", 0) or 0))
    except Exception as exc:  # a probe never stops the CRM audit
        if context.debug and not isinstance(exc, CrmAuditError):
            raise
        text = exc.one_line() if isinstance(exc, CrmAuditError) else f"{type(exc).__name__}: {exc}"
        line = _("probe {probe} (tenant {tenant}): {error}", probe=info.name, tenant=context.tenant, error=text)
        line = redact(line if "\n" not in line else line.splitlines()[0])
        integration = options.get("integration") or info.integration or info.name
        rows = [SyncCount(integration, obj, measure, None, source=f"{info.name} probe", missing=str(line)).row(info.name, observed)
                for obj, measure in info.expected]
        return ProbeOutcome(info.name, rows, api_calls=int(getattr(probe, "api_calls", 0) or 0), error=line)
    finally:
        close_quietly(probe)


def close_quietly(thing) -> None:
    """Call ``thing.close()`` if it has one; a failure to close changes nothing of the audit."""
    close = getattr(thing, "close", None)
    if callable(close):
        try:
            close()
        except Exception:
            pass
