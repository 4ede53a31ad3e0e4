"""Pending jobs in placement order: highest priority first, then oldest (lowest id)."""

import bisect
from collections.abc import Iterator
from datetime import datetime

from corral.domain.clock import utcnow
from corral.domain.jobs import Job


class PendingQueue:
    """Ordered pending jobs; adding a new job is O(1), a requeued old one O(n)."""

    def __init__(self) -> None:
        self._levels: dict[int, list[int]] = {}  # priority -> sorted job ids
        self._jobs: dict[int, Job] = {}
        self._order: list[int] = []  # priorities, highest first
        self._delayed: set[int] = set()  # ids of jobs waiting out a retry backoff

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, job: Job) -> None:
        """Queue a job (again)."""
        if job.id in self._jobs:
            return
        priority = job.spec.priority
        ids = self._levels.get(priority)
        if ids is None:
            ids = self._levels[priority] = []
            self._order = sorted(self._levels, reverse=True)
        if not ids or ids[-1] < job.id:
            ids.append(job.id)
        else:
            bisect.insort(ids, job.id)
        self._jobs[job.id] = job
        if job.not_before is not None:
            self._delayed.add(job.id)

    def remove(self, job: Job) -> None:
        """Take a job out (placed or cancelled)."""
        if self._jobs.pop(job.id, None) is None:
            return
        self._delayed.discard(job.id)
        ids = self._levels[job.spec.priority]
        index = bisect.bisect_left(ids, job.id)
        del ids[index]
        if not ids:
            del self._levels[job.spec.priority]
            self._order = sorted(self._levels, reverse=True)

    def ordered(self) -> Iterator[Job]:
        """Jobs in placement order; the queue must not change while this is iterated."""
        for priority in list(self._order):
            for job_id in list(self._levels.get(priority, ())):
                yield self._jobs[job_id]

    def earliest_not_before(self, now: datetime | None = None) -> datetime | None:
        """The soonest end of a retry backoff still to come among queued jobs.

        Ended backoffs are forgotten: a job past its backoff that cannot be placed
        waits for capacity like any other, not for a timer that would fire at once.
        """
        now = now or utcnow()
        times = {i: t for i in self._delayed if (t := self._jobs[i].not_before) is not None}
        self._delayed = {i for i, t in times.items() if t > now}
        return min((times[i] for i in self._delayed), default=None)
