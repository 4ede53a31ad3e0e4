"""Operating workers: start, stop, restart, status, health, logs, batch, overview."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.responses import JSONResponse, StreamingResponse

from corral.domain.worker_states import WorkerState
from corral.errors import CorralError
from corral.master.api.deps import lifecycle, services
from corral.master.api.error_answers import answers
from corral.master.api.http_errors import status_of
from corral.master.api.log_stream import event_line, followed, sse_answer, sse_lines
from corral.master.api.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    FleetOverview,
    StopOptions,
    WorkerHealthOut,
    WorkerId,
    WorkerLogsOut,
    WorkerStatusOut,
)
from corral.master.services import Services
from corral.master.workers.lifecycle import LifecycleManager

router = APIRouter(
    prefix="/workers",
    tags=["workers"],
    responses=answers(401),
)
Lifecycle = Annotated[LifecycleManager, Depends(lifecycle)]
Svc = Annotated[Services, Depends(services)]
IdPath = Annotated[WorkerId, Path(description="the worker's id (a slug)")]
Options = Annotated[StopOptions | None, Body()]
ACTED = answers(404, 409, 422)
ACTED_WITH_BODY = answers(400, 404, 409, 413, 422)
# How long an events tail waits for events queued in memory to reach the database.
EVENTS_CATCH_UP_S = 0.3
UNHEALTHY = {"model": WorkerHealthOut, "description": "Not running, or its heartbeat is late."}


def _status(svc: Services, worker_id: str) -> WorkerStatusOut:
    """Config identity plus the runtime record, both kept in memory."""
    sup = svc.lifecycle.get(worker_id)
    return WorkerStatusOut.of(sup.config, sup.runtime)


@router.get("/stats/overview", response_model=FleetOverview)
async def overview(svc: Svc) -> FleetOverview:
    """Fleet-wide counts by state and totals of the live metrics."""
    runtimes = [sup.runtime for sup in svc.lifecycle.supervisors.values()]
    states = Counter(str(rt.state) for rt in runtimes)
    running = [rt for rt in runtimes if rt.state is WorkerState.RUNNING]
    return FleetOverview(
        total=len(runtimes),
        by_state={str(s): states.get(str(s), 0) for s in WorkerState},
        cpus=sum(len(rt.cpu_ids) for rt in running),
        cpus_allocated=sum(rt.cpus_allocated for rt in running),
        active_jobs=sum(rt.active_jobs for rt in running),
        memory_bytes=sum(rt.memory_bytes or 0 for rt in running),
        cpu_percent=sum(rt.cpu_percent or 0.0 for rt in running),
        restarts=sum(rt.restart_count for rt in runtimes),
        errors=sum(rt.error_count for rt in runtimes),
    )


@router.post("/batch", response_model=BatchResponse, responses=answers(400, 413, 422))
async def batch(body: BatchRequest, svc: Svc) -> BatchResponse:
    """Apply one action to many workers; each gets its own result."""
    results = await asyncio.gather(*(_batch_one(svc, body, wid) for wid in body.worker_ids))
    ok = sum(r.ok for r in results)
    return BatchResponse(
        action=body.action, results=results, succeeded=ok, failed=len(results) - ok
    )


async def _batch_one(svc: Services, body: BatchRequest, worker_id: str) -> BatchItem:
    """Run the batch action on one worker and report, never raise."""
    try:
        await _act(svc, body.action, worker_id, body.options)
        state = str(svc.lifecycle.get(worker_id).state)
        return BatchItem(worker_id=worker_id, ok=True, state=state, status_code=200)
    except CorralError as exc:
        return BatchItem(worker_id=worker_id, ok=False, error=str(exc), status_code=status_of(exc))


async def _act(svc: Services, action: str, worker_id: str, options: StopOptions | None) -> None:
    """Start, stop or restart one worker."""
    sup = svc.lifecycle.get(worker_id)
    opts = options or StopOptions()
    timeout = opts.timeout_s if opts.timeout_s is not None else svc.settings.stop_timeout_s
    if action == "start":
        await sup.start()
    elif action == "stop":
        await sup.stop(opts.graceful, timeout)
    else:
        await sup.restart(opts.graceful, timeout)


@router.post("/{worker_id}/start", response_model=WorkerStatusOut, responses=ACTED)
async def start(worker_id: IdPath, svc: Svc) -> WorkerStatusOut:
    """Start the worker; it is running once it registers (poll status or health)."""
    await _act(svc, "start", worker_id, None)
    return _status(svc, worker_id)


@router.post("/{worker_id}/stop", response_model=WorkerStatusOut, responses=ACTED_WITH_BODY)
async def stop(worker_id: IdPath, svc: Svc, options: Options = None) -> WorkerStatusOut:
    """SIGTERM, wait timeout_s, then SIGKILL (at once when graceful is false)."""
    await _act(svc, "stop", worker_id, options)
    return _status(svc, worker_id)


@router.post("/{worker_id}/restart", response_model=WorkerStatusOut, responses=ACTED_WITH_BODY)
async def restart(worker_id: IdPath, svc: Svc, options: Options = None) -> WorkerStatusOut:
    """Stop as with /stop, then start again."""
    await _act(svc, "restart", worker_id, options)
    return _status(svc, worker_id)


@router.get("/{worker_id}/status", response_model=WorkerStatusOut, responses=answers(404, 422))
async def status(worker_id: IdPath, svc: Svc) -> WorkerStatusOut:
    """Runtime state and metrics of one worker."""
    return _status(svc, worker_id)


@router.get(
    "/{worker_id}/health",
    response_model=WorkerHealthOut,
    responses={503: UNHEALTHY, **answers(404, 422)},
)
async def health(worker_id: IdPath, svc: Svc) -> JSONResponse:
    """200 when running with a fresh heartbeat, else 503; the body says why."""
    sup = svc.lifecycle.get(worker_id)
    silent = time.monotonic() - sup.last_contact if sup.last_contact else None
    healthy = (
        sup.state is WorkerState.RUNNING and silent is not None and silent <= svc.settings.lease_s
    )
    body = WorkerHealthOut(
        worker_id=worker_id,
        healthy=healthy,
        state=str(sup.state),
        desired_state=str(sup.desired),
        seconds_since_heartbeat=None if silent is None else round(silent, 3),
        lease_s=svc.settings.lease_s,
    )
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


@router.get(
    "/{worker_id}/logs",
    response_model=None,
    responses={
        200: sse_answer(WorkerLogsOut, "for as long as the client listens"),
        **answers(404, 422),
    },
)
async def logs(
    worker_id: IdPath,
    svc: Svc,
    tail: Annotated[int, Query(ge=0, le=10000)] = 100,
    stream: Literal["stdout", "stderr", "all", "events"] = "stdout",
    follow: bool = False,
) -> JSONResponse | StreamingResponse:
    """The last lines of stdout, stderr, both ("all", in time order) or lifecycle events.

    With follow, the tail and then new lines as server-sent events.
    """
    svc.lifecycle.get(worker_id)
    if stream == "events":
        # Subscribed before the tail is read, so no event falls between the two.
        follower = svc.log_files.follow(worker_id, stream) if follow else None
        lines = await _events(svc, worker_id, tail)
        if follower is not None:
            return _streamed(followed(follower, lines))
    elif follow:
        return _streamed(sse_lines(svc.log_files, worker_id, stream, tail))
    elif stream == "all":
        lines = svc.log_files.tail_merged(worker_id, tail)
    else:
        lines = svc.log_files.tail(worker_id, stream, tail)
    return JSONResponse({"worker_id": worker_id, "stream": stream, "lines": lines})


async def _events(svc: Services, worker_id: str, tail: int) -> list[str]:
    """The last lifecycle events of a worker, oldest first, as lines."""
    if not tail:  # no line asked for: the store takes no empty limit
        return []
    await svc.writer.flush(EVENTS_CATCH_UP_S)
    rows = await svc.db.read(svc.db.logs.list, worker_id, limit=tail)
    return [event_line(r.at, r.level, r.kind, r.message) for r in reversed(rows)]


def _streamed(events: AsyncIterator[str]) -> StreamingResponse:
    """Server-sent events, never cached or buffered on the way."""
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
