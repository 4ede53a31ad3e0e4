"""A real master with real workers per test module, and Debian's Chromium to look at it."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from browser import Watch, launch, logged_in
from corral.master.tokens import admin_token_path
from master_process import MasterProcess


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterProcess]:
    """One master for the module, with fast heartbeats."""
    m = MasterProcess(tmp_path_factory.mktemp("dashboard") / "data")
    try:
        yield m.start()
    finally:
        m.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Chromium for the module."""
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def admin_token(master: MasterProcess) -> str:
    """The token the master left in its data folder."""
    return admin_token_path(master.data_dir).read_text().strip()


@pytest.fixture
def watched(master: MasterProcess, browser: Browser) -> Iterator[tuple[Page, Watch]]:
    """A logged-in page; the test checks what its watch recorded."""
    with logged_in(browser, master.url, admin_token(master)) as (page, watch):
        yield page, watch


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/ when CORRAL_SCREENSHOTS names it, else a throwaway folder."""
    wanted = os.environ.get("CORRAL_SCREENSHOTS")
    return Path(wanted) if wanted else tmp_path
