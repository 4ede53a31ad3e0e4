"""The dashboard's pages, and the fragments of them that live updates fetch again."""

from collections.abc import AsyncGenerator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse

from corral.domain.jobs import JobState
from corral.domain.worker_states import WorkerState
from corral.domain.workers import DeploymentType
from corral.errors import NotFoundError
from corral.master.api.deps import services
from corral.master.api.job_schemas import AttemptOut, JobOut
from corral.master.api.jobs import LIST_CATCH_UP_S, explained
from corral.master.api.schemas import WorkerConfigOut, WorkerId, WorkerStatusOut
from corral.master.jobs.output import STREAMS
from corral.master.services import Services
from corral.master.web import log_streams, views
from corral.master.web.templating import environment

router = APIRouter(include_in_schema=False)
Svc = Annotated[Services, Depends(services)]
HX = Annotated[str | None, Header(alias="HX-Request")]
JOBS_PER_PAGE = 50
TAIL_LINES = 1000
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
templates = environment()


def render(name: str, request: Request, **context: Any) -> HTMLResponse:
    """One template as an HTML answer; the nav shows how many alerts fire."""
    firing = sum(request.app.state.services.alerts.firing().values())
    html = templates.get_template(name).render(request=request, firing=firing, **context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def page(name: str, request: Request, hx: str | None, **context: Any) -> HTMLResponse:
    """The whole page, or (asked by htmx) only its live part, ``_<name>``."""
    return render(f"_{name}" if hx else name, request, **context)


@router.get("/")
async def overview(request: Request, svc: Svc, hx: HX = None) -> HTMLResponse:
    """The fleet at a glance."""
    return page("overview.html", request, hx, nav="overview", **await views.overview(svc))


@router.get("/workers")
async def workers(
    request: Request,
    svc: Svc,
    hx: HX = None,
    state: str = "",
    label: str = "",
    type: str = "",
    sort: str = "worker_id",
    desc: bool = False,
) -> HTMLResponse:
    """Every worker, filtered and sorted as the URL says."""
    wanted = views.WorkerFilter(state=state, label=label, type=type, sort=sort, desc=desc)
    return page(
        "workers.html",
        request,
        hx,
        nav="workers",
        rows=views.worker_rows(svc, wanted),
        wanted=wanted,
        states=[str(s) for s in WorkerState],
        types=[str(t) for t in DeploymentType],
        query=request.url.query,
    )


@router.get("/workers/new")
async def new_worker(request: Request) -> HTMLResponse:
    """The form that creates a worker config."""
    types = [str(t) for t in DeploymentType]
    return render("config_form.html", request, nav="workers", config=None, types=types)


@router.get("/workers/{worker_id}/edit")
async def edit_worker(request: Request, worker_id: WorkerId, svc: Svc) -> HTMLResponse:
    """The form that edits one worker's config."""
    config = WorkerConfigOut.of(svc.lifecycle.get(worker_id).config)
    types = [str(t) for t in DeploymentType]
    return render("config_form.html", request, nav="workers", config=config, types=types)


@router.get("/workers/{worker_id}")
async def worker(request: Request, worker_id: WorkerId, svc: Svc, hx: HX = None) -> HTMLResponse:
    """One worker: its state, config, running jobs and history."""
    sup = svc.lifecycle.get(worker_id)
    running = [
        JobOut.of(job)
        for job in svc.scheduler.jobs.values()
        if job.worker_id == worker_id and job.state in (JobState.ASSIGNED, JobState.RUNNING)
    ]
    return page(
        "worker.html",
        request,
        hx,
        nav="workers",
        status=WorkerStatusOut.of(sup.config, sup.runtime),
        config=WorkerConfigOut.of(sup.config),
        running=running,
        events=await svc.db.read(svc.db.logs.list, worker_id, limit=50),
    )


@router.get("/jobs")
async def jobs(
    request: Request,
    svc: Svc,
    hx: HX = None,
    state: Annotated[list[JobState] | None, Query()] = None,
    worker_id: Annotated[str, Query(max_length=200)] = "",
    account: Annotated[str, Query(max_length=200)] = "",
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """Jobs newest first, filtered and paged as the URL says (an empty filter is none)."""
    await svc.writer.flush(LIST_CATCH_UP_S)
    filters: dict[str, Any] = {
        "states": state or (),
        "worker_id": worker_id or None,
        "account": account or None,
    }
    found = await svc.db.read(svc.db.jobs.list, **filters, limit=JOBS_PER_PAGE, before_id=before_id)
    rows = [JobOut.of(svc.scheduler.book.find(j.id) or j) for j in found]
    return page(
        "jobs.html",
        request,
        hx,
        nav="jobs",
        rows=rows,
        matching=await svc.db.read(svc.db.jobs.count, **filters),
        states=[str(s) for s in JobState],
        wanted={"state": [str(s) for s in state or ()], "worker_id": worker_id, "account": account},
        older=_older(request, rows[-1].id) if len(rows) == JOBS_PER_PAGE else None,
        query=request.url.query,
    )


def _older(request: Request, last_id: int) -> str:
    """The query of the next page of jobs: the same filters, before the last one shown."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "before_id" and v]
    return urlencode([*kept, ("before_id", str(last_id))])


@router.get("/charts")
async def charts(request: Request, svc: Svc, window: str = "1h") -> HTMLResponse:
    """Charts of the metrics history."""
    return render(
        "metrics.html",
        request,
        nav="metrics",
        charts=views.CHARTS,
        windows=views.CHART_WINDOWS,
        window=window if window in views.CHART_WINDOWS else "1h",
        step_s=svc.settings.history_interval_s,
    )


@router.get("/alerts")
async def alerts(request: Request, svc: Svc, hx: HX = None) -> HTMLResponse:
    """Alert rules and their alerts, webhooks and their deliveries."""
    return page("alerts.html", request, hx, nav="alerts", **await views.alerts(svc))


@router.get("/jobs/{job_id:int}")
async def job(request: Request, job_id: int, svc: Svc, hx: HX = None) -> HTMLResponse:
    """One job: its spec, its attempts, its output."""
    await svc.writer.flush(LIST_CATCH_UP_S)
    found = svc.scheduler.book.find(job_id)
    if found is None:
        found = await svc.db.read(svc.db.jobs.get, job_id)
    ended = await svc.db.read(svc.db.jobs.attempts, job_id)
    return page(
        "job.html",
        request,
        hx,
        nav="jobs",
        job=explained(svc, found),
        attempts=[AttemptOut.of(a) for a in ended],
    )


def _stream(request: Request, events: AsyncGenerator[str, None]) -> StreamingResponse:
    """Server-sent events that end when the master begins to stop."""
    pulse = request.app.state.pulse
    return StreamingResponse(
        pulse.until_closing(events), media_type="text/event-stream", headers=SSE_HEADERS
    )


@router.get("/ui/events")
async def events(request: Request) -> StreamingResponse:
    """What changed, for one open page (server-sent events)."""
    return _stream(request, request.app.state.pulse.signals())


@router.get("/ui/jobs/{job_id:int}/output")
async def job_output(
    request: Request,
    job_id: int,
    svc: Svc,
    tail: Annotated[int, Query(ge=0, le=100_000)] = TAIL_LINES,
    after: Annotated[str, Query(max_length=100)] = "",
    last_event_id: Annotated[str, Header(max_length=100)] = "",
    pulse: bool = False,
) -> StreamingResponse:
    """A job's output from where the reader was (``after``: its last event id), then live.

    With ``pulse``, the page's change signals come on the same stream.
    """
    if svc.scheduler.book.find(job_id) is None:
        await svc.db.read(svc.db.jobs.get, job_id)  # 404 for a job that never was
    output = svc.scheduler.output
    offsets = log_streams.job_offsets(output, job_id, last_event_id or after, tail)
    live = job_id in svc.scheduler.jobs
    return _stream(
        request, _signalled(request, log_streams.job_output(output, job_id, offsets, live), pulse)
    )


@router.get("/ui/workers/{worker_id}/output")
async def worker_output(
    request: Request,
    worker_id: WorkerId,
    svc: Svc,
    tail: Annotated[int, Query(ge=0, le=10_000)] = TAIL_LINES,
    after: Annotated[str, Query(max_length=100)] = "",
    last_event_id: Annotated[str, Header(max_length=100)] = "",
    pulse: bool = False,
) -> StreamingResponse:
    """A worker's stdout and stderr lines from where the reader was, then live (and ``pulse``)."""
    svc.lifecycle.get(worker_id)
    lines = log_streams.worker_lines(svc.log_files, worker_id, last_event_id or after, tail)
    return _stream(request, _signalled(request, lines, pulse))


def _signalled(
    request: Request, events: AsyncGenerator[str, None], pulse: bool
) -> AsyncGenerator[str, None]:
    """A log's events, with the page's change signals when it asked for them."""
    if not pulse:
        return events
    return log_streams.with_signals(events, request.app.state.pulse.signals())


@router.get("/jobs/{job_id:int}/{stream}.log")
async def download(job_id: int, stream: str, svc: Svc) -> FileResponse:
    """A job's whole stdout or stderr as a file."""
    path = svc.scheduler.output.path(job_id, stream) if stream in STREAMS else None
    if path is None or not path.exists():
        raise NotFoundError(f"job {job_id} has no {stream} output")
    name = f"job-{job_id}-{stream}.log"
    return FileResponse(path, media_type="text/plain; charset=utf-8", filename=name)
