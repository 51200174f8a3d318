"""Standard checks: value (see docs/checks/)."""

CHECKS = ()
