"""Jobs: submit, list, get, cancel, retry, wait, and their output."""

import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from corral.domain.clock import utcnow
from corral.domain.jobs import TERMINAL, Job, JobState
from corral.domain.waiting import waiting_for
from corral.errors import ConflictError
from corral.master.api.deps import services
from corral.master.api.error_answers import answers
from corral.master.api.job_schemas import (
    Account,
    AttemptList,
    AttemptOut,
    CancelCounts,
    CancelFilter,
    JobBatch,
    JobList,
    JobLogsOut,
    JobOut,
    JobPage,
    JobSubmit,
)
from corral.master.api.log_stream import KEEPALIVE_S, sse_answer
from corral.master.api.schemas import MAX_ID, WorkerId
from corral.master.follow import with_keepalives
from corral.master.services import Services

# Every route here may need the database: 503 when it cannot answer in time.
router = APIRouter(
    prefix="/jobs",
    tags=["jobs"],
    responses=answers(401, 503),
)
Svc = Annotated[Services, Depends(services)]
JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="the job's id")]
EARLIER = {"model": JobOut, "description": "The job an earlier request made with this key."}
# How long a list waits for changes made in memory to reach the database.
LIST_CATCH_UP_S = 0.3


async def _job(svc: Services, job_id: int) -> Job:
    """The job as memory knows it (unfinished or finished lately), else as stored."""
    known = svc.scheduler.book.find(job_id)
    if known is not None:
        return known
    return await svc.db.read(svc.db.jobs.get, job_id)


@router.post(
    "", status_code=201, response_model=JobOut, responses={200: EARLIER, **answers(400, 413, 422)}
)
async def submit(body: JobSubmit, request: Request) -> Response:
    """Queue a job; a known idempotency_key answers 200 with the job it made before."""
    svc: Services = request.app.state.services  # every client's hot path: no dependency
    ((job, created),) = await svc.scheduler.submit([body.to_spec()])
    # Serialised here in one step: the hot path of every client.
    return Response(
        JobOut.of(job).model_dump_json(), 201 if created else 200, media_type="application/json"
    )


@router.post("/batch", status_code=201, response_model=JobList, responses=answers(400, 413, 422))
async def submit_batch(body: JobBatch, svc: Svc) -> JobList:
    """Queue many jobs in one request and one commit."""
    results = await svc.scheduler.submit([j.to_spec() for j in body.jobs])
    return JobList(jobs=[JobOut.of(job) for job, _ in results])


@router.post("/cancel", response_model=CancelCounts, responses=answers(400, 413, 422))
async def cancel_matching(body: CancelFilter, svc: Svc) -> CancelCounts:
    """Cancel every unfinished job matching the filter: pending ones now, others by their worker."""
    matching = [job for job in list(svc.scheduler.jobs.values()) if body.matches(job)]
    cancelled = ending = 0
    for job in matching:
        was_pending = job.state is JobState.PENDING
        svc.scheduler.cancel(job.id)
        cancelled += was_pending
        ending += not was_pending
    return CancelCounts(matched=len(matching), cancelled=cancelled, ending=ending)


@router.get("", response_model=JobPage, responses=answers(422))
async def list_jobs(
    svc: Svc,
    state: Annotated[list[JobState] | None, Query()] = None,
    worker_id: WorkerId | None = None,
    account: Account | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> JobPage:
    """Jobs newest first, filtered by state (repeatable), worker and account."""
    # States change in memory first: let the database catch up before filtering on them.
    await svc.writer.flush(LIST_CATCH_UP_S)
    jobs = await svc.db.read(
        svc.db.jobs.list,
        states=state or (),
        worker_id=worker_id,
        account=account,
        limit=limit,
        before_id=before_id,
    )
    out = [JobOut.of(svc.scheduler.book.find(j.id) or j) for j in jobs]
    return JobPage(jobs=out, next_before_id=out[-1].id if len(out) == limit else None)


@router.get("/{job_id:int}", response_model=JobOut, responses=answers(404, 422))
async def get(job_id: JobId, svc: Svc) -> JobOut:
    """One job; a pending one says what it waits for."""
    return explained(svc, await _job(svc, job_id))


def explained(svc: Services, job: Job) -> JobOut:
    """The job's answer with ``waiting_for`` filled in."""
    scheduler = svc.scheduler
    slots = [ws.slot for ws in scheduler.slots.values()]
    why = waiting_for(job, slots, scheduler.fleet, utcnow())
    return JobOut.of(job).model_copy(update={"waiting_for": why})


@router.get("/{job_id:int}/attempts", response_model=AttemptList, responses=answers(404, 422))
async def attempts(job_id: JobId, svc: Svc) -> AttemptList:
    """How each ended attempt of the job went: where it ran, why it ended, what it used."""
    await _job(svc, job_id)
    await svc.writer.flush(LIST_CATCH_UP_S)
    ended = await svc.db.read(svc.db.jobs.attempts, job_id)
    return AttemptList(job_id=job_id, attempts=[AttemptOut.of(a) for a in ended])


@router.post("/{job_id:int}/cancel", response_model=JobOut, responses=answers(404, 409, 422))
async def cancel(job_id: JobId, svc: Svc) -> JobOut:
    """Cancel a pending job now; a running one is ended by its worker (SIGTERM, grace, KILL)."""
    job = await _job(svc, job_id)
    if job.state in TERMINAL:
        raise ConflictError(f"job {job_id} is {job.state}: nothing to cancel")
    return JobOut.of(svc.scheduler.cancel(job_id))


@router.post("/{job_id:int}/retry", response_model=JobOut, responses=answers(404, 409, 422))
async def retry(job_id: JobId, svc: Svc) -> JobOut:
    """Run a finished job again, with a fresh budget of attempts."""
    return JobOut.of(svc.scheduler.retry(await _job(svc, job_id)))


@router.get("/{job_id:int}/wait", response_model=JobOut, responses=answers(404, 422))
async def wait(
    job_id: JobId, svc: Svc, timeout_s: Annotated[float, Query(ge=0, le=60)] = 30.0
) -> JobOut:
    """The job once it has finished, or as it is after timeout_s."""
    await _job(svc, job_id)
    await svc.scheduler.wait_finished(job_id, timeout_s)
    return explained(svc, await _job(svc, job_id))


@router.get(
    "/{job_id:int}/logs",
    response_model=None,
    responses={
        200: sse_answer(JobLogsOut, "ending with an `end` event carrying the job"),
        **answers(404, 422),
    },
)
async def logs(
    job_id: JobId,
    svc: Svc,
    stream: Literal["stdout", "stderr"] = "stdout",
    tail: Annotated[int, Query(ge=0, le=100_000)] = 100,
    follow: bool = False,
) -> JSONResponse | StreamingResponse:
    """The last lines of the output; follow streams new ones (SSE) and ends with the job."""
    await _job(svc, job_id)
    if follow:
        return StreamingResponse(
            _follow(svc, job_id, stream, tail),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    lines = svc.scheduler.output.tail(job_id, stream, tail)
    return JSONResponse({"job_id": job_id, "stream": stream, "lines": lines})


async def _follow(svc: Services, job_id: int, stream: str, tail: int) -> AsyncIterator[str]:
    """The tail, then new lines, then an ``end`` event carrying the finished job."""
    output = svc.scheduler.output
    # Subscribe before reading the tail so no line falls between the two.
    follower = output.follow(job_id, stream) if job_id in svc.scheduler.jobs else None
    try:
        for line in output.tail(job_id, stream, tail):
            for part in _split(line):
                yield f"data: {part}\n\n"
        if follower is not None:
            async for line in _lines(follower):
                yield line
        job = await _job(svc, job_id)
        yield f"event: end\ndata: {json.dumps(JobOut.of(job).model_dump(mode='json'))}\n\n"
    finally:
        if follower is not None:
            follower.close()


async def _lines(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """SSE messages of whole lines from output chunks; a comment keeps idle proxies open."""
    pending = ""
    async for chunk in with_keepalives(chunks, KEEPALIVE_S):
        if chunk is None:
            yield ": keepalive\n\n"
            continue
        *lines, pending = _split(pending + chunk)
        for line in lines:
            yield f"data: {line}\n\n"
    if pending:
        yield f"data: {pending}\n\n"


def _split(text: str) -> list[str]:
    """Lines of program output; a carriage return (a progress bar) ends a line too.

    An event-stream line cannot hold one: a reader would take it as the end of the field.
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
