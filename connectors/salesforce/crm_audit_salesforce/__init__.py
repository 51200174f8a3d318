"""crm-audit connector for Salesforce."""

__version__ = "0.1.0"
