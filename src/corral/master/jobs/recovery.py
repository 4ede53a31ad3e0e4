"""The recovery manager: runs the recovery strategies at start and then periodically."""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from corral.domain.clock import utcnow
from corral.domain.jobs import ACTIVE, Allocation, JobState
from corral.domain.recovery import (
    CompositeRecoveryStrategy,
    DropAllocation,
    EndAttempt,
    OrphanJobRecoveryStrategy,
    RecoveryStrategy,
    Snapshot,
    StaleAllocationCleanupStrategy,
    TimeoutJobRecoveryStrategy,
)
from corral.master.database import Database
from corral.master.jobs.scheduler import Scheduler
from corral.settings import MasterSettings

log = logging.getLogger("corral.master")


@dataclass(frozen=True)
class RecoveryResult:
    """What one recovery run did."""

    recovered_jobs: int
    skipped_jobs: int
    total_jobs: int
    duration_seconds: float

    @property
    def success_rate(self) -> float:
        """Share of the planned actions that were applied (1.0 when there were none)."""
        return 1.0 if self.total_jobs == 0 else self.recovered_jobs / self.total_jobs


def default_strategy(settings: MasterSettings) -> RecoveryStrategy:
    """Orphans, then timeouts, then stale allocations."""
    return CompositeRecoveryStrategy(
        [
            OrphanJobRecoveryStrategy(settings.assignment_timeout_s),
            TimeoutJobRecoveryStrategy(settings.max_job_runtime_s),
            StaleAllocationCleanupStrategy(settings.stale_allocation_s),
        ]
    )


class RecoveryManager:
    """Applies a strategy's plan through the scheduler, and prunes old finished jobs."""

    def __init__(
        self,
        db: Database,
        scheduler: Scheduler,
        settings: MasterSettings,
        strategy: RecoveryStrategy | None = None,
    ) -> None:
        self.db = db
        self.scheduler = scheduler
        self.settings = settings
        self.strategy = strategy or default_strategy(settings)

    async def run_once(self) -> RecoveryResult:
        """Take a snapshot, plan, apply what still holds, and log the result."""
        started = time.monotonic()
        scheduler = self.scheduler
        # Rows the writer still holds would look stale next to the jobs in memory.
        await scheduler.writer.flush()
        allocations = await self.db.run(self.db.jobs.allocations)
        rows = {a.job_id: a for a in allocations}
        snapshot = Snapshot(
            now=utcnow(),
            jobs=[j for j in scheduler.jobs.values() if j.state in ACTIVE],
            live_instances={w: s.instance_id for w, s in scheduler.slots.items()},
            allocations=allocations,
            offered=dict(scheduler.offered),
        )
        recovered = skipped = 0
        actions = self.strategy.plan(snapshot)
        for action in actions:
            if isinstance(action, DropAllocation):
                if self._still_stale(rows.get(action.job_id)):
                    scheduler.writer.release(action.job_id)
                    recovered += 1
                else:
                    skipped += 1
            elif isinstance(action, EndAttempt) and scheduler.end_attempt(
                action.job_id, action.attempt, action.reason, action.state
            ):
                recovered += 1
            else:
                skipped += 1
        if actions:
            scheduler.schedule()
            await scheduler.writer.flush()
        result = RecoveryResult(recovered, skipped, len(actions), time.monotonic() - started)
        if actions:
            log.warning("recovery: %s", result)
        return result

    def _still_stale(self, row: Allocation | None) -> bool:
        """Whether a row read for the snapshot may still go: not once a newer attempt runs."""
        # One row per job: the newer attempt's row, still queued in the writer,
        # replaces the one read, and releasing the job now would delete it.
        if row is None:
            return False
        job = self.scheduler.jobs.get(row.job_id)
        return job is None or job.state is not JobState.RUNNING or job.attempt == row.attempt

    async def prune(self) -> int:
        """Delete finished jobs older than the retention, with their output."""
        cutoff = utcnow() - timedelta(seconds=self.settings.job_retention_s)
        ids = await self.db.run(self.db.jobs.prune, cutoff)
        for job_id in ids:
            self.scheduler.output.delete(job_id)
        return len(ids)

    async def run_periodic(self) -> None:
        """The periodic run: recover, then prune old finished jobs."""
        await self.run_once()
        await self.prune()
