"""Standard checks: open-work (see docs/checks/)."""

CHECKS = ()
