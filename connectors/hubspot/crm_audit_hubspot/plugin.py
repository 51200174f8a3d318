"""Registers the Hubspot connector with crm-audit (entry point group crm_audit)."""

# Skeleton: the connector arrives with its own issue. Nothing is registered yet, so
# configuring connector = "hubspot" fails with a clear "unknown connector" error.
