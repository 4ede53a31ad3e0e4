"""The scheduler's safety net: a placement pass every few seconds, whatever the events said.

Placement is event-driven (a submit, a finished job, a new worker); this pass only
catches what an event could have missed, so it is cheap and rarely finds work.
"""

import logging

from corral.master.jobs.scheduler import Scheduler

log = logging.getLogger("corral.master")


def safety_pass(scheduler: Scheduler) -> int:
    """One pass; the number of jobs it placed (events should have placed them)."""
    placed = scheduler.schedule()
    if placed:
        log.warning("scheduler safety net placed %d jobs no event had placed", placed)
    return placed
