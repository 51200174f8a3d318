"""Standard checks: updates (see docs/checks/)."""

CHECKS = ()
