"""Planted defects for the security and updates checks of issue 16.

Run after :func:`~.security.gen_security` (the clean base of those tables), in the order
of :data:`PLANTERS`; each records the ids its check must report. They draw from their own
random stream (``[seed, 4]``) and pick users with ``b.pick`` (marked taken), so they stay
apart from the usage and data defects planted before them.
"""

from __future__ import annotations

import numpy as np

from .build import Build
from .frame import DAY, NULL_TS, obj
from .security import GUEST_PROFILE, add_rows, grant, setup_changes, update_security_score


def _rng(b: Build):
    if not hasattr(b, "security_defect_rng"):
        b.security_defect_rng = np.random.default_rng([b.seed, 4])
    return b.security_defect_rng


def _active_humans(b: Build) -> np.ndarray:
    u = b.frames["users"]
    return u["is_active"] & ~np.isin(u["role"], np.array(["integration", "guest"], dtype=object))


def plant_health_check(b: Build) -> None:
    """Four settings below the standard: two high risks (one of them guest API access), two medium."""
    s = b.frames["security_settings"]
    changes = {
        "Maximum invalid login attempts": ("No limit", "high"),
        "API Enabled on guest user profiles": ("Enabled", "high"),
        "User passwords expire in": ("Never expires", "medium"),
        "Timeout value": ("24 hours", "medium"),
    }
    rows = [i for i, name in enumerate(s["setting"].tolist()) if name in changes]
    for r in rows:
        s["org_value"][r], s["risk"][r] = changes[s["setting"][r]]
    update_security_score(b)
    b.record("security.health-check-score", s["id"][rows])


def plant_dangerous_permissions(b: Build) -> None:
    """Non-admins holding admin powers through a permission set, a set group, and an
    integration user's permission set."""
    u = b.frames["users"]
    rows = b.pick("users", 3, _active_humans(b) & ~u["is_admin"], rng=_rng(b))
    plan = (("modify_all_data", "permission_set", "Data Migration (temporary)"),
            ("view_all_data", "permission_set_group", "Sales Operations Bundle"),
            ("manage_users", "permission_set", "Team Lead Tools"))
    for r, (perm, via, name) in zip(rows.tolist(), plan):
        grant(b, [u["id"][r]], perm, via, name)
    ids = list(u["id"][rows])
    integ = np.nonzero((u["role"] == "integration") & ~u["is_admin"])[0]
    if len(integ):
        uid = u["id"][integ[0]]
        grant(b, [uid], "modify_all_data", "permission_set", "Zapier Full Access")
        grant(b, [uid], "author_apex", "permission_set", "Zapier Full Access")
        ids.append(uid)
    b.record("security.dangerous-permissions", ids)


def plant_connected_apps(b: Build) -> None:
    """A grant unused for 200 days, one never used, an app every user may self-authorize,
    and a webhook posting to a plain-HTTP URL."""
    u = b.frames["users"]
    rng = _rng(b)
    humans = u["id"][_active_humans(b)]
    who = humans[rng.choice(len(humans), size=3, replace=False)]
    integ = u["id"][u["role"] == "integration"]
    T = b.T
    ids = add_rows(b, "oauth_grants", {
        "app": obj(["Dropbox for CRM", "Legacy Data Loader", "Field Sales Tablet App", "Webhook: partner portal sync"]),
        "user_id": np.array([who[0], integ[-1] if len(integ) else who[1], who[1], who[2]], dtype=np.int64),
        "created_at": np.array([T - 400 * DAY, T - 300 * DAY, T - 200 * DAY, T - 150 * DAY], dtype=np.int64),
        "last_used_at": np.array([T - 200 * DAY, NULL_TS, T - 2 * DAY, T - 3600], dtype=np.int64),
        "use_count": np.array([57, 0, 410, 2300], dtype=np.int64),
        "scope": obj(["api refresh_token", "full", "all users may self-authorize", "webhook"]),
        "url": obj(["https://www.dropbox.com/crm/oauth/callback", None, None,
                    f"http://partners.{b.tenant_domain}/crm-hook"]),
    })
    b.record("security.connected-app-access", ids)


def plant_guest_access(b: Build) -> None:
    """The guest profile reads contacts, edits accounts and may call the API."""
    ids = []
    for perm in ("read:contact", "edit:account", "api_enabled"):
        ids.extend(grant(b, [b.guest_id], perm, "profile", GUEST_PROFILE).tolist())
    b.record("security.guest-access", ids)


def plant_admin_changes(b: Build) -> None:
    """Setup changes in the audit year by a user who is not an admin, and by one who has
    left since (when one left within the year)."""
    u = b.frames["users"]
    rng = _rng(b)
    rows = b.pick("users", 1, _active_humans(b) & ~u["is_admin"], rng=rng)
    ids = list(setup_changes(b, rng, [u["id"][rows[0]]] * 2, [b.T - 40 * DAY, b.T - 110 * DAY]))
    left = u["_departed_at"]
    gone = np.nonzero(~u["is_active"] & ~u["is_admin"] & (left != NULL_TS) & (left > b.T - 330 * DAY))[0]
    if len(gone):
        r = int(gone[0])
        ids.extend(setup_changes(b, rng, [u["id"][r]], [int(left[r]) - 12 * DAY]).tolist())
    b.record("security.admin-changes", ids)


def plant_outdated_packages(b: Build) -> None:
    """A package two major versions behind and one its publisher deprecated."""
    ids = add_rows(b, "packages", {
        "name": obj(["Legacy Lead Router", "Quick Quote Builder"]), "namespace": obj(["leadroute", "qqb"]),
        "version": obj(["1.4", "2.1"]), "installed_at": np.array([b.T - 1900 * DAY, b.T - 1200 * DAY], dtype=np.int64),
        "state": obj(["installed", "deprecated"]), "latest_version": obj(["3.0", "2.1"]),
    })
    b.record("updates.outdated-packages", ids)


def plant_old_api_clients(b: Build) -> None:
    """An integration user whose API logins of the last 90 days use a retired version."""
    u = b.frames["users"]
    ev = b.frames["login_events"]
    recent = (ev["application"] == "API") & (ev["status"] == "success") & (ev["at"] >= b.T - 90 * DAY)
    integ = [int(i) for i in u["id"][u["role"] == "integration"].tolist()]
    for uid in reversed(integ):
        mine = ev["user_id"] == uid
        if (mine & recent).any():
            m = mine & (ev["application"] == "API")
            ev["api_type"][m] = "SOAP Partner"
            ev["api_version"][m] = "2.0"
            ev["login_type"][m] = "Other Apex API"
            b.record("updates.clients-on-old-api-versions", [uid])
            return


PLANTERS = [
    plant_health_check,
    plant_dangerous_permissions,
    plant_connected_apps,
    plant_guest_access,
    plant_admin_changes,
    plant_outdated_packages,
    plant_old_api_clients,
]
