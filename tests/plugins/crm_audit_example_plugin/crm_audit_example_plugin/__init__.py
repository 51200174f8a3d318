"""An outside plugin: flags contacts whose email domain is a free-mail provider."""

from crm_audit_core import check, hookimpl

FREE_MAIL = ("gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "naver.com", "daum.net")


@check(
    id="example.free-mail-contacts",
    title="Contacts on free-mail addresses",
    step="missing-data",
    area="data",
    severity="low",
    needs={"contacts": ["id", "email"]},
    settings={"domains": list(FREE_MAIL)},
    description="B2B contacts on free-mail addresses are hard to tie to a company.",
    remediation="Ask for a work email, or link the contact to its company by hand.",
)
def free_mail_contacts(ctx):
    domains = [d.lower() for d in ctx.settings["domains"]]
    ids = ctx.ids(
        "SELECT id FROM contacts WHERE lower(split_part(email, '@', 2)) IN (SELECT unnest($domains))",
        domains=domains,
    )
    return ctx.result(ids=ids, population=ctx.count("contacts"), message=f"{len(ids)} contacts use a free-mail address")


@hookimpl
def crm_audit_register_checks(register):
    register(free_mail_contacts)
