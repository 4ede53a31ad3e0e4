"""Security headers on every answer: a Content-Security-Policy with no inline script."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Everything from the master's own origin; no inline script anywhere, no inline style on
# the dashboard. The two API documentation pages style their elements inline, and
# ReDoc runs its search in a worker it makes from a blob.
DASHBOARD = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
API_DOCS = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOC_PATHS = frozenset({"/docs", "/redoc"})


class SecurityHeaders:
    """ASGI middleware adding the policy and its companions to every HTTP answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to its answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = API_DOCS if scope["path"] in DOC_PATHS else DASHBOARD
        extra = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
        ]

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
