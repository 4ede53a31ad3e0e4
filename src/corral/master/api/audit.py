"""The audit trail: every state-changing request, who made it, and how the master answered.

Recorded for every request that is not a read (refused ones included: a 401 says who
tried), except the workers' heartbeats and job exchanges, which are their routine
traffic rather than decisions. Rows go through the master's writer like every other
write.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, StringConstraints
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corral.master.api.auth import SAFE_METHODS
from corral.master.api.deps import ACTOR, services
from corral.master.api.error_answers import answers
from corral.master.api.schemas import MAX_ID
from corral.master.services import Services
from corral.protocol import EXCHANGE_PATH, HEARTBEAT_PATH

ROUTINE = frozenset({EXCHANGE_PATH, HEARTBEAT_PATH})
# How long a read of the trail waits for the rows still queued to be written.
CATCH_UP_S = 0.3


class AuditMiddleware:
    """ASGI middleware recording state-changing requests once they are answered."""

    def __init__(self, app: ASGIApp, services: Callable[[], Services]) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; record it when it changes (or tries to change) something."""
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS or scope["path"] in ROUTINE:
            await self.app(scope, receive, send)
            return
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        finally:
            self.services().writer.audit(entry(scope, status))


def entry(scope: Scope, status: int) -> dict[str, Any]:
    """The audit row of one answered request."""
    params: dict[str, Any] = scope.get("path_params") or {}
    client = scope.get("client")
    target = ", ".join(f"{k}={v}" for k, v in params.items())
    return {
        "actor": _clean(str(scope.get(ACTOR, "anonymous")), 80),
        "peer": _clean(str(client[0]), 64) if client else None,
        "method": _clean(str(scope["method"]), 10),
        "route": _clean(_template(scope["path"], params), 200),
        "target": _clean(target, 200) or None,
        "status": status,
    }


def _template(path: str, params: dict[str, Any]) -> str:
    """The route a path matched: each path parameter's segment named again, not its value."""
    named = {str(value): f"{{{name}}}" for name, value in params.items()}
    return "/".join(named.get(segment, segment) for segment in path.split("/"))


def _clean(text: str, width: int) -> str:
    """What any client may have sent, made storable: no NUL, valid UTF-8, cut to the column."""
    return text.encode("utf-8", "replace").decode().replace("\x00", "")[:width]


Actor = Annotated[
    str, StringConstraints(pattern=r"^(admin|session|anonymous|master|worker:[a-z0-9_-]{1,63})$")
]


class AuditOut(BaseModel):
    """One recorded request."""

    id: int
    at: datetime
    actor: str
    peer: str | None
    method: str
    route: str
    target: str | None
    status: int


class AuditPage(BaseModel):
    """GET /audit: newest first; pass next_before_id as before_id for the next page."""

    entries: list[AuditOut]
    next_before_id: int | None


router = APIRouter(prefix="/audit", tags=["audit"], responses=answers(401, 503))


@router.get("", response_model=AuditPage, responses=answers(422))
async def audit_trail(
    svc: Annotated[Services, Depends(services)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    actor: Actor | None = None,
) -> AuditPage:
    """The state-changing requests, newest first: who, from where, what, and the answer."""
    await svc.writer.flush(CATCH_UP_S)
    found = await svc.db.read(svc.db.audit.list, limit=limit, before_id=before_id, actor=actor)
    entries = [AuditOut(**vars(entry)) for entry in found]
    after = entries[-1].id if len(entries) == limit else None
    return AuditPage(entries=entries, next_before_id=after)
