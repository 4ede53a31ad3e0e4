"""Routes the workers call: register, heartbeat, deregister. Each needs the worker's token."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints

from corral.master.api.deps import require_worker, services
from corral.master.api.error_answers import answers
from corral.master.api.schemas import (
    JSON_INT,
    MAX_ID,
    MAX_INT32,
    NO_NUL,
    InstanceId,
    Strict,
    Text,
    WorkerId,
)
from corral.master.services import Services
from corral.protocol import (
    DEREGISTER_PATH,
    HEARTBEAT_PATH,
    REGISTER_PATH,
)

router = APIRouter(tags=["agent"], responses=answers(401, 403, 404, 409, 413, 422))
Svc = Annotated[Services, Depends(services)]


class Register(Strict):
    """A worker instance announcing itself."""

    worker_id: WorkerId
    instance_id: InstanceId
    pid: Annotated[int, Field(ge=1, le=MAX_INT32), JSON_INT]
    hostname: Text
    cpu_ids: Annotated[
        list[Annotated[int, Field(ge=0, le=65535), JSON_INT]], Field(max_length=4096)
    ]
    version: Text
    orphans_killed: Annotated[int, Field(ge=0, le=1_000_000), JSON_INT] = 0
    # "cgroup v2", "cgroup v1" or "process groups"; free text for workers yet to come.
    containment: Annotated[str, StringConstraints(max_length=40, pattern=NO_NUL)] | None = None
    # The user the worker runs as: its jobs' too, unless they name another.
    user: Annotated[str, StringConstraints(max_length=65, pattern=NO_NUL)] | None = None


class Heartbeat(Strict):
    """A worker instance renewing its lease."""

    worker_id: WorkerId
    instance_id: InstanceId
    cpu_percent: Annotated[float, Field(ge=0)]
    memory_bytes: Annotated[int, Field(ge=0, le=MAX_ID), JSON_INT]


class Deregister(Strict):
    """A worker instance leaving on purpose."""

    worker_id: WorkerId
    instance_id: InstanceId
    reason: Text


class Registered(BaseModel):
    """The master's timing rules for the instance, and the worker's configured CPUs."""

    heartbeat_interval_s: float
    lease_s: float
    cpus: int


class Ok(BaseModel):
    """An acknowledgement."""

    ok: bool


@router.post(REGISTER_PATH, response_model=Registered)
async def register(body: Register, request: Request, svc: Svc) -> dict[str, float | int]:
    """Make the instance current; the worker counts as running from now on."""
    require_worker(request, svc, body.worker_id)
    sup = svc.lifecycle.get(body.worker_id)
    cpus = sup.registered(
        body.instance_id, body.pid, body.hostname, body.cpu_ids, body.containment, body.user
    )
    if body.orphans_killed:
        what = f"killed {body.orphans_killed} job process groups its previous instance left"
        svc.writer.log(body.worker_id, what, "warning", "recovery")
    return {
        "heartbeat_interval_s": svc.settings.heartbeat_interval_s,
        "lease_s": svc.settings.lease_s,
        "cpus": cpus,
    }


@router.post(HEARTBEAT_PATH, response_model=Ok)
async def heartbeat(body: Heartbeat, request: Request, svc: Svc) -> dict[str, bool]:
    """Renew the lease; 409 stale_instance tells the worker to register again."""
    require_worker(request, svc, body.worker_id)
    svc.lifecycle.get(body.worker_id).heartbeat(
        body.instance_id, body.cpu_percent, body.memory_bytes
    )
    return {"ok": True}


@router.post(DEREGISTER_PATH, response_model=Ok)
async def deregister(body: Deregister, request: Request, svc: Svc) -> dict[str, bool]:
    """Note that the instance is leaving; its exit is then recorded by its launcher."""
    require_worker(request, svc, body.worker_id)
    svc.lifecycle.get(body.worker_id)
    svc.writer.log(
        body.worker_id, f"instance {body.instance_id} leaving: {body.reason}", kind="deregister"
    )
    return {"ok": True}
