"""Standard checks: safety and security (Part 1, step 6)."""

from crm_audit_core import check


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
    human = "is_active AND coalesce(role, '') <> 'integration'"
    ids = ctx.ids(
        f"SELECT id FROM users WHERE {human} AND (last_login_at IS NULL OR last_login_at < $as_of - to_days($days))",
        days=days,
    )
    total = ctx.count("users", human)
    return ctx.result(ids=ids, population=total,
                      message=f"{len(ids)} of {total} active users have not logged in for {days} days")


CHECKS = (dormant_users,)
