"""Standard checks: unused-data (see docs/checks/)."""

CHECKS = ()
