"""Standard checks: feedback (see docs/checks/)."""

CHECKS = ()
