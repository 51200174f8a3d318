"""pytest set-up for every test folder of the repository: tests write only to temporary folders.

Hypothesis keeps its example database and caches in ``./.hypothesis`` unless told
otherwise; here they go to the system's temporary folder, so ``make test`` leaves the
working tree as it found it.
"""

import tempfile
from pathlib import Path

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "crm-audit-hypothesis")

import os

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # pytest-xdist's workers inherit COLUMNS=80/LINES=24 from execnet; the CLI's console
    # would wrap its tables at 80 columns there and nowhere else. Tests that need a width
    # set COLUMNS themselves.
    for _name in ("COLUMNS", "LINES"):
        os.environ.pop(_name, None)


@pytest.fixture(autouse=True)
def _forget_remembered_secrets():
    """Secret values a test's connector remembered (crm_audit_core.secrets) are forgotten
    after it, so one test's token ("wrong") is not redacted from another test's text."""
    from crm_audit_core import secrets

    before = set(secrets._known)
    yield
    secrets._known.intersection_update(before)
