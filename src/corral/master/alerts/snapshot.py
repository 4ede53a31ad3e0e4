"""What the rules look at: the fleet and the queue as the master knows them at one moment.

Built from memory only (supervisors, scheduler, job tally): evaluating the rules never
waits on the database. Two figures need a window of the past, kept here: each
worker's restarts, and the jobs finished, both over the last 10 minutes.
"""

import time
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import psutil

from corral.domain.clock import utcnow
from corral.domain.jobs import Job, JobState
from corral.domain.placement import FleetWorker, refusal
from corral.domain.worker_states import DesiredState
from corral.domain.workers import DeploymentType
from corral.master.jobs.scheduler import Scheduler
from corral.master.workers.lifecycle import LifecycleManager

WINDOW_S = 600.0
FAILED = ("failed", "timed_out")


@dataclass(frozen=True)
class WorkerView:
    """One worker as the rules see it."""

    worker_id: str
    state: str
    should_run: bool
    local: bool
    heartbeat_age_s: float | None
    cpu_percent: float
    cpus: int
    memory_bytes: int
    restarts_in_window: int


@dataclass(frozen=True)
class Snapshot:
    """The fleet and the queue at one moment."""

    workers: list[WorkerView]
    pending: int
    oldest_pending_s: float
    unrunnable: int
    finished_in_window: int
    failed_in_window: int
    host_memory_bytes: int


@dataclass
class Windows:
    """Restarts per worker and jobs finished, remembered over the last WINDOW_S seconds."""

    restarts: dict[str, deque[tuple[float, int]]] = field(default_factory=dict)
    finished: deque[tuple[float, Counter[str]]] = field(default_factory=deque)

    def restarts_of(self, worker_id: str, count: int, now: float) -> int:
        """Restarts counted within the window, given the worker's restart count now."""
        seen = self.restarts.setdefault(worker_id, deque())
        seen.append((now, count))
        while seen and now - seen[0][0] > WINDOW_S:
            seen.popleft()
        return max(0, count - seen[0][1])

    def keep_only(self, worker_ids: Iterable[str]) -> None:
        """Forget the restarts of workers that are gone."""
        for gone in set(self.restarts) - set(worker_ids):
            del self.restarts[gone]

    def finished_since(self, tally: Counter[str], now: float) -> Counter[str]:
        """Jobs finished within the window, by outcome, given the tally now."""
        self.finished.append((now, Counter(tally)))
        while self.finished and now - self.finished[0][0] > WINDOW_S:
            self.finished.popleft()
        return Counter(tally) - self.finished[0][1]


def _unrunnable(pending: list[Job], fleet: Mapping[str, FleetWorker]) -> int:
    """How many pending jobs no configured worker can run; judged once per kind of job."""
    verdicts: dict[tuple[object, ...], bool] = {}
    count = 0
    for job in pending:
        spec = job.spec
        kind = (spec.cpus, tuple(sorted(spec.labels.items())), spec.run_as, spec.account is None)
        refused = verdicts.get(kind)
        if refused is None:
            refused = verdicts[kind] = refusal(job, fleet) is not None
        count += refused
    return count


def take(lifecycle: LifecycleManager, sched: Scheduler, windows: Windows) -> Snapshot:
    """The snapshot of now."""
    now = time.monotonic()
    wall = utcnow()
    workers = []
    for sup in lifecycle.supervisors.values():
        rt = sup.runtime
        beat = rt.last_heartbeat_at
        workers.append(
            WorkerView(
                worker_id=sup.worker_id,
                state=str(sup.state),
                should_run=sup.desired is DesiredState.RUNNING,
                local=sup.config.deployment_type is DeploymentType.LOCAL,
                heartbeat_age_s=None if beat is None else (wall - beat).total_seconds(),
                cpu_percent=rt.cpu_percent or 0.0,
                cpus=len(rt.cpu_ids) or sup.config.cpus or 1,
                memory_bytes=rt.memory_bytes or 0,
                restarts_in_window=windows.restarts_of(sup.worker_id, rt.restart_count, now),
            )
        )
    windows.keep_only(lifecycle.supervisors)
    pending = [j for j in sched.jobs.values() if j.state is JobState.PENDING]
    oldest = min((j.submitted_at for j in pending if j.submitted_at), default=None)
    finished = windows.finished_since(sched.book.tally.finished, now)
    return Snapshot(
        workers=workers,
        pending=len(pending),
        oldest_pending_s=0.0 if oldest is None else (wall - oldest).total_seconds(),
        unrunnable=_unrunnable(pending, sched.fleet),
        finished_in_window=sum(finished.values()),
        failed_in_window=sum(finished[s] for s in FAILED),
        host_memory_bytes=psutil.virtual_memory().total,
    )
