"""The master itself: what runs, since when, the queue at a glance, and a graceful stop."""

import os
import socket
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from corral import __version__
from corral.domain.clock import utcnow
from corral.domain.jobs import JobState
from corral.errors import ConflictError
from corral.master.api.error_answers import answers
from corral.master.services import Services

router = APIRouter(prefix="/master", tags=["master"], responses=answers(401))
UNFINISHED = (JobState.PENDING, JobState.ASSIGNED, JobState.RUNNING)


class MasterInfo(BaseModel):
    """GET /master: the process, its age, and the jobs it holds."""

    version: str
    host: str
    pid: int
    url: str
    data_dir: str
    started_at: datetime
    uptime_s: float
    stopping: bool
    jobs_by_state: dict[str, int]
    oldest_pending_at: datetime | None
    finished_since_start: dict[str, int]


def info_of(request: Request) -> MasterInfo:
    """The master's answer, from memory."""
    svc: Services = request.app.state.services
    started: datetime = request.app.state.started_at
    jobs = list(svc.scheduler.jobs.values())
    states = Counter(job.state for job in jobs)
    pending = [job.submitted_at for job in jobs if job.state is JobState.PENDING]
    return MasterInfo(
        version=__version__,
        host=socket.gethostname(),
        pid=os.getpid(),
        url=svc.settings.url,
        data_dir=str(svc.settings.data_dir.resolve()),
        started_at=started,
        uptime_s=round((utcnow() - started).total_seconds(), 3),
        stopping=request.app.state.pulse.closing.is_set(),
        jobs_by_state={str(s): states.get(s, 0) for s in UNFINISHED},
        oldest_pending_at=min((t for t in pending if t is not None), default=None),
        finished_since_start=dict(svc.scheduler.book.tally.finished),
    )


@router.get("", response_model=MasterInfo)
async def info(request: Request) -> MasterInfo:
    """Version, process, uptime, and the unfinished jobs by state."""
    return info_of(request)


@router.post("/shutdown", status_code=202, response_model=MasterInfo, responses=answers(409))
async def shutdown(request: Request) -> MasterInfo:
    """Stop gracefully, as on SIGTERM: workers drain and stop, then the master exits."""
    stop: Callable[[], Any] | None = getattr(request.app.state, "request_stop", None)
    if stop is None:
        raise ConflictError("this master runs inside another program, which stops it")
    stop()
    return info_of(request)
