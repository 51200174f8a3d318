"""The ground-truth contract: every check id the generator plants, and its object.

Mirrors the table in ``docs/dev/ground-truth.md``; tests/sandbox asserts the two agree.
"""

from __future__ import annotations

DEFECT_OBJECTS: dict[str, str] = {
    "usage.login-adoption": "users",
    "usage.inactive-users": "users",
    "usage.won-deals-without-activity": "deals",
    "updates.outdated-api-version": "platform",
    "updates.deprecated-api-version": "platform",
    "integrations.stopped-integrations": "integrations",
    "integrations.spiking-integrations": "integrations",
    "integrations.stale-syncs": "integrations",
    "integrations.silent-integrations": "integrations",
    "integrations.campaign-count-sanity": "campaigns",
    "integrations.sync-count-mismatch": "integrations",
    "integrations.duplicates-by-source": "integrations",
    "open-work.overdue-tasks": "activities",
    "open-work.tasks-without-due-date": "activities",
    "open-work.tasks-without-owner": "activities",
    "open-work.deals-past-close-date": "deals",
    "open-work.stalled-deals": "deals",
    "open-work.lost-deals-without-reason": "deals",
    "open-work.deals-without-owner": "deals",
    "security.too-many-admins": "users",
    "security.dormant-users": "users",
    "security.departed-users-owning-work": "users",
    "security.users-without-mfa": "users",
    "security.failed-login-bursts": "users",
    "security.logins-from-many-ips": "users",
    "security.integration-users-with-admin": "users",
    "data.sparse-custom-fields": "fields",
    "data.empty-custom-fields": "fields",
    "data.untouched-contacts": "contacts",
    "data.untouched-companies": "companies",
    "data.empty-stages": "stages",
    "data.unsegmented-contacts": "contacts",
    "data.tiny-segments": "segments",
    "data.duplicate-contacts": "contacts",
    "data.duplicate-companies": "companies",
    "data.duplicate-deals": "deals",
    "data.unreachable-contacts": "contacts",
    "data.companies-without-domain": "companies",
    "data.incomplete-deals": "deals",
    "data.contacts-without-company-or-stage": "contacts",
    "data.stale-contacts": "contacts",
    "data.invalid-emails": "contacts",
    "data.invalid-phones": "contacts",
    "data.bounced-emails": "contacts",
}

CHECK_IDS = tuple(DEFECT_OBJECTS)
