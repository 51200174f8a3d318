"""Standard checks: data-policy (see docs/checks/)."""

CHECKS = ()
