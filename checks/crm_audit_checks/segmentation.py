"""Standard checks: segmentation (see docs/checks/)."""

CHECKS = ()
