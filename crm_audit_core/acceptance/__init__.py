"""The connector acceptance suite, shipped in the test kit (``crm_audit_core.testing``).

:class:`ConnectorAcceptance` is a test class a connector plugin subclasses with one
fixture naming its connector (:class:`ConnectorUnderTest`); see :mod:`.suite` for what it
checks and :mod:`.faults` for the fault matrix of docs/reliability.md.
"""

from .suite import ConnectorAcceptance
from .target import ConnectorUnderTest, default_changes, normalize_value

__all__ = ["ConnectorAcceptance", "ConnectorUnderTest", "default_changes", "normalize_value"]
