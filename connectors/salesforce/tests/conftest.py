"""Fixtures for the Salesforce connector tests (helpers live in sf_testkit.py)."""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from sf_testkit import make_tenant  # noqa: E402

from crm_audit_salesforce.sandbox import start_sandbox  # noqa: E402


@pytest.fixture(scope="module")
def tenant():
    return make_tenant()


@pytest.fixture
def sandbox(tenant):
    handle = start_sandbox(tenant)
    yield handle
    handle.stop()
