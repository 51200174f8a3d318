"""Standard checks: integrations (see docs/checks/)."""

CHECKS = ()
