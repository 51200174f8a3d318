"""Standard checks: updates (Part 1, step 1: "is the tenant on current platform and API versions?").

Both checks read the ``platform`` table (one row a tenant: vendor, edition, the API
version the tenant's integrations use, the latest version and the deprecated ones). The
affected id is the platform row's ``vendor``.

Versions are compared by their numbers, the way vendors number them: ``v59.0`` <
``v61.0`` (Salesforce), ``v1`` < ``v2`` (Pipedrive), ``2024-01`` < ``2025-09``
(date-stamped versions), ``v3`` < ``v4`` (HubSpot). Text around the numbers is ignored.
"""

from __future__ import annotations

import re

from crm_audit_core import Message, check

from .i18n import _

_NUMBER = re.compile(r"\d+")


def version_key(text) -> tuple[int, ...]:
    """The numbers of a version string as a tuple: ``'v59.0'`` -> ``(59, 0)``."""
    numbers = tuple(int(n) for n in _NUMBER.findall(str(text or "")))
    # Drop trailing zeros so 59 == 59.0.
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers = numbers[:-1]
    return numbers


def _same_version(a, b) -> bool:
    ka, kb = version_key(a), version_key(b)
    if ka and kb:
        return ka == kb
    return str(a or "").strip().lower() == str(b or "").strip().lower()


@check(
    id="updates.outdated-api-version",
    title="Integrations on an older API version",
    step="updates",
    area="usage",
    severity="medium",
    needs={"platform": ["vendor", "api_version_used", "api_version_latest"]},
    description=(
        "The tenant's integrations call an older API version than the latest the vendor offers: they miss "
        "fixes and features, and old versions are retired on a schedule."
    ),
    remediation=(
        "Plan the upgrade of the integrations and API clients to the latest API version (read the vendor's "
        "release notes for breaking changes) and test them against a sandbox first."
    ),
)
def outdated_api_version(ctx):
    rows = ctx.rows("SELECT vendor, edition, api_version_used, api_version_latest FROM platform")
    known = [r for r in rows if r["api_version_used"] and r["api_version_latest"]]
    if not known:
        return ctx.skip(_("the platform table gives no API versions (used and latest) to compare"))
    ids, details = [], {}
    for r in known:
        used, latest = version_key(r["api_version_used"]), version_key(r["api_version_latest"])
        if used and latest and used < latest:
            ids.append(str(r["vendor"]))
            details[str(r["vendor"])] = _("uses API {used}, latest is {latest}",
                                          used=str(r["api_version_used"]), latest=str(r["api_version_latest"]))
    metrics = {"versions": {str(r["vendor"]): {"used": r["api_version_used"], "latest": r["api_version_latest"],
                                               "edition": r["edition"]} for r in rows}}
    message = Message.join(details.values(), "; ") if ids else _("API versions in use are the latest")
    return ctx.result(ids=ids, population=len(known), metrics=metrics, details=details, message=message)


@check(
    id="updates.deprecated-api-version",
    title="Integrations on a deprecated API version",
    step="updates",
    area="usage",
    severity="high",
    needs={"platform": ["vendor", "api_version_used", "api_versions_deprecated"]},
    description=(
        "The API version the tenant's integrations use is deprecated by the vendor: it will be switched off, "
        "and the integrations will stop with it."
    ),
    remediation=(
        "Upgrade the integrations and API clients to a supported API version before the vendor's retirement "
        "date; check the vendor's deprecation notice for the date."
    ),
)
def deprecated_api_version(ctx):
    rows = ctx.rows("SELECT vendor, api_version_used, api_versions_deprecated FROM platform")
    known = [r for r in rows if r["api_version_used"]]
    if not known:
        return ctx.skip(_("the platform table does not say which API version the tenant uses"))
    ids, details = [], {}
    for r in known:
        deprecated = r["api_versions_deprecated"] or []
        if any(_same_version(r["api_version_used"], d) for d in deprecated):
            ids.append(str(r["vendor"]))
            details[str(r["vendor"])] = _("uses API {used}, which the vendor deprecated",
                                          used=str(r["api_version_used"]))
    metrics = {"deprecated": {str(r["vendor"]): list(r["api_versions_deprecated"] or []) for r in rows}}
    message = Message.join(details.values(), "; ") if ids else _("no deprecated API version in use")
    return ctx.result(ids=ids, population=len(known), metrics=metrics, details=details, message=message)


CHECKS = (outdated_api_version, deprecated_api_version)
