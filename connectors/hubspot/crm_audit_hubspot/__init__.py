"""crm-audit connector for Hubspot."""

__version__ = "0.1.0"
