"""WaitingJobs: assignments that have arrived but do not fit the free CPUs yet."""

from __future__ import annotations

from collections.abc import Iterator

from corral.protocol import Assignment
from corral.worker.outbox import AttemptKey
from corral.worker.resources import ResourceTracker


def attempt_of(assignment: Assignment) -> AttemptKey:
    """The (job_id, attempt) an assignment names."""
    return assignment["job_id"], assignment["attempt"]


class WaitingJobs:
    """A FIFO of assignments, by attempt; a big one holds back no smaller one that fits."""

    def __init__(self) -> None:
        self._order: dict[AttemptKey, Assignment] = {}  # insertion-ordered

    def __contains__(self, key: AttemptKey) -> bool:
        return key in self._order

    def __len__(self) -> int:
        return len(self._order)

    def add(self, assignment: Assignment) -> None:
        """Queue an assignment behind the others."""
        self._order[attempt_of(assignment)] = assignment

    def remove(self, key: AttemptKey) -> Assignment | None:
        """Take one attempt out; None if it is not waiting."""
        return self._order.pop(key, None)

    def remove_all(self) -> list[Assignment]:
        """Take every attempt out, in order."""
        waiting = list(self._order.values())
        self._order.clear()
        return waiting

    def take_fitting(self, tracker: ResourceTracker) -> Iterator[tuple[Assignment, list[int]]]:
        """Allocate and yield, in order, each assignment that fits; stop once nothing can."""
        for key, assignment in list(self._order.items()):
            free = tracker.free_count()  # read each time: a failed spawn gives CPUs back
            if free == 0 and assignment["cpus"] > 0:
                return
            if assignment["cpus"] > free:
                continue
            ids = tracker.allocate(key, assignment["cpus"], assignment["account"])
            if ids is not None:
                del self._order[key]
                yield assignment, ids
