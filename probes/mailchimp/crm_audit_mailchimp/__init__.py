"""crm-audit integration probe for Mailchimp: the other side of a CRM's Mailchimp sync."""

__version__ = "0.1.0"
