"""CRUD of worker configs, and their summary."""

from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from corral.master.api.deps import lifecycle, services
from corral.master.api.error_answers import answers
from corral.master.api.schemas import (
    ConfigSummary,
    WorkerConfigCreate,
    WorkerConfigOut,
    WorkerConfigUpdate,
    WorkerId,
)
from corral.master.services import Services
from corral.master.workers.lifecycle import LifecycleManager

router = APIRouter(
    prefix="/worker-configs",
    tags=["worker configs"],
    responses=answers(401),
)
Lifecycle = Annotated[LifecycleManager, Depends(lifecycle)]
IdPath = Annotated[WorkerId, Path(description="the worker's id (a slug)")]


@router.get("", response_model=list[WorkerConfigOut])
async def list_configs(svc: Annotated[Services, Depends(services)]) -> list[WorkerConfigOut]:
    """Every worker config, by id."""
    supervisors = sorted(svc.lifecycle.supervisors.items())
    return [WorkerConfigOut.of(sup.config) for _, sup in supervisors]


@router.post(
    "", status_code=201, response_model=WorkerConfigOut, responses=answers(400, 409, 413, 422, 503)
)
async def create_config(body: WorkerConfigCreate, lc: Lifecycle) -> WorkerConfigOut:
    """Create a config; with auto_start (the default) the worker starts at once."""
    return WorkerConfigOut.of(await lc.add(body.to_config()))


@router.get("/stats/summary", response_model=ConfigSummary)
async def summary(svc: Annotated[Services, Depends(services)]) -> ConfigSummary:
    """Counts of configs by deployment type and policy, and the CPUs they declare."""
    configs = [sup.config for sup in svc.lifecycle.supervisors.values()]
    return ConfigSummary(
        total=len(configs),
        by_deployment_type=dict(Counter(str(c.deployment_type) for c in configs)),
        auto_start=sum(c.auto_start for c in configs),
        auto_restart=sum(c.auto_restart for c in configs),
        declared_cpus=sum(c.cpus or 0 for c in configs),
        max_accounts=sum(c.max_accounts for c in configs),
    )


@router.get("/{worker_id}", response_model=WorkerConfigOut, responses=answers(404, 422))
async def get_config(worker_id: IdPath, lc: Lifecycle) -> WorkerConfigOut:
    """One config."""
    return WorkerConfigOut.of(lc.get(worker_id).config)


@router.patch(
    "/{worker_id}",
    response_model=WorkerConfigOut,
    responses=answers(400, 404, 409, 413, 422, 503),
)
async def update_config(
    worker_id: IdPath, body: WorkerConfigUpdate, lc: Lifecycle
) -> WorkerConfigOut:
    """Change the given fields; a running worker uses them from its next start."""
    return WorkerConfigOut.of(await lc.update(worker_id, body.changes()))


@router.delete("/{worker_id}", status_code=204, responses=answers(404, 409, 422, 503))
async def delete_config(worker_id: IdPath, lc: Lifecycle) -> Response:
    """Stop the worker gracefully if it runs, then delete its config."""
    await lc.remove(worker_id)
    return Response(status_code=204)
