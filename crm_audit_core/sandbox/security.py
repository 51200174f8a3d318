"""Base generation of the security and updates tables of a synthetic tenant (issue 16):
``permissions``, ``security_settings``, ``oauth_grants``, ``audit_trail``, ``packages``,
the security columns of ``users`` and ``login_events`` and the platform's security score.

Runs after the usage and data planters (so every admin and every login exists) and
before ``defects_security`` plants its defects. It draws from its own random stream
(``[seed, 3]``), so the tables built before it are the same as without it. Clean by
construction: only admins hold the powerful permissions and change the setup, every
app grant is in use over HTTPS, every package is current, every API client calls the
latest version, every baseline setting meets the standard or is a low risk.
"""

from __future__ import annotations

import numpy as np

from .build import Build
from .frame import DAY, NULL_ID, NULL_TS, Frame, obj

ADMIN_PROFILE = "System Administrator"
INTEGRATION_PROFILE = "Integration User"
GUEST_PROFILE = "Partner Portal Guest Profile"
GUEST_NAME = "Partner Portal Site Guest User"
# what the admin profile grants (the permissions security.dangerous-permissions looks for)
ADMIN_PERMISSIONS = ("modify_all_data", "view_all_data", "manage_users", "customize_application", "author_apex")
SCORE_SOURCE = "Health Check"

# group, setting, org value, recommended value, risk: a clean baseline (two low risks)
BASELINE = (
    ("Password Policies", "Minimum password length", "10", "8", "meets"),
    ("Password Policies", "Password complexity requirement", "Must include alpha, numeric and special characters",
     "Must include alpha and numeric characters", "meets"),
    ("Password Policies", "User passwords expire in", "90 days", "90 days", "meets"),
    ("Password Policies", "Enforce password history", "5 passwords remembered", "3 passwords remembered", "meets"),
    ("Password Policies", "Maximum invalid login attempts", "5", "5", "meets"),
    ("Password Policies", "Lockout effective period", "30 minutes", "30 minutes", "meets"),
    ("Password Policies", "Obscure secret answer for password resets", "Disabled", "Enabled", "low"),
    ("Session Settings", "Timeout value", "2 hours", "2 hours", "meets"),
    ("Session Settings", "Force logout on session timeout", "Enabled", "Enabled", "meets"),
    ("Session Settings", "Require HttpOnly attribute", "Enabled", "Enabled", "meets"),
    ("Session Settings", "Lock sessions to the IP address from which they originated", "Disabled", "Enabled", "low"),
    ("Session Settings", "Enable clickjack protection for Setup pages", "Enabled", "Enabled", "meets"),
    ("Session Settings", "Require secure connections (HTTPS)", "Enabled", "Enabled", "meets"),
    ("Certificate and Key Management", "Expired certificates", "0", "0", "meets"),
    ("Guest access", "Secure guest user record access", "Enabled", "Enabled", "meets"),
    ("Guest access", "API Enabled on guest user profiles", "Disabled", "Disabled", "meets"),
)
# points a setting of each risk costs the baseline's 0-100 score
RISK_COST = {"high": 10.0, "medium": 5.0, "low": 1.5, "meets": 0.0}

# name, namespace, version, latest version, installed (days before as_of)
PACKAGES = (
    ("DocuSign eSignature", "dsfs", "7.12", "7.12", 900),
    ("Mailchimp for CRM", "mc4crm", "2.48", "2.50", 1100),
    ("Conga Composer", "APXTConga4", "8.201", "8.201", 640),
    ("Duplicate Blocker", "dupeblock", "3.2", "3.2", 480),
    ("Survey Force", "survey", "1.9", None, 300),
)

# action, section, display template ({} = a name)
SETUP_ACTIONS = (
    ("changedValidationRule", "Validation Rules", "Changed validation rule {} on Opportunity"),
    ("createdCustomField", "Customize Contacts", "Created custom field {} on Contact"),
    ("PermSetAssign", "Manage Users", "Assigned permission set {} to a user"),
    ("changedFlow", "Flows", "Activated a new version of flow {}"),
    ("changedPicklist", "Customize Opportunities", "Changed picklist values of {}"),
    ("changedSharingRule", "Sharing Rules", "Changed sharing rule {}"),
)
SETUP_NAMES = ("Stage Gate", "Region Code", "Renewal Owner", "Lead Routing", "Deal Desk", "Partner Tier")


def security_rng(b: Build):
    return np.random.default_rng([b.seed, 3])


def gen_security(b: Build) -> None:
    """Add the security columns and tables to a built tenant (base data, clean)."""
    rng = security_rng(b)
    b.flush()
    add_user_columns(b)
    add_login_columns(b)
    gen_permissions(b)
    gen_security_settings(b)
    gen_oauth_grants(b, rng)
    gen_audit_trail(b, rng)
    gen_packages(b)


def _humans(u: Frame) -> np.ndarray:
    return ~np.isin(u["role"], np.array(["integration", "guest"], dtype=object))


def add_user_columns(b: Build) -> None:
    """profile, is_frozen, api_only, license; and the guest user of the partner portal."""
    u = b.frames["users"]
    n = len(u)
    integ = u["role"] == "integration"
    profile = np.where(u["is_admin"], ADMIN_PROFILE,
                       np.where(integ, INTEGRATION_PROFILE,
                                np.where(u["role"] == "marketing", "Marketing User", "Standard User"))).astype(object)
    u["profile"] = profile
    u["is_frozen"] = np.zeros(n, dtype=bool)
    u["api_only"] = integ.copy()
    u["license"] = np.where(integ, "Salesforce Integration", "Salesforce").astype(object)
    gid = b.new_ids(1)
    created = b.T - 800 * DAY
    u.extend(Frame({
        "id": gid, "name": obj([GUEST_NAME]), "email": obj([f"guest@site.{b.tenant_domain}"]),
        "role": obj(["guest"]), "is_active": np.ones(1, dtype=bool), "is_admin": np.zeros(1, dtype=bool),
        "last_login_at": np.full(1, NULL_TS, dtype=np.int64), "created_at": np.array([created], dtype=np.int64),
        "mfa_enabled": np.zeros(1, dtype=bool), "_departed_at": np.full(1, NULL_TS, dtype=np.int64),
        "profile": obj([GUEST_PROFILE]), "is_frozen": np.zeros(1, dtype=bool), "api_only": np.zeros(1, dtype=bool),
        "license": obj(["Guest User License"]),
    }))
    b.guest_id = int(gid[0])


def add_login_columns(b: Build) -> None:
    """api_type and api_version for API logins (the platform's latest version), login_type."""
    ev = b.frames["login_events"]
    app = ev["application"]
    api = app == "API"
    latest = b.frames["platform"]["api_version_latest"][0]
    ev["api_type"] = np.where(api, "REST", None).astype(object)
    ev["api_version"] = np.where(api, latest, None).astype(object)
    ev["login_type"] = np.where(app == "Web", "Application", "Remote Access 2.0").astype(object)


def add_rows(b: Build, table: str, cols: dict) -> np.ndarray:
    """Append rows (new ids) to ``table``, creating it; returns the new ids."""
    n = len(next(iter(cols.values())))
    ids = b.new_ids(n)
    fr = Frame({"id": ids, **cols})
    if table in b.frames:
        b.frames[table].extend(fr)
    else:
        b.frames[table] = fr
    return ids


def grant(b: Build, user_ids, permission: str, via: str, via_name: str) -> np.ndarray:
    k = len(user_ids)
    return add_rows(b, "permissions", {
        "user_id": np.asarray(user_ids, dtype=np.int64), "permission": obj([permission] * k),
        "via": obj([via] * k), "via_name": obj([via_name] * k),
    })


def gen_permissions(b: Build) -> None:
    u = b.frames["users"]
    b.frames["permissions"] = Frame({"id": np.zeros(0, dtype=np.int64), "user_id": np.zeros(0, dtype=np.int64),
                                     "permission": obj([]), "via": obj([]), "via_name": obj([])})
    admins = u["id"][u["is_admin"]]
    for perm in ADMIN_PERMISSIONS + ("api_enabled",):
        grant(b, admins, perm, "profile", ADMIN_PROFILE)
    integ = u["id"][(u["role"] == "integration") & ~u["is_admin"]]
    grant(b, integ, "api_enabled", "profile", INTEGRATION_PROFILE)
    managers = u["id"][(u["role"] == "sales_manager") & u["is_active"]]
    grant(b, managers, "export_data", "permission_set", "Report Export")
    # a user who left still holds a powerful permission set: not a risk while inactive
    gone = u["id"][~u["is_active"] & _humans(u)]
    if len(gone):
        grant(b, gone[:1], "view_all_data", "permission_set", "Sales Operations")
    grant(b, [b.guest_id], "read:knowledge", "profile", GUEST_PROFILE)


def gen_security_settings(b: Build) -> None:
    cols = list(zip(*BASELINE))
    n = len(BASELINE)
    add_rows(b, "security_settings", {
        "group": obj(list(cols[0])), "setting": obj(list(cols[1])), "org_value": obj(list(cols[2])),
        "recommended_value": obj(list(cols[3])), "risk": obj(list(cols[4])), "source": obj([SCORE_SOURCE] * n),
    })
    update_security_score(b)


def update_security_score(b: Build) -> None:
    """The platform's score: 100 less what each setting's risk costs."""
    risks = b.frames["security_settings"]["risk"].tolist()
    p = b.frames["platform"]
    p["security_score"] = np.array([round(max(0.0, 100.0 - sum(RISK_COST[r] for r in risks)), 1)])
    p["security_score_source"] = obj([SCORE_SOURCE])


def gen_oauth_grants(b: Build, rng) -> None:
    u = b.frames["users"]
    integ_rows = np.nonzero(u["role"] == "integration")[0]
    apps, users, created, used, count, scope, url = [], [], [], [], [], [], []

    def add(app, uid, c, last, n, sc, link):
        apps.append(app)
        users.append(int(uid))
        created.append(int(c))
        used.append(int(last))
        count.append(int(n))
        scope.append(sc)
        url.append(link)

    for r in integ_rows.tolist():
        slug = u["email"][r].split("@")[0]
        add(u["name"][r].replace(" Integration", "").replace(" API", ""), u["id"][r], u["created_at"][r],
            b.T - int(rng.integers(600, 6 * 3600)), 300 + int(rng.integers(0, 5000)), "api refresh_token",
            f"https://{slug}.connect.example.net/oauth/callback")
    humans = np.nonzero(u["is_active"] & _humans(u))[0]
    mobile = humans[rng.random(len(humans)) < 0.35]
    outlook = humans[rng.random(len(humans)) < 0.2]
    for app, rows, link in (("Mobile App", mobile, None),
                            ("Outlook Integration", outlook, "https://outlook.office.com/crm/oauth/callback")):
        for r in rows.tolist():
            c = max(int(u["created_at"][r]), b.T - int(rng.integers(30, 700)) * DAY)
            add(app, u["id"][r], c, b.T - int(rng.integers(1, 20 * DAY)), 20 + int(rng.integers(0, 900)),
                "api refresh_token", link)
    admins = u["id"][u["is_admin"] & u["is_active"]]
    add("Webhook: deal updates", admins[0] if len(admins) else u["id"][humans[0]], b.T - 500 * DAY,
        b.T - int(rng.integers(600, DAY)), 4000 + int(rng.integers(0, 3000)), "webhook",
        f"https://hooks.{b.tenant_domain}/crm/deals")
    add_rows(b, "oauth_grants", {
        "app": obj(apps), "user_id": np.array(users, dtype=np.int64), "created_at": np.array(created, dtype=np.int64),
        "last_used_at": np.array(used, dtype=np.int64), "use_count": np.array(count, dtype=np.int64),
        "scope": obj(scope), "url": obj(url),
    })


def setup_changes(b: Build, rng, user_ids, times) -> np.ndarray:
    """Audit-trail rows: ``user_ids[i]`` changed the setup at ``times[i]``."""
    k = len(user_ids)
    pick = rng.integers(0, len(SETUP_ACTIONS), size=k)
    names = rng.integers(0, len(SETUP_NAMES), size=k)
    return add_rows(b, "audit_trail", {
        "user_id": np.asarray(user_ids, dtype=np.int64),
        "action": obj([SETUP_ACTIONS[i][0] for i in pick.tolist()]),
        "section": obj([SETUP_ACTIONS[i][1] for i in pick.tolist()]),
        "display": obj([SETUP_ACTIONS[i][2].format(SETUP_NAMES[j]) for i, j in zip(pick.tolist(), names.tolist())]),
        "created_at": np.asarray(times, dtype=np.int64),
    })


def gen_audit_trail(b: Build, rng) -> None:
    u = b.frames["users"]
    admins = u["id"][u["is_admin"] & u["is_active"] & _humans(u)]
    if not len(admins):
        admins = u["id"][u["is_admin"]]
    n = max(12, min(400, len(u) * 2))
    who = admins[rng.integers(0, len(admins), size=n)]
    when = np.sort(b.T - rng.integers(1, 700, size=n) * DAY - rng.integers(0, DAY, size=n))
    setup_changes(b, rng, who, when)
    # a change made long before the audit year by someone who is no longer an admin
    others = u["id"][u["is_active"] & ~u["is_admin"] & _humans(u)]
    setup_changes(b, rng, others[:1], [b.T - 500 * DAY])


def gen_packages(b: Build) -> None:
    cols = list(zip(*PACKAGES))
    n = len(PACKAGES)
    add_rows(b, "packages", {
        "name": obj(list(cols[0])), "namespace": obj(list(cols[1])), "version": obj(list(cols[2])),
        "installed_at": np.array([b.T - d * DAY for d in cols[4]], dtype=np.int64),
        "state": obj(["installed"] * n), "latest_version": obj(list(cols[3])),
    })


__all__ = ["gen_security", "grant", "add_rows", "setup_changes", "update_security_score", "NULL_ID"]
