"""Headless Chromium for the dashboard's tests: Debian's binary, nothing downloaded.

A watched page records what a test must never see: console errors, uncaught
exceptions, failed requests, answers of 400 and up, and any request for another
host than the master (aborted, so nothing leaves loopback).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Request,
    Response,
    Route,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Schemes a page may load from without the network.
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})


def launch(playwright: Playwright) -> Browser:
    """Start Debian's Chromium, headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


@dataclass
class Watch:
    """What went wrong on a page while a test used it."""

    origin: str
    errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # answers of 400 and up
    foreign: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        """Listen to the page and route every request through the origin check."""
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.on("dialog", self._dialog)
        page.route("**/*", self._route)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium logs every answer of 400 and up as an error: ``refused`` has those.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _route(self, route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in LOCAL_SCHEMES or f"{url.scheme}://{url.netloc}" == self.origin:
            route.continue_()
        else:
            self.foreign.append(route.request.url)
            route.abort()

    def _request_failed(self, request: Request) -> None:
        # Leaving a page aborts what it still loads (its event streams, its icon): no failure.
        if request.failure == "net::ERR_ABORTED":
            return
        self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.refused.append(f"{response.request.method} {response.url}: {response.status}")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def assert_clean(self, refusals_expected: int = 0) -> None:
        """Fail on anything recorded (but the refusals a test caused on purpose)."""
        assert not self.foreign, f"requests for other hosts: {self.foreign}"
        assert not self.errors, f"console errors: {self.errors}"
        assert not self.failed, f"failed requests: {self.failed}"
        assert not self.dialogs, f"dialogs opened: {self.dialogs}"
        assert len(self.refused) == refusals_expected, f"refused requests: {self.refused}"


@contextmanager
def logged_in(browser: Browser, origin: str, token: str) -> Iterator[tuple[Page, Watch]]:
    """A fresh context logged in with the admin token, on the overview page."""
    context = browser.new_context(base_url=origin)
    page = context.new_page()
    watch = Watch(origin)
    watch.attach(page)
    try:
        page.goto(f"/login?token={token}")
        yield page, watch
    finally:
        context.close()
