"""The workers' exchange route, served below the web framework.

Every job costs a worker one or two exchanges; going through FastAPI's middleware,
routing and dependency machinery cost more than the exchange itself. This lane
answers that one route directly (body limit, worker token, the same validation
model and the same error shapes) and passes every other request on.
"""

import json
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.errors import CorralError
from corral.master.api.deps import bearer_of
from corral.master.api.http_errors import error_body, status_of, validation_detail
from corral.master.api.job_schemas import Exchange
from corral.master.services import Services
from corral.protocol import EXCHANGE_PATH, Assignment, AttemptRef

JSON_HEADERS = [(b"content-type", b"application/json")]


class ExchangeLane:
    """ASGI middleware answering ``POST EXCHANGE_PATH`` itself."""

    def __init__(self, app: ASGIApp, services: Callable[[], Services], max_bytes: int) -> None:
        self.app = app
        self.services = services
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the exchange; hand anything else to the application."""
        if scope["type"] != "http" or scope["path"] != EXCHANGE_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        status, answer = await self._answer(scope, receive)
        body = json.dumps(answer).encode()
        headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, Any]:
        raw = await _read_body(receive, self.max_bytes)
        if raw is None:
            return 413, {"detail": f"request body larger than {self.max_bytes} bytes"}
        try:
            request = Exchange.model_validate_json(raw)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            return 422, {"detail": validation_detail(errors)}
        svc = self.services()
        if not svc.tokens.is_worker(
            request.worker_id, bearer_of(Headers(scope=scope).get("authorization", ""))
        ):
            return 401, {"detail": "missing or wrong worker token"}
        try:
            return 200, await exchange(svc, request)
        except CorralError as exc:
            return status_of(exc), error_body(exc)


async def exchange(svc: Services, body: Exchange) -> dict[str, Any]:
    """Apply the worker's job events; answer with work, waiting up to wait_s for some."""
    svc.lifecycle.get(body.worker_id).touch(body.instance_id)
    scheduler = svc.scheduler
    events = [e.model_dump(exclude_none=True) for e in body.events]
    stale = scheduler.apply_events(body.worker_id, body.instance_id, events)  # type: ignore[arg-type]
    if body.draining:
        scheduler.set_draining(body.worker_id, body.instance_id)
    ws = scheduler.slots.get(body.worker_id)
    assignments: list[Assignment] = []
    cancels: list[AttemptRef] = []
    if ws is not None and ws.instance_id == body.instance_id:
        if body.wait_s > 0 and not events:
            await ws.mailbox.wait(body.wait_s)
        assignments, cancels = ws.mailbox.take()
    # Work is handed out only once the database says it was handed out.
    await scheduler.writer.flush()
    return {"assignments": assignments, "cancels": cancels, "stale": stale}


async def _read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole request body, or None once it passes ``max_bytes``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
