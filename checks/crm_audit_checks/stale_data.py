"""Standard checks: stale-data (see docs/checks/)."""

CHECKS = ()
