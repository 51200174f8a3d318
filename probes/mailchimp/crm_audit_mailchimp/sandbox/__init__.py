"""A local emulator of Mailchimp's Marketing API 3.0, serving what a canonical tenant implies
about the other side of its Mailchimp sync over real HTTP (read by Mailchimp's official
client unchanged): :mod:`.account` builds the account (audience, campaign reports, survey
reports) from the tenant, :mod:`.app` is the HTTP side on the kit's ``SandboxApp``."""

from .account import MailchimpAccount, split_by_status
from .app import MailchimpSandbox, start_sandbox

__all__ = ["MailchimpAccount", "MailchimpSandbox", "split_by_status", "start_sandbox"]
