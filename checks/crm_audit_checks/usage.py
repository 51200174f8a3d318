"""Standard checks: usage (see docs/checks/)."""

CHECKS = ()
