"""Dependencies of the routers: the services on app.state and bearer-token checks.

All async: FastAPI runs a plain ``def`` dependency in a thread pool, a thread hop
per request for what is a dictionary lookup.
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from corral.master.services import Services
from corral.master.workers.lifecycle import LifecycleManager

# The scope key naming who made a request (for the audit trail): "admin", "session",
# "worker:<id>"; absent for a request nobody authenticated.
ACTOR = "corral.actor"


async def services(request: Request) -> Services:
    """The master's services, set up by the app's lifespan."""
    svc: Services = request.app.state.services
    return svc


async def lifecycle(svc: Annotated[Services, Depends(services)]) -> LifecycleManager:
    """The lifecycle manager."""
    return svc.lifecycle


def bearer(request: Request) -> str | None:
    """The bearer token of the request, if any."""
    return bearer_of(request.headers.get("authorization", ""))


def bearer_of(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, if it is one."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_worker(request: Request, svc: Services, worker_id: str) -> None:
    """Agent routes need the token of the worker they speak for."""
    if not svc.tokens.is_worker(worker_id, bearer(request)):
        raise HTTPException(401, "missing or wrong worker token", {"WWW-Authenticate": "Bearer"})
    request.scope[ACTOR] = f"worker:{worker_id}"
