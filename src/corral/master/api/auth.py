"""Every route needs a token, loopback included: the admin token, or the dashboard's cookie.

The admin token comes as ``Authorization: Bearer``. A browser logs in once through
``/login`` (the one-time link the master prints at start, or the admin token) and gets
an HttpOnly, SameSite=Strict session cookie; a state-changing request made with that
cookie must come from the master's own origin. The workers' routes check their own
tokens. Failures are logged with the peer's address; a peer that keeps failing gets
429 for a while, though a right token still gets in.
"""

import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.master.api.deps import ACTOR, bearer_of
from corral.master.api.error_answers import error
from corral.master.services import Services
from corral.master.tokens import SESSION_COOKIE
from corral.protocol import AGENT_PREFIX, WORKER_HEADER

log = logging.getLogger("corral.master")
LOGIN_PATH = "/login"
# Where a browser lands once logged in.
AFTER_LOGIN = "/"
# The dashboard's scripts, styles and vendored libraries: public code, no data; the
# login page needs them before anyone has logged in.
STATIC_PREFIX = "/static/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECURITY_SCHEMES: dict[str, Any] = {
    "admin": {"type": "http", "scheme": "bearer", "description": "DATA/admin.token"},
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
    "worker": {
        "type": "http",
        "scheme": "bearer",
        "description": f"the worker's own token, its id in {WORKER_HEADER}",
    },
}
# A peer failing too often within the window is refused until the window moves on.
WINDOW_S = 60.0
MAX_PEERS = 10_000


class FailedLogins:
    """Authentication failures per peer, in a sliding window; bounded in memory."""

    def __init__(self, limit: int, window_s: float = WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._by_peer: OrderedDict[str, deque[float]] = OrderedDict()

    def blocked_for(self, peer: str, now: float) -> float:
        """Seconds until the peer may try again (0 if it may now)."""
        times = self._recent(peer, now)
        if len(times) < self.limit:
            return 0.0
        return max(0.0, times[0] + self.window_s - now)

    def failed(self, peer: str, now: float) -> int:
        """Count a failure; how many the peer has in the window."""
        times = self._recent(peer, now)
        times.append(now)
        self._by_peer[peer] = times
        self._by_peer.move_to_end(peer)
        while len(self._by_peer) > MAX_PEERS:
            self._by_peer.popitem(last=False)
        return len(times)

    def _recent(self, peer: str, now: float) -> deque[float]:
        times = self._by_peer.get(peer, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times


class AuthMiddleware:
    """ASGI middleware: authenticates every HTTP request before anything reads its body."""

    def __init__(
        self,
        app: ASGIApp,
        services: Callable[[], Services],
        failures_per_minute: int,
        login_page: bytes = b"",
    ) -> None:
        self.app = app
        self.services = services
        self.failures = FailedLogins(failures_per_minute)
        self.login_page = login_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let through what is authenticated; answer the rest."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        svc = self.services()
        path: str = scope["path"]
        headers = Headers(scope=scope)
        if path.startswith(AGENT_PREFIX):
            # A worker's own token, whatever the master's setting; each route then checks
            # that the body speaks for that same worker.
            worker = headers.get(WORKER_HEADER, "")
            if svc.tokens.is_worker(worker, bearer_of(headers.get("authorization", ""))):
                await self.app(scope, receive, send)
            else:
                await self._refuse(scope, send, _peer(scope), "missing or wrong worker token")
            return
        if svc.settings.insecure_no_auth:
            await self.app(scope, receive, send)
            return
        peer = _peer(scope)
        if path == LOGIN_PATH:
            await self._login(scope, send, svc, peer)
            return
        if path.startswith(STATIC_PREFIX) and scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        actor = _actor(svc, headers)
        if actor is None and self.login_page and _wants_page(scope, headers):
            # A browser that has not logged in: no token was guessed, nothing is counted.
            await _answer_page(send, 401, self.login_page)
            return
        if actor is None:
            await self._refuse(scope, send, peer, "missing or wrong admin token")
            return
        if actor == "session" and scope["method"] not in SAFE_METHODS and not _same_origin(headers):
            await _answer(send, 403, "cross-origin request refused", code="forbidden")
            return
        scope[ACTOR] = actor
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, send: Send, svc: Services, peer: str) -> None:
        """Trade the one-time login token (or the admin token) for a session cookie."""
        query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
        token = (query.get("token") or [""])[0]
        if not svc.tokens.use_login(token):
            await self._refuse(scope, send, peer, "this login link was used already or is wrong")
            return
        secure = "; Secure" if scope.get("scheme") == "https" else ""
        cookie = f"{SESSION_COOKIE}={svc.tokens.new_session()}; HttpOnly; SameSite=Strict; Path=/"
        headers = [
            (b"location", AFTER_LOGIN.encode()),
            (b"set-cookie", (cookie + secure).encode()),
            (b"cache-control", b"no-store"),
            (b"content-length", b"0"),
        ]
        log.info("dashboard login from %s", peer)
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, scope: Scope, send: Send, peer: str, detail: str) -> None:
        """Answer a failed attempt: 401, or 429 once the peer keeps failing.

        A right token always gets in, so a noisy neighbour on the same address cannot
        lock the owner out; only further guesses are slowed down, and logged until then.
        """
        now = time.monotonic()
        wait = self.failures.blocked_for(peer, now)
        if wait > 0:
            await _answer(send, 429, "too many failed attempts: try again later", wait)
            return
        count = self.failures.failed(peer, now)
        what = f"{scope['method']} {scope['path']}"
        log.warning("authentication failed from %s: %s (%d in a minute)", peer, what, count)
        if count == self.failures.limit:
            log.warning("%s: further failed attempts refused for a while", peer)
        await _answer(send, 401, detail)


def document_security(app: FastAPI) -> None:
    """Say in the OpenAPI document how each route authenticates (the docs page's Authorize)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            schema["security"] = [{"admin": []}, {"session": []}]
            for path, operations in schema["paths"].items():
                if path.startswith(AGENT_PREFIX):
                    for operation in operations.values():
                        operation["security"] = [{"worker": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _actor(svc: Services, headers: Headers) -> str | None:
    """Who the request is from: the admin token, a session cookie, or nobody known."""
    if svc.tokens.is_admin(bearer_of(headers.get("authorization", ""))):
        return "admin"
    for part in headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and svc.tokens.is_session(value):
            return "session"
    return None


def _same_origin(headers: Headers) -> bool:
    """Whether a browser's request comes from a page of this master (CSRF)."""
    source = headers.get("origin") or headers.get("referer")
    host = headers.get("host")
    return bool(source and host and urlsplit(source).netloc == host)


def _wants_page(scope: Scope, headers: Headers) -> bool:
    """Whether a browser navigates to a page (not a script calling the API)."""
    navigating = scope["method"] == "GET" and "text/html" in headers.get("accept", "")
    return navigating and not scope["path"].startswith("/api/")


async def _answer_page(send: Send, status: int, body: bytes) -> None:
    """An HTML answer (the login page)."""
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _peer(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


async def _answer(
    send: Send, status: int, detail: str, retry_after: float = 0.0, code: str | None = None
) -> None:
    """An error answer in the API's one shape."""
    body = json.dumps(error(status, detail, code)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    if retry_after:
        headers.append((b"retry-after", str(max(1, round(retry_after))).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
