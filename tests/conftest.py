"""Core test fixtures: small hand-written canonical folders (the generator has its own tests)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

USERS = """\
id,name,email,role,is_active,is_admin,last_login_at,created_at,mfa_enabled
1,Budi Santoso,budi@contoh.co.id,sales,true,false,2026-11-20T10:00:00Z,2024-01-01,true
2,김민준,minjun@example.kr,sales,true,false,,2024-01-01,false
3,"=HYPERLINK(""http://evil"")",x@example.com,admin,true,true,2025-01-01T00:00:00Z,2024-01-01,true
4,Sync Bot,bot@example.com,integration,true,true,2026-11-23T00:00:00Z,2024-01-01,
"""

CONTACTS = """\
id,first_name,last_name,email,phone,company_name,lifecycle_stage,segments,created_at,updated_at,fav_color
10,Siti,Rahayu,siti@contoh.co.id,+62 812-3456-7890,PT Maju Jaya Tbk,customer,newsletter;vip,2025-05-01,2026-10-01T08:00:00+07:00,blue
11,지우,이,,,주식회사 한빛,lead,,2025-05-01,2026-10-01,
12,<script>alert(1)</script>,Smith,,,"@SUM(1+1)*cmd|' /C calc'!A0",,,2025-05-01,2026-10-01,red
13,José,Álvarez,jose@example.es,,,customer,vip,2025-05-01,2026-10-01,
"""


def write_folder(folder: Path, **tables: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


@pytest.fixture
def folder_writer():
    """``folder_writer(path, users=CSV_TEXT, ...)`` writes <table>.csv files."""
    return write_folder


@pytest.fixture
def sample_tables():
    return {"users": USERS, "contacts": CONTACTS}


@pytest.fixture
def small_folder(tmp_path) -> Path:
    return write_folder(tmp_path / "tenant", users=USERS, contacts=CONTACTS)


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """Run CLI commands in a temp cwd so audits land there."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")


def launch_chromium(*extra_args: str):
    """Debian's headless Chromium through Playwright, as a context manager yielding the
    browser; skips the test when Chromium is not installed (fails instead when
    CRM_AUDIT_REQUIRE_BROWSER is set, as .ci/run does)."""
    import os
    import shutil
    from contextlib import contextmanager

    @contextmanager
    def launched():
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            if os.environ.get("CRM_AUDIT_REQUIRE_BROWSER"):
                pytest.fail("chromium is required (CRM_AUDIT_REQUIRE_BROWSER is set) but not installed")
            pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
        playwright = pytest.importorskip("playwright.sync_api")
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, headless=True, args=[*CHROMIUM_ARGS, *extra_args])
            yield browser

    return launched()


@pytest.fixture(scope="session")
def chromium():
    """:func:`launch_chromium`, for the browser tests' own ``browser`` fixtures."""
    return launch_chromium
