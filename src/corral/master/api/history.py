"""GET /metrics/history: chart data, as columns (the shape uPlot takes as it is)."""

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from corral.errors import InvalidInputError
from corral.master.api.deps import services
from corral.master.api.error_answers import answers
from corral.master.api.schemas import WorkerId
from corral.master.metrics.history import FINE_KEEP_S, FOLDS
from corral.master.services import Services
from corral.store.history import FLEET_SERIES, WORKER_SERIES

Window = Literal["15m", "1h", "6h", "24h", "7d", "30d"]
WINDOW_S = {
    "15m": 900,
    "1h": 3600,
    "6h": 6 * 3600,
    "24h": 86400,
    "7d": 7 * 86400,
    "30d": 30 * 86400,
}
# How long a read waits for the points still queued to be written.
CATCH_UP_S = 0.3
# Points per series at most: more than a chart's pixels is only weight. Longer
# windows answer means over buckets of several points.
MAX_POINTS = 1440
SeriesName = Literal[
    "cpu_percent",
    "memory_bytes",
    "cpus_allocated",
    "jobs_running",
    "jobs_pending",
    "pending_cpus",
    "workers_running",
    "succeeded_per_min",
    "failed_per_min",
    "timed_out_per_min",
    "cancelled_per_min",
    "queue_wait_p50_s",
    "queue_wait_p95_s",
    "run_p50_s",
    "run_p95_s",
]


class SeriesOut(BaseModel):
    """One series: its values, aligned with ``timestamps`` (null where it has no point)."""

    name: str
    worker: str | None
    values: list[float | None]


class HistoryOut(BaseModel):
    """Points of the window, oldest first; timestamps in unix seconds, ``step_s`` apart."""

    window: Window
    step_s: int
    timestamps: list[int]
    series: list[SeriesOut]


router = APIRouter(prefix="/metrics", tags=["metrics"], responses=answers(401, 503))


@router.get("/history", response_model=HistoryOut, responses=answers(422))
async def history(
    svc: Annotated[Services, Depends(services)],
    series: Annotated[list[SeriesName], Query(min_length=1, max_length=16)],
    worker: Annotated[list[WorkerId] | None, Query(max_length=100)] = None,
    window: Window = "1h",
) -> HistoryOut:
    """Fleet series (jobs_pending...), or worker series (cpu_percent...) of some or all workers.

    `jobs_running` is a worker series when `worker` is given, else the fleet's.
    """
    names: list[str] = list(dict.fromkeys(series))
    span = WINDOW_S[window]
    step, bucket = resolution(svc.settings.history_interval_s, span)
    since = int(time.time()) - span
    await svc.writer.flush(CATCH_UP_S)
    per_worker = worker is not None or not set(names) <= set(FLEET_SERIES)
    if per_worker and not set(names) <= set(WORKER_SERIES):
        raise InvalidInputError(
            f"worker series ({', '.join(WORKER_SERIES)}) and fleet series cannot be mixed"
        )
    if per_worker:
        found = await svc.db.read(svc.db.history.workers, names, worker, step, since, bucket)
    else:
        found = await svc.db.read(svc.db.history.fleet, names, step, since, bucket)
    return HistoryOut(
        window=window,
        step_s=bucket,
        timestamps=found.timestamps,
        series=[
            SeriesOut(name=name, worker=wid, values=values)
            for (name, wid), values in found.series.items()
        ],
    )


def resolution(fine_s: int, span: int) -> tuple[int, int]:
    """The points to read for a window, and the bucket their means are answered by.

    The coarsest points kept long enough and no coarser than the window needs; the
    bucket is a whole number of them.
    """
    wanted = -(-span // MAX_POINTS)
    kept = [(fine_s, FINE_KEEP_S), *FOLDS]
    fits = [step for step, keep_s in kept if keep_s >= span and step <= max(wanted, fine_s)]
    step = max(fits, default=FOLDS[-1][0])
    return step, step * -(-wanted // step)
