"""Standard checks: safety and security (Part 1, step 6).

Access control: who is an admin, users who left but still own work, users who never log
in, risky logins (failure bursts, many addresses) and over-broad integration users.
"Active human users" are active users whose role is not ``integration`` or ``guest`` (the
public site user a CRM such as Salesforce gives its web forms and portals: not a person).
"""

from __future__ import annotations

from crm_audit_core import Message, Percent, check

from .i18n import _, ngettext

HUMAN = "is_active AND coalesce(lower(role), '') NOT IN ('integration', 'guest')"
NOT_GUEST = "coalesce(lower(role), '') <> 'guest'"
FAILURE = "lower(status) IN ('failure', 'failed', 'fail', 'error')"
SUCCESS = "lower(status) IN ('success', 'succeeded', 'ok')"


@check(
    id="security.too-many-admins",
    title="Too many administrators",
    step="security",
    area="security",
    severity="high",
    needs={"users": ["id", "is_active", "is_admin", "role"]},
    settings={"max_share": 0.1},
    settings_help={"max_share": "fails when active admins are more than this share (0-1) of active human users"},
    description=(
        "Every admin can change the CRM's setup, export all data and grant access. When more than a tenth of "
        "the team are admins, access is not being controlled."
    ),
    remediation=(
        "Keep two or three named admins; give everyone else a standard profile or role with the permissions "
        "their job needs, and review admin rights every quarter."
    ),
)
def too_many_admins(ctx):
    max_share = float(ctx.settings["max_share"])
    admins = ctx.ids("SELECT id FROM users WHERE is_active AND is_admin")
    total = ctx.count("users", HUMAN)
    share = len(admins) / total if total else 0.0
    failed = share > max_share
    metrics = {"active_admins": len(admins), "active_human_users": total, "admin_share": round(share, 4),
               "max_share": max_share}
    return ctx.result(ids=admins if failed else [], population=total, metrics=metrics,
                      details=dict.fromkeys(admins, _("active admin")) if failed else {},
                      message=ngettext("{n} active admin for {total} active users ({share}; at most {max_share} "
                                       "recommended)",
                                       "{n} active admins for {total} active users ({share}; at most {max_share} "
                                       "recommended)",
                                       len(admins), total=total, share=Percent(share, 0),
                                       max_share=Percent(max_share, 0)))


@check(
    id="security.dormant-users",
    title="Active users who never log in",
    step="security",
    area="security",
    severity="high",
    needs={"users": ["id", "is_active", "last_login_at", "role"]},
    settings={"days": 90},
    settings_help={"days": "an active user is dormant after this many days without a login"},
    description="Active accounts that nobody uses are an open door and a wasted licence.",
    remediation="Deactivate the users listed (reassign their records first), or confirm with their manager that they still need access.",
)
def dormant_users(ctx):
    days = ctx.settings["days"]
    # Where the CRM says which licence a user holds (Salesforce) and whether the user is
    # frozen, the finding says what each dormant account costs and how it is already held.
    licence = "license" if ctx.supplied("users", "license") else "NULL"
    frozen = "is_frozen" if ctx.supplied("users", "is_frozen") else "NULL"
    rows = ctx.rows(
        f"SELECT id, last_login_at, {licence} AS licence, {frozen} AS frozen FROM users WHERE {HUMAN} "
        "AND (last_login_at IS NULL OR last_login_at < $as_of - to_days($days))",
        days=days,
    )
    ids = sorted(str(r["id"]) for r in rows)
    details, licences = {}, {}
    for r in rows:
        if r["last_login_at"] is None:
            parts = [_("never logged in")]
        else:
            parts = [_("last login {date}", date=r["last_login_at"])]
        if r["licence"]:
            parts.append(_("holds a {licence} licence", licence=str(r["licence"])))
            licences[str(r["licence"])] = licences.get(str(r["licence"]), 0) + 1
        if r["frozen"]:
            parts.append(_("frozen (still active: the licence stays assigned)"))
        details[str(r["id"])] = parts[0] if len(parts) == 1 else Message.join(parts, "; ")
    total = ctx.count("users", HUMAN)
    if licences:
        # TRANSLATORS: a licence type and how many dormant users hold one ("2 Salesforce"), listed in a message
        held = [_("{n} {licence}", n=n, licence=name) for name, n in sorted(licences.items())]
        message = ngettext("{n} of {total} active users has not logged in for {days} days (licences held: "
                           "{licences})",
                           "{n} of {total} active users have not logged in for {days} days (licences held: "
                           "{licences})",
                           len(ids), total=total, days=days, licences=held)
    else:
        message = ngettext("{n} of {total} active users has not logged in for {days} days",
                           "{n} of {total} active users have not logged in for {days} days",
                           len(ids), total=total, days=days)
    metrics = {"licences_held_by_dormant_users": licences} if licence != "NULL" else {}
    return ctx.result(ids=ids, population=total, details=details, metrics=metrics, message=message)


def _owned_work(deals: int, tasks: int):
    """What a deactivated user still owns, each count with its own plural."""
    if not tasks:
        return ngettext("inactive user owns {n} open deal", "inactive user owns {n} open deals", deals)
    if not deals:
        return ngettext("inactive user owns {n} open task", "inactive user owns {n} open tasks", tasks)
    if deals == 1:
        return ngettext("inactive user owns 1 open deal and {n} open task",
                        "inactive user owns 1 open deal and {n} open tasks", tasks)
    return ngettext("inactive user owns {deals} open deals and {n} open task",
                    "inactive user owns {deals} open deals and {n} open tasks", tasks, deals=deals)


@check(
    id="security.departed-users-owning-work",
    title="Deactivated users who still own open deals or tasks",
    step="security",
    area="security",
    severity="medium",
    needs={"users": ["id", "is_active"], "deals": ["id", "owner_id", "is_closed"]},
    description=(
        "People who left still own open deals or tasks: nobody follows them up, and their access may not "
        "have been fully removed (API tokens, shared logins)."
    ),
    remediation=(
        "Reassign the open deals and tasks of the users listed (mass transfer), and confirm their access, "
        "tokens and integrations are revoked."
    ),
)
def departed_users_owning_work(ctx):
    tasks = "SELECT NULL AS owner_id, 0 AS n WHERE FALSE"
    if all(ctx.supplied("activities", c) for c in ("owner_id", "type", "is_done")):
        done = "coalesce(is_done, completed_at IS NOT NULL)" if ctx.supplied("activities", "completed_at") else "coalesce(is_done, FALSE)"
        tasks = f"SELECT owner_id, count(*) AS n FROM activities WHERE lower(type) = 'task' AND NOT {done} GROUP BY 1"
    rows = ctx.rows(
        "WITH d AS (SELECT owner_id, count(*) AS n FROM deals WHERE is_closed IS NOT TRUE GROUP BY 1), "
        f"t AS ({tasks}) "
        "SELECT u.id, coalesce(d.n, 0) AS deals, coalesce(t.n, 0) AS tasks FROM users u "
        "LEFT JOIN d ON d.owner_id = u.id LEFT JOIN t ON t.owner_id = u.id "
        "WHERE u.is_active IS FALSE AND (d.n > 0 OR t.n > 0)"
    )
    ids = sorted(str(r["id"]) for r in rows)
    details = {str(r["id"]): _owned_work(int(r["deals"]), int(r["tasks"])) for r in rows}
    total = ctx.count("users", "is_active IS FALSE")
    return ctx.result(ids=ids, population=total, details=details,
                      metrics={"open_deals_owned": sum(int(r["deals"]) for r in rows),
                               "open_tasks_owned": sum(int(r["tasks"]) for r in rows)},
                      message=ngettext("{n} of {total} deactivated users still owns open deals or tasks",
                                       "{n} of {total} deactivated users still own open deals or tasks",
                                       len(ids), total=total))


@check(
    id="security.users-without-mfa",
    title="Active users without multi-factor authentication",
    step="security",
    area="security",
    severity="high",
    needs={"users": ["id", "is_active", "mfa_enabled"]},
    description="A password alone is the weakest lock on the customer data: every active user needs MFA.",
    remediation="Require MFA for every user in the CRM's security settings (or through the company's single sign-on).",
)
def users_without_mfa(ctx):
    ids = ctx.ids(f"SELECT id FROM users WHERE is_active AND mfa_enabled IS FALSE AND {NOT_GUEST}")
    total = ctx.count("users", f"is_active AND {NOT_GUEST}")
    return ctx.result(ids=ids, population=total, details=dict.fromkeys(ids, _("MFA not enabled")),
                      message=ngettext("{n} of {total} active users has no MFA",
                                       "{n} of {total} active users have no MFA", len(ids), total=total))


@check(
    id="security.failed-login-bursts",
    title="Bursts of failed logins",
    step="security",
    area="security",
    severity="high",
    needs={"login_events": ["user_id", "at", "status"]},
    settings={"failures": 5, "minutes": 60, "days": 30},
    settings_help={
        "failures": "a burst is at least this many failed logins of one user...",
        "minutes": "...within this many minutes",
        "days": "bursts are looked for in this many days before the audit date",
    },
    description="Many failed logins in a short time are a password being guessed, or a stolen one being tried.",
    remediation=(
        "Check the login history of the users listed with them; reset their password, enforce MFA, and "
        "restrict logins to known IP ranges where the CRM allows it."
    ),
)
def failed_login_bursts(ctx):
    s = ctx.settings
    rows = ctx.rows(
        "WITH f AS (SELECT user_id, \"at\" FROM login_events WHERE " + FAILURE + " AND \"at\" >= $as_of - to_days($days) "
        "           AND \"at\" < $as_of AND user_id IS NOT NULL), "
        "w AS (SELECT user_id, \"at\", count(*) OVER (PARTITION BY user_id ORDER BY \"at\" "
        "      RANGE BETWEEN CURRENT ROW AND to_minutes(CAST($minutes AS BIGINT)) FOLLOWING) AS n FROM f) "
        "SELECT user_id, max(n) AS worst, arg_max(\"at\", n) AS first_at FROM w GROUP BY 1 HAVING max(n) >= $failures",
        days=s["days"], minutes=s["minutes"], failures=s["failures"],
    )
    ids = sorted(str(r["user_id"]) for r in rows)
    details = {str(r["user_id"]): _("{failures} failed logins within {minutes} minutes from {start}",
                                    failures=int(r["worst"]), minutes=s["minutes"],
                                    start=r["first_at"].strftime("%Y-%m-%d %H:%M"))
               for r in rows}
    total = int(ctx.scalar("SELECT count(DISTINCT user_id) FROM login_events WHERE \"at\" >= $as_of - to_days($days)",
                           days=s["days"]) or 0)
    return ctx.result(ids=ids, object="users", population=total, details=details,
                      message=ngettext("{n} user had {failures}+ failed logins within {minutes} minutes",
                                       "{n} users had {failures}+ failed logins within {minutes} minutes",
                                       len(ids), failures=s["failures"], minutes=s["minutes"]))


@check(
    id="security.logins-from-many-ips",
    title="Users logging in from many addresses",
    step="security",
    area="security",
    severity="medium",
    needs={"login_events": ["user_id", "at", "status", "ip"]},
    settings={"ips": 5, "days": 30},
    settings_help={"ips": "flags users with successful logins from at least this many distinct IP addresses",
                   "days": "...within this many days"},
    description="One account used from many places is a shared login or a stolen one.",
    remediation=(
        "Ask the users listed whether they share their login; give each person their own account, enforce "
        "MFA and restrict login IP ranges."
    ),
)
def logins_from_many_ips(ctx):
    s = ctx.settings
    rows = ctx.rows(
        "SELECT user_id, count(DISTINCT ip) AS n FROM login_events WHERE " + SUCCESS + " AND ip IS NOT NULL "
        "AND \"at\" >= $as_of - to_days($days) AND \"at\" < $as_of AND user_id IS NOT NULL "
        "GROUP BY 1 HAVING count(DISTINCT ip) >= $ips",
        days=s["days"], ips=s["ips"],
    )
    ids = sorted(str(r["user_id"]) for r in rows)
    details = {str(r["user_id"]): ngettext("logged in from {n} IP address in {days} days",
                                           "logged in from {n} IP addresses in {days} days", int(r["n"]),
                                           days=s["days"]) for r in rows}
    total = int(ctx.scalar(f"SELECT count(DISTINCT user_id) FROM login_events WHERE {SUCCESS} "
                           "AND \"at\" >= $as_of - to_days($days)", days=s["days"]) or 0)
    return ctx.result(ids=ids, object="users", population=total, details=details,
                      message=ngettext("{n} user logged in from {ips}+ IP addresses in {days} days",
                                       "{n} users logged in from {ips}+ IP addresses in {days} days",
                                       len(ids), ips=s["ips"], days=s["days"]))


@check(
    id="security.integration-users-with-admin",
    title="Integration users with admin rights",
    step="security",
    area="security",
    severity="high",
    needs={"users": ["id", "role", "is_admin"]},
    description=(
        "An integration's API user with admin rights gives every system it connects full control of the CRM; "
        "a leaked token is then a full breach."
    ),
    remediation=(
        "Give each integration user a dedicated profile with only the objects and permissions its sync needs; "
        "rotate its token after the change."
    ),
)
def integration_users_with_admin(ctx):
    ids = ctx.ids("SELECT id FROM users WHERE lower(role) = 'integration' AND is_admin")
    total = ctx.count("users", "lower(role) = 'integration'")
    return ctx.result(ids=ids, population=total, details=dict.fromkeys(ids, _("integration user with admin rights")),
                      message=ngettext("{n} of {total} integration users is an admin",
                                       "{n} of {total} integration users are admins", len(ids), total=total))


CHECKS = (too_many_admins, dormant_users, departed_users_owning_work, users_without_mfa, failed_login_bursts,
          logins_from_many_ips, integration_users_with_admin)
