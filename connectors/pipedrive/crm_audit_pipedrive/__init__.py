"""crm-audit connector for Pipedrive."""

__version__ = "0.1.0"
