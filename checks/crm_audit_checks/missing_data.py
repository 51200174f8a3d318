"""Standard checks: missing data (Part 2, step 4: "a prospect without contact details is useless")."""

from crm_audit_core import check


@check(
    id="data.unreachable-contacts",
    title="Contacts with neither email nor phone",
    step="missing-data",
    area="data",
    severity="medium",
    needs={"contacts": ["id", "email", "phone"]},
    description="A prospect without contact details is useless: nobody can reach them.",
    remediation="Find an email or phone for each contact listed (enrichment, the owner's notes), or delete the record.",
)
def unreachable_contacts(ctx):
    ids = ctx.ids(
        "SELECT id FROM contacts WHERE coalesce(trim(email), '') = '' AND coalesce(trim(phone), '') = ''"
    )
    total = ctx.count("contacts")
    return ctx.result(ids=ids, population=total, message=f"{len(ids)} of {total} contacts have neither email nor phone")


CHECKS = (unreachable_contacts,)
