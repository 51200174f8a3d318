"""Standard checks: duplicates (see docs/checks/)."""

CHECKS = ()
