"""The scheduler's safety net: a placement pass every few seconds, whatever the events said.

Placement is event-driven (a submit, a finished job, a new worker); this loop only
catches what an event could have missed, so it is cheap and rarely finds work.
"""

import asyncio
import logging

from corral.master.jobs.scheduler import Scheduler

log = logging.getLogger("corral.master")


class SafetyNet:
    """Runs a placement pass every ``check_interval_s`` seconds."""

    def __init__(self, scheduler: Scheduler, check_interval_s: float = 5.0) -> None:
        self.scheduler = scheduler
        self.check_interval_s = check_interval_s
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> int:
        """One pass; the number of jobs it placed (events should have placed them)."""
        placed = self.scheduler.schedule()
        if placed:
            log.warning("scheduler safety net placed %d jobs no event had placed", placed)
        return placed

    def start(self) -> None:
        """Run in the background."""
        self._task = asyncio.create_task(self._loop(), name="scheduler-daemon")

    def stop(self) -> None:
        """Stop the background passes."""
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval_s)
            try:
                self.run_once()
            except Exception:
                log.exception("scheduler pass failed")
