"""PendingQueue: placement order, requeues, removal and retry backoffs."""

from datetime import timedelta

from corral.domain.clock import utcnow
from corral.domain.jobs import Job, JobSpec
from corral.domain.queue import PendingQueue


def job(job_id: int, priority: int = 0) -> Job:
    return Job(id=job_id, spec=JobSpec(command=["true"], priority=priority))


def order(queue: PendingQueue) -> list[int]:
    return [j.id for j in queue.ordered()]


def test_highest_priority_first_then_oldest() -> None:
    q = PendingQueue()
    for j in [job(1), job(2, priority=5), job(3), job(4, priority=-1), job(5, priority=5)]:
        q.add(j)
    assert order(q) == [2, 5, 1, 3, 4]
    assert len(q) == 5


def test_a_requeued_older_job_goes_back_to_its_place() -> None:
    q = PendingQueue()
    old = job(2)
    for j in [job(1), old, job(3), job(7)]:
        q.add(j)
    q.remove(old)
    q.add(job(9))
    q.add(old)
    assert order(q) == [1, 2, 3, 7, 9]


def test_adding_twice_keeps_one_entry() -> None:
    q = PendingQueue()
    j = job(1)
    q.add(j)
    q.add(j)
    assert order(q) == [1] and len(q) == 1


def test_remove_drops_the_job_and_empty_levels() -> None:
    q = PendingQueue()
    high, low = job(1, priority=9), job(2)
    q.add(high)
    q.add(low)
    q.remove(high)
    q.remove(high)  # a second remove is harmless
    assert order(q) == [2] and len(q) == 1
    q.remove(low)
    assert order(q) == [] and len(q) == 0
    q.add(job(3, priority=9))
    assert order(q) == [3]


def test_earliest_not_before_is_the_soonest_pending_backoff() -> None:
    q = PendingQueue()
    now = utcnow()
    soon, later, plain = job(1), job(2), job(3)
    soon.not_before = now + timedelta(seconds=30)
    later.not_before = now + timedelta(seconds=90)
    for j in (later, soon, plain):
        q.add(j)
    assert q.earliest_not_before() == soon.not_before
    q.remove(soon)
    assert q.earliest_not_before() == later.not_before
    q.remove(later)
    assert q.earliest_not_before() is None


def test_a_backoff_that_has_ended_is_not_waited_for_again() -> None:
    q = PendingQueue()
    done = job(1)
    done.not_before = utcnow() - timedelta(seconds=1)
    q.add(done)
    # Still queued (no worker free), but nothing is left to wake up for: a past time
    # here would make the scheduler re-arm its timer at once, forever.
    assert order(q) == [1]
    assert q.earliest_not_before() is None
