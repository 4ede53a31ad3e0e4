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

from corral.errors import CorralError, UnavailableError
from corral.master.api.deps import bearer_of
from corral.master.api.error_answers import error, invalid
from corral.master.api.http_errors import error_body, error_headers, status_of
from corral.master.api.job_schemas import Exchange
from corral.master.services import Services
from corral.protocol import EXCHANGE_PATH, Assignment, AttemptRef

Header = tuple[bytes, bytes]

JSON_HEADERS = [(b"content-type", b"application/json")]
# How long an answer waits for the database to hold what it acknowledges or hands out.
DURABLE_DEADLINE_S = 2.0


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
        status, answer, extra = await self._answer(scope, receive)
        body = json.dumps(answer).encode()
        headers = [*JSON_HEADERS, *extra, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, Any, list[Header]]:
        raw = await _read_body(receive, self.max_bytes)
        if raw is None:
            return 413, error(413, f"request body larger than {self.max_bytes} bytes"), []
        try:
            request = Exchange.model_validate_json(raw)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            return 422, invalid(errors), []
        svc = self.services()
        if not svc.tokens.is_worker(
            request.worker_id, bearer_of(Headers(scope=scope).get("authorization", ""))
        ):
            return 401, error(401, "missing or wrong worker token"), []
        try:
            return 200, await exchange(svc, request), []
        except CorralError as exc:
            extra = [(k.lower().encode(), v.encode()) for k, v in error_headers(exc).items()]
            return status_of(exc), error_body(exc), extra


async def exchange(svc: Services, body: Exchange) -> dict[str, Any]:
    """Apply the worker's job events; answer with work, waiting up to wait_s for some.

    Work is handed out, and events acknowledged, only once the database holds what
    they changed. If it cannot by the deadline, the work goes back to the mailbox and
    a report gets 503: the worker sends its events again, and they apply once.
    """
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
    durable = not (events or assignments) or await svc.writer.flush(DURABLE_DEADLINE_S)
    assignments = [a for a in assignments if _still_owned(svc, body, a)]
    scheduler.handed_out(assignments)
    if durable:
        return {"assignments": assignments, "cancels": cancels, "stale": stale}
    if ws is not None:
        ws.mailbox.put_back(assignments, [])
    if events:
        raise UnavailableError("the master could not store this in time: send it again")
    return {"assignments": [], "cancels": cancels, "stale": stale}


def _still_owned(svc: Services, body: Exchange, assignment: Assignment) -> bool:
    """Whether an assignment taken from the mailbox is still the job's current attempt."""
    return svc.scheduler.owns(
        body.worker_id, body.instance_id, assignment["job_id"], assignment["attempt"]
    )


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
