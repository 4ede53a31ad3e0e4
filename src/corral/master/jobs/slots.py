"""A registered worker instance as the scheduler sees it: capacity, jobs, and its mailbox."""

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from corral.domain.jobs import Job
from corral.domain.placement import FleetWorker, Slot
from corral.domain.workers import WorkerConfig
from corral.protocol import Assignment, AttemptRef

log = logging.getLogger("corral.master")


class Mailbox:
    """Work waiting to be handed to one worker instance; a parked long-poll waits on it."""

    def __init__(self) -> None:
        self.assignments: list[Assignment] = []
        self.cancels: list[AttemptRef] = []
        self._ready = asyncio.Event()
        self.closed = False

    def assign(self, job: Job, output_max_bytes: int, run_as: str | None = None) -> None:
        """Queue one attempt for the worker; ``run_as`` is whom it runs as if the job names none."""
        spec = job.spec
        self.assignments.append(
            Assignment(
                job_id=job.id,
                attempt=job.attempt,
                command=list(spec.command),
                shell=spec.shell,
                env={**spec.env, **spec.secret_env},
                cwd=spec.cwd,
                cpus=spec.cpus,
                timeout_s=spec.timeout_s,
                account=spec.account,
                output_max_bytes=output_max_bytes,
                memory_mb=spec.memory_mb,
                run_as=spec.run_as or run_as,
            )
        )
        self._ready.set()

    def cancel(self, ref: AttemptRef) -> None:
        """Ask the worker to end an attempt."""
        self.cancels.append(ref)
        self._ready.set()

    def withdraw(self, job_id: int) -> None:
        """Drop a job's assignment that was never stored."""
        self.assignments = [a for a in self.assignments if a["job_id"] != job_id]

    def put_back(self, assignments: list[Assignment], cancels: list[AttemptRef]) -> None:
        """What was taken but not handed out: first in line again."""
        if assignments or cancels:
            self.assignments = assignments + self.assignments
            self.cancels = cancels + self.cancels
            self._ready.set()

    def take(self) -> tuple[list[Assignment], list[AttemptRef]]:
        """Everything queued so far, emptying the mailbox."""
        taken = self.assignments, self.cancels
        self.assignments, self.cancels = [], []
        self._ready.clear()
        return taken

    async def wait(self, timeout_s: float) -> None:
        """Return when something is queued, the mailbox closes, or after ``timeout_s``.

        Another request of the same worker may take the work first (a report's answer
        carries what its freed CPUs made assignable): then this one keeps waiting
        rather than answering empty and costing the worker a round trip.
        """
        try:
            async with asyncio.timeout(timeout_s):
                while not (self.assignments or self.cancels or self.closed):
                    self._ready.clear()
                    await self._ready.wait()
        except TimeoutError:
            return

    def close(self) -> None:
        """The instance is gone: release a parked poll."""
        self.closed = True
        self._ready.set()


@dataclass
class WorkerSlot:
    """One registered worker instance."""

    worker_id: str
    instance_id: str
    slot: Slot
    local: bool
    jobs: set[int] = field(default_factory=set)
    # A local worker's state folder: the outcomes and output it may not have reported.
    state_dir: Path | None = None
    mailbox: Mailbox = field(default_factory=Mailbox)


def fleet_worker(config: WorkerConfig, capacity: int | None = None) -> FleetWorker:
    """What placement may assume of a configured worker before it runs."""
    return FleetWorker(
        capacity or config.cpus,
        dict(config.labels),
        config.max_accounts,
        run_as=config.run_as,
        allowed_run_as=frozenset(config.allowed_run_as),
    )
