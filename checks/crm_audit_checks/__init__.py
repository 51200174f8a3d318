"""The standard year-end CRM audit (crm-audit-checks), written only against the public plugin API."""

__version__ = "0.1.0"
