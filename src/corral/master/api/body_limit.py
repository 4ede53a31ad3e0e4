"""ASGI middleware that refuses request bodies above a size, declared or streamed."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corral.master.api.error_answers import error


class BodyLimitMiddleware:
    """413 for bodies larger than ``max_bytes``, before the app parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check Content-Length up front and count chunked bodies as they arrive."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await too_large(send, self.max_bytes)
                return
        seen = 0
        started = refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen <= self.max_bytes:
                return message
            if not started and not refused:
                refused = True
                await too_large(send, self.max_bytes)
            # To the app the client has gone: it stops reading, and its answer is dropped.
            return {"type": "http.disconnect"}

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if refused:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, tracked_send)


async def too_large(send: Send, limit: int) -> None:
    """Send a 413 answer."""
    answer = error(413, f"request body larger than {limit} bytes")
    body = json.dumps(answer, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
