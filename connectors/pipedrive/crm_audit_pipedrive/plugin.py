"""Registers the Pipedrive connector with crm-audit (entry point group crm_audit)."""

# Skeleton: the connector arrives with its own issue. Nothing is registered yet, so
# configuring connector = "pipedrive" fails with a clear "unknown connector" error.
