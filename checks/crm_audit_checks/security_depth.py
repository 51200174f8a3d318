"""Standard checks: safety and security in depth (Part 1, step 6; issue 16).

What the CRM vendors themselves expose about security, read through the canonical
tables ``security_settings`` (the vendor's own baseline, e.g. Salesforce Health Check),
``permissions`` (who holds which powerful permission, and through what),
``oauth_grants`` (apps holding access on a user's behalf) and ``audit_trail`` (setup
changes). Checks that need what only some CRMs give declare it in ``vendors``; on other
tenants they are "not applicable". References name the Security Benchmark for
Salesforce (SBS, https://docs.securitybenchmark.org) control each check follows.
"""

from __future__ import annotations

from datetime import timedelta

from crm_audit_core import Message, check

from .i18n import _, ngettext

SBS = "https://docs.securitybenchmark.org/benchmark"
# Permissions that let a user read or change everything, or manage who may (model.py).
POWERFUL = ["modify_all_data", "view_all_data", "manage_users", "author_apex", "customize_application",
            "super_admin", "admin", "manage_permissions"]
GUEST = "coalesce(lower(u.role), '') = 'guest'"


def _via(row) -> Message | str:
    """What grants a permission, as a noun phrase ("permission set 'Sales Ops'")."""
    kind, name = str(row["via"] or "").strip().lower(), row["via_name"]
    if kind == "profile":
        return _("profile '{name}'", name=name) if name else _("profile")
    if kind == "permission_set":
        return _("permission set '{name}'", name=name) if name else _("permission set")
    if kind == "permission_set_group":
        return _("permission set group '{name}'", name=name) if name else _("permission set group")
    if kind == "role":
        return _("role '{name}'", name=name) if name else _("role")
    if kind == "user":
        # TRANSLATORS: the permission is set on the user itself ("holds X through user")
        return _("user '{name}'", name=name) if name else _("user")
    if kind:  # a value outside the vocabulary (data.unrecognised-values lists it): shown as it is
        return f"{kind.replace('_', ' ')} '{name}'" if name else kind.replace("_", " ")
    return _("a grant '{name}'", name=name) if name else _("a grant")


@check(
    id="security.health-check-score",
    title="The vendor's security baseline has high- and medium-risk settings",
    step="security",
    area="security",
    severity="high",
    needs={"security_settings": ["id", "group", "setting", "org_value", "recommended_value", "risk"]},
    vendors=("salesforce",),
    settings={"min_score": 80.0},
    settings_help={"min_score": "the vendor's baseline score (0-100) below which the check fails even without a "
                                "high- or medium-risk setting"},
    description=(
        "The CRM's own security baseline (Salesforce Health Check) compares every security setting with the "
        "vendor's recommended value. High- and medium-risk settings (password policy, session timeout, guest "
        "access, ...) are the first things an attacker uses."
    ),
    remediation=(
        "Open Setup > Health Check, fix each high- and medium-risk setting to the standard value (or record "
        "why your org differs as an exception in a custom baseline), and re-run Health Check."
    ),
    references=(
        "SBS-SECCONF-001: Establish a Salesforce Health Check Baseline",
        "SBS-SECCONF-002: Review and Remediate Salesforce Health Check Deviations",
        f"{SBS}/security-configuration.html",
        "https://developer.salesforce.com/docs/atlas.en-us.api_tooling.meta/api_tooling/"
        "tooling_api_objects_securityhealthcheckrisks.htm",
    ),
)
def health_check_score(ctx):
    min_score = float(ctx.settings["min_score"])
    rows = ctx.rows('SELECT id, "group", setting, org_value, recommended_value, lower(risk) AS risk '
                    "FROM security_settings ORDER BY id")
    risky = [r for r in rows if r["risk"] in ("high", "medium")]
    score, source = None, None
    if ctx.supplied("platform", "security_score"):
        found = ctx.rows("SELECT security_score, security_score_source FROM platform "
                         "WHERE security_score IS NOT NULL LIMIT 1")
        if found:
            score, source = float(found[0]["security_score"]), found[0]["security_score_source"]
    details = {}
    for r in risky:
        values = dict(group=r["group"], setting=r["setting"], value=str(r["org_value"]),
                      standard=str(r["recommended_value"]))
        details[str(r["id"])] = (_("{group}: {setting} is {value}, the standard is {standard} (high risk)", **values)
                                 if r["risk"] == "high" else
                                 _("{group}: {setting} is {value}, the standard is {standard} (medium risk)", **values))
    high = sum(1 for r in risky if r["risk"] == "high")
    low_score = score is not None and score < min_score
    metrics = {"settings": len(rows), "high_risk": high, "medium_risk": len(risky) - high,
               "low_risk": sum(1 for r in rows if r["risk"] == "low"), "score": score, "score_source": source,
               "min_score": min_score}
    message = ngettext("{high} high- and {medium} medium-risk settings of {n} setting in the security baseline",
                       "{high} high- and {medium} medium-risk settings of {n} settings in the security baseline",
                       len(rows), high=high, medium=len(risky) - high)
    if score is not None:
        scored = (_("{source} scores {score} of 100 (at least {min_score} recommended)", source=source, score=score,
                    min_score=min_score) if source else
                  _("the baseline scores {score} of 100 (at least {min_score} recommended)", score=score,
                    min_score=min_score))
        message = Message.join([message, scored], "; ")
    return ctx.result(ids=[str(r["id"]) for r in risky], population=len(rows), details=details, metrics=metrics,
                      failed=bool(risky) or low_score, message=message)


@check(
    id="security.dangerous-permissions",
    title="Users who are not admins hold admin powers",
    step="security",
    area="security",
    severity="critical",
    needs={"permissions": ["user_id", "permission", "via", "via_name"], "users": ["id", "is_active", "is_admin", "role"]},
    object="users",
    settings={"permissions": POWERFUL},
    settings_help={"permissions": "the permissions (canonical names, lower case) that let a user read or change "
                                  "everything or manage users"},
    description=(
        "Modify All Data, View All Data, Manage Users, Author Apex and Customize Application (HubSpot super "
        "admin, Pipedrive admin rights) let a user read or change every record, or give anyone access. "
        "Held by people and integrations who are not the admins the company meant to have, through a "
        "permission set, a set group or a role, they are a silent back door."
    ),
    remediation=(
        "Remove the permission from the user (unassign the permission set or group, or change the role); "
        "where a person or integration truly needs it, make them a named admin and record why."
    ),
    references=(
        "SBS-ACS-004: Documented Justification for All Super Admin-Equivalent Users",
        "SBS-ACS-008: Restrict Broad Privileges for Non-Human Identities",
        f"{SBS}/access-controls.html",
        "https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
        "sforce_api_objects_permissionsetassignment.htm",
        "https://developers.hubspot.com/docs/api/settings/user-provisioning",
        "https://developers.pipedrive.com/docs/api/v1/PermissionSets",
    ),
)
def dangerous_permissions(ctx):
    powers = sorted({str(p).strip().lower() for p in ctx.settings["permissions"] if str(p).strip()})
    rows = ctx.rows(
        "SELECT u.id, p.permission, p.via, p.via_name FROM permissions p JOIN users u ON u.id = p.user_id "
        f"WHERE u.is_active AND u.is_admin IS NOT TRUE AND NOT {GUEST} AND lower(p.permission) IN "
        "(SELECT unnest($powers)) ORDER BY u.id, p.permission, p.via_name",
        powers=powers,
    )
    held: dict[str, list[Message]] = {}
    for r in rows:
        held.setdefault(str(r["id"]), []).append(_("{permission} through {via}", permission=r["permission"],
                                                   via=_via(r)))
    total = ctx.count("users", "is_active AND coalesce(lower(role), '') <> 'guest'")
    holders = ctx.scalar(
        "SELECT count(DISTINCT u.id) FROM permissions p JOIN users u ON u.id = p.user_id "
        f"WHERE u.is_active AND NOT {GUEST} AND lower(p.permission) IN (SELECT unnest($powers))", powers=powers)
    details = {uid: _("holds {permissions}", permissions=Message.join(items, "; ")) for uid, items in held.items()}
    return ctx.result(ids=sorted(held), population=total, details=details,
                      metrics={"active_users_holding_them": int(holders or 0), "not_admins": len(held),
                               "permissions": powers},
                      message=ngettext("{held} of {total} active users hold admin powers without being admins "
                                       "({n} active user holds them in all)",
                                       "{held} of {total} active users hold admin powers without being admins "
                                       "({n} active users hold them in all)",
                                       int(holders or 0), held=len(held), total=total))


@check(
    id="security.connected-app-access",
    title="App access nobody uses, or that reaches too far",
    step="security",
    area="security",
    severity="high",
    needs={"oauth_grants": ["id", "app", "user_id", "created_at", "last_used_at", "scope", "url"]},
    settings={"days": 90, "broad_scopes": ["all users may self-authorize"]},
    settings_help={"days": "a grant unused for this many days (or never used since it was created that long ago) "
                           "is stale",
                   "broad_scopes": "scope texts (lower case) that mean every user may connect the app"},
    description=(
        "OAuth tokens, connected and private apps and webhooks keep access to the CRM after the people and "
        "projects behind them are gone. An app any user may authorize, or a webhook that sends CRM data over "
        "plain HTTP, reaches further than anyone decided."
    ),
    remediation=(
        "Revoke the stale tokens and remove the apps nobody uses (Salesforce: Connected Apps OAuth Usage; "
        "HubSpot: private apps; Pipedrive: webhooks), set connected apps to 'Admin approved users are "
        "pre-authorized' with a profile or permission set, and move webhooks to HTTPS."
    ),
    references=(
        "SBS-OAUTH-001: Require Formal Installation of Connected Apps",
        "SBS-OAUTH-002: Require Profile or Permission Set Access Control for Connected Apps",
        f"{SBS}/oauth-security.html",
        "https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
        "sforce_api_objects_oauthtoken.htm",
        "https://developers.pipedrive.com/docs/api/v1/Webhooks",
    ),
)
def connected_app_access(ctx):
    days = int(ctx.settings["days"])
    broad = sorted({str(s).strip().lower() for s in ctx.settings["broad_scopes"] if str(s).strip()})
    rows = ctx.rows("SELECT id, app, created_at, last_used_at, scope, url FROM oauth_grants ORDER BY id")
    stale_before = ctx.as_of - timedelta(days=days)
    details, kinds = {}, {"stale": 0, "broad": 0, "plain_http": 0}
    for r in rows:
        why = []
        last = r["last_used_at"]
        if last is not None and last < stale_before:
            why.append(_("last used {date}, more than {days} days ago", date=last, days=days))
            kinds["stale"] += 1
        elif last is None and r["created_at"] is not None and r["created_at"] < stale_before:
            why.append(_("never used since it was created on {date}", date=r["created_at"]))
            kinds["stale"] += 1
        if str(r["scope"] or "").strip().lower() in broad:
            why.append(_("scope '{scope}'", scope=r["scope"]))
            kinds["broad"] += 1
        if str(r["url"] or "").strip().lower().startswith("http://"):
            why.append(_("sends to plain-HTTP {url}", url=r["url"]))
            kinds["plain_http"] += 1
        if why:
            # TRANSLATORS: an app's name, then why its access is flagged (the texts above, joined by "; ")
            details[str(r["id"])] = _("{app}: {problems}", app=r["app"], problems=Message.join(why, "; "))
    return ctx.result(ids=sorted(details), population=len(rows), details=details,
                      metrics={**kinds, "grants": len(rows), "days": days},
                      message=ngettext("{flagged} of {n} app grant is stale ({stale}), open to every user ({broad}) "
                                       "or sends over plain HTTP ({plain_http})",
                                       "{flagged} of {n} app grants are stale ({stale}), open to every user ({broad}) "
                                       "or send over plain HTTP ({plain_http})",
                                       len(rows), flagged=len(details), stale=kinds["stale"], broad=kinds["broad"],
                                       plain_http=kinds["plain_http"]))


GUEST_OBJECTS = ["contact", "account", "lead", "opportunity", "case", "contract", "order", "user",
                 "contacts", "companies", "deals", "activities", "users"]


@check(
    id="security.guest-access",
    title="The public guest user can reach CRM data",
    step="security",
    area="security",
    severity="critical",
    needs={"permissions": ["id", "user_id", "permission", "via", "via_name"], "users": ["id", "role"]},
    vendors=("salesforce",),
    settings={"objects": GUEST_OBJECTS},
    settings_help={"objects": "objects (lower case) a guest must not read or change ('<access>:<object>' permissions)"},
    description=(
        "A site's guest user is anyone on the internet, unauthenticated. Object access to contacts, accounts, "
        "leads or opportunities, the API, or an admin power on a guest profile is how most public Salesforce "
        "data leaks happened."
    ),
    remediation=(
        "Remove the object permissions and 'API Enabled' from the guest user's profile, keep 'Secure guest "
        "user record access' on, and give guests only login and registration pages."
    ),
    references=(
        "SBS-CPORTAL-002: Restrict Guest User Record Access",
        f"{SBS}/customer-portals.html",
        "https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
        "sforce_api_objects_objectpermissions.htm",
    ),
)
def guest_access(ctx):
    objects = sorted({str(o).strip().lower() for o in ctx.settings["objects"] if str(o).strip()})
    guests = ctx.count("users u", GUEST)
    if not guests:
        return ctx.result(ids=[], population=0, metrics={"guest_users": 0},
                          message=_("the CRM has no guest user: nothing public to judge"))
    rows = ctx.rows(
        "SELECT p.id, u.name, lower(p.permission) AS permission, p.via, p.via_name FROM permissions p "
        f"JOIN users u ON u.id = p.user_id WHERE {GUEST} ORDER BY p.id")
    powers = set(POWERFUL) | {"api_enabled"}
    details = {}
    for r in rows:
        perm = r["permission"] or ""
        obj = perm.split(":", 1)[1] if ":" in perm else None
        if perm in powers or (obj is not None and obj in objects):
            details[str(r["id"])] = _("guest user {user} holds {permission} through {via}", user=r["name"],
                                      permission=perm, via=_via(r))
    risky_settings = []
    if ctx.supplied("security_settings", "risk"):
        risky_settings = ctx.rows("SELECT setting, org_value FROM security_settings "
                                  "WHERE lower(\"group\") = 'guest access' AND lower(risk) IN ('high', 'medium')")
    message = ngettext("{flagged} of {permissions} permissions held by {n} guest user reach CRM data or the API",
                       "{flagged} of {permissions} permissions held by {n} guest users reach CRM data or the API",
                       guests, flagged=len(details), permissions=len(rows))
    if risky_settings:
        at_risk = _("guest settings at risk: {settings}",
                    settings=[f"{s['setting']} ({s['org_value']})" for s in risky_settings])
        message = Message.join([message, at_risk], "; ")
    return ctx.result(ids=sorted(details), population=len(rows), details=details,
                      failed=bool(details) or bool(risky_settings),
                      metrics={"guest_users": guests, "guest_permissions": len(rows),
                               "guest_settings_at_risk": [s["setting"] for s in risky_settings]},
                      message=message)


@check(
    id="security.admin-changes",
    title="Setup changes by people who are not (or no longer) admins",
    step="security",
    area="security",
    severity="high",
    needs={"audit_trail": ["id", "user_id", "action", "section", "display", "created_at"],
           "users": ["id", "name", "is_active", "is_admin"]},
    vendors=("salesforce", "hubspot"),
    settings={"days": 365},
    settings_help={"days": "setup changes are read for this many days before the audit date"},
    description=(
        "Every change to the CRM's setup should come from a named admin. A change by a user who is not an "
        "admin, or who has left since, means powers leaked or an account was shared; the setup audit trail "
        "shows who changed what."
    ),
    remediation=(
        "Review each change listed with its author (or their manager): undo what was not meant, remove the "
        "setup permissions that allowed it, and route setup changes through the named admins."
    ),
    references=(
        "SBS-ACS-011: Enforce Governance of Access and Authorization Changes",
        "SBS-DEP-003: Monitor and Alert on Unauthorized Modifications to High-Risk Metadata",
        f"{SBS}/access-controls.html",
        "https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
        "sforce_api_objects_setupaudittrail.htm",
        "https://developers.hubspot.com/docs/api/settings/account-activity-api",
    ),
)
def admin_changes(ctx):
    days = int(ctx.settings["days"])
    rows = ctx.rows(
        "SELECT a.id, a.user_id, a.action, a.section, a.display, a.created_at, u.id AS known, u.name, "
        "u.is_active, u.is_admin FROM audit_trail a LEFT JOIN users u ON u.id = a.user_id "
        "WHERE a.created_at >= $as_of - to_days($days) ORDER BY a.created_at", days=days)
    details, by_user = {}, {}
    for r in rows:
        who = r["name"] or r["user_id"] or _("an unknown user")
        by_user[str(who)] = by_user.get(str(who), 0) + 1
        values = dict(date=r["created_at"], change=r["display"] or r["action"], section=r["section"],
                      who=who)
        if r["known"] is None:
            details[str(r["id"])] = _("{date}: {change} ({section}) by {who}, whom the CRM no longer lists", **values)
        elif r["is_active"] is False:
            details[str(r["id"])] = _("{date}: {change} ({section}) by {who}, who is now inactive", **values)
        elif r["is_admin"] is not True:
            details[str(r["id"])] = _("{date}: {change} ({section}) by {who}, who is not an admin", **values)
    top = dict(sorted(by_user.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
    return ctx.result(ids=sorted(details), population=len(rows), details=details,
                      metrics={"changes": len(rows), "changes_by_user": top, "days": days},
                      message=ngettext("{flagged} of {n} setup change in the last {days} days were made by users "
                                       "who are not or no longer admins",
                                       "{flagged} of {n} setup changes in the last {days} days were made by users "
                                       "who are not or no longer admins",
                                       len(rows), flagged=len(details), days=days))


CHECKS = (health_check_score, dangerous_permissions, connected_app_access, guest_access, admin_changes)
