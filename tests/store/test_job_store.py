"""JobStore, insert_jobs and apply_writes against SQLite and PostgreSQL."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from corral.domain.jobs import Allocation, Job, JobSpec, JobState
from corral.errors import NotFoundError
from corral.sealing import KeyRing
from corral.store.jobs import JobStore
from corral.store.writes import Writes
from store.conftest import apply

J = JobState
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def store(engine: Engine, ring: KeyRing) -> JobStore:
    return JobStore(engine, ring)


_ids = itertools.count(1)


def new_job(*args: str, key: str | None = None, account: str | None = None, **spec: object) -> Job:
    """An unsaved pending job running ``args``, numbered as the master numbers them."""
    command = list(args) or ["true"]
    s = JobSpec(command=command, idempotency_key=key, account=account, **spec)  # type: ignore[arg-type]
    return Job(id=next(_ids), spec=s, submitted_at=T0, updated_at=T0)


def insert(store: JobStore, *jobs: Job) -> list[Job]:
    """Insert and return the stored jobs, checking each was created."""
    results = store.insert(jobs)
    assert all(created for _, created in results)
    return [job for job, _ in results]


def alloc(job_id: int, attempt: int = 1, cpu_ids: list[int] | None = None) -> Allocation:
    return Allocation(job_id, attempt, "w1", "inst-1", cpu_ids or [0], None, T0)


def test_insert_round_trips_every_field(store: JobStore) -> None:
    spec = JobSpec(
        command=["python", "-c", "print('é')"],
        cpus=3,
        env={"A": "1", "EMPTY": ""},
        cwd="/tmp",
        timeout_s=1.5,
        max_attempts=4,
        retry_delay_s=0.25,
        priority=-7,
        account="acct",
        labels={"gpu": "a100"},
        idempotency_key="k-1",
        memory_mb=64,
        run_as="nobody:nogroup",
    )
    (stored,) = insert(store, Job(id=next(_ids), spec=spec, submitted_at=T0, updated_at=T0))
    assert stored.id >= 1
    fetched = store.get(stored.id)
    assert fetched.spec == spec
    assert fetched.state is J.PENDING and fetched.attempt == 0 and fetched.cpu_ids == []
    assert fetched.submitted_at == T0 and fetched.submitted_at.tzinfo is not None


def test_insert_gives_increasing_ids_in_submission_order(store: JobStore) -> None:
    first = insert(store, *(new_job("echo", str(i)) for i in range(5)))
    second = insert(store, new_job("echo", "later"))
    ids = [j.id for j in first + second]
    assert ids == sorted(ids) and len(set(ids)) == 6
    assert [store.get(i).spec.command[1] for i in ids] == ["0", "1", "2", "3", "4", "later"]


def test_ids_follow_submission_order_when_keys_are_mixed_in(store: JobStore) -> None:
    jobs = insert(store, new_job("a"), new_job("b", key="kb"), new_job("c"), new_job("d", key="kd"))
    ids = [j.id for j in jobs]
    assert [j.spec.command[0] for j in jobs] == ["a", "b", "c", "d"]
    assert ids == sorted(ids), "a job submitted earlier must get the lower id (it is older)"


def test_known_idempotency_key_returns_the_existing_job(store: JobStore) -> None:
    (original,) = insert(store, new_job("first", key="same"))
    ((again, created),) = store.insert([new_job("second", key="same")])
    assert created is False
    assert again.id == original.id and again.spec.command == ["first"]
    assert store.count_by_state() == {"pending": 1}


def test_key_repeated_in_one_batch_makes_one_job(store: JobStore) -> None:
    results = store.insert([new_job("one", key="dup"), new_job("free"), new_job("two", key="dup")])
    assert [created for _, created in results] == [True, True, False]
    (first, _), (free, _), (repeat, _) = results
    assert repeat.id == first.id and repeat.spec.command == ["one"]
    assert free.id != first.id
    assert store.count_by_state() == {"pending": 2}


def test_get_unknown_job_raises_not_found(store: JobStore) -> None:
    with pytest.raises(NotFoundError, match="job 4242"):
        store.get(4242)


def setup_listing(store: JobStore) -> list[Job]:
    """Six jobs: states, workers and accounts spread over them."""
    jobs = insert(
        store,
        new_job("j1", account="alice"),
        new_job("j2", account="bob"),
        new_job("j3", account="alice"),
        new_job("j4"),
        new_job("j5", account="alice"),
        new_job("j6"),
    )
    w = Writes()
    w.job(jobs[0].id, {"state": "running", "worker_id": "w1"})
    w.job(jobs[1].id, {"state": "succeeded", "worker_id": "w2", "finished_at": T0})
    w.job(jobs[2].id, {"state": "failed", "worker_id": "w1", "finished_at": T0})
    w.job(jobs[4].id, {"state": "assigned", "worker_id": "w2"})
    apply(store._engine, w)
    return jobs


def ids_of(jobs: list[Job]) -> list[int]:
    return [j.id for j in jobs]


def test_list_filters_by_state_worker_and_account(store: JobStore) -> None:
    j = ids_of(setup_listing(store))
    assert ids_of(store.list()) == j[::-1]
    assert ids_of(store.list(states=["pending"])) == [j[5], j[3]]
    assert ids_of(store.list(states=[J.RUNNING, J.FAILED])) == [j[2], j[0]]
    assert ids_of(store.list(worker_id="w1")) == [j[2], j[0]]
    assert ids_of(store.list(account="alice")) == [j[4], j[2], j[0]]
    assert ids_of(store.list(account="alice", worker_id="w2", states=["assigned"])) == [j[4]]
    assert store.list(account="nobody") == []


def test_list_pages_newest_first_by_before_id(store: JobStore) -> None:
    j = ids_of(setup_listing(store))
    page1 = ids_of(store.list(limit=4))
    assert page1 == [j[5], j[4], j[3], j[2]]
    page2 = ids_of(store.list(limit=4, before_id=page1[-1]))
    assert page2 == [j[1], j[0]]
    assert ids_of(store.list(limit=1, before_id=j[5], account="alice")) == [j[4]]
    assert store.list(before_id=j[0]) == []


def test_unfinished_returns_pending_assigned_running_oldest_first(store: JobStore) -> None:
    j = ids_of(setup_listing(store))
    unfinished = store.unfinished()
    assert ids_of(unfinished) == [j[0], j[3], j[4], j[5]]
    assert [s.state for s in unfinished] == [J.RUNNING, J.PENDING, J.ASSIGNED, J.PENDING]


def test_count_by_state(store: JobStore) -> None:
    assert store.count_by_state() == {}
    setup_listing(store)
    assert store.count_by_state() == {
        "pending": 2,
        "running": 1,
        "assigned": 1,
        "succeeded": 1,
        "failed": 1,
    }


def test_updates_of_one_job_in_one_batch_keep_the_later_values(store: JobStore) -> None:
    a, b = insert(store, new_job("a"), new_job("b"))
    w = Writes()
    w.job(a.id, {"state": "assigned", "attempt": 1, "worker_id": "w1", "cpu_ids": []})
    w.job(b.id, {"priority": 5})  # a different set of columns: a second statement
    w.job(a.id, {"state": "running", "cpu_ids": [2, 3], "started_at": T0})
    w.job(a.id, {"state": "pending", "worker_id": None})
    apply(store._engine, w)
    got = store.get(a.id)
    assert got.state is J.PENDING and got.worker_id is None
    assert got.attempt == 1 and got.cpu_ids == [2, 3] and got.started_at == T0
    assert store.get(b.id).spec.priority == 5
    assert store.get(b.id).state is J.PENDING


def test_allocation_added_then_released_in_one_batch_leaves_no_row(store: JobStore) -> None:
    a, b = insert(store, new_job("a"), new_job("b"))
    w = Writes()
    w.allocations[a.id] = alloc(a.id, cpu_ids=[0, 1])
    w.allocations[b.id] = alloc(b.id, cpu_ids=[2])
    w.allocations[a.id] = None
    apply(store._engine, w)
    assert store.allocations() == [alloc(b.id, cpu_ids=[2])]


def test_allocation_replaced_then_released_across_batches(store: JobStore) -> None:
    (a,) = insert(store, new_job("a"))
    first = Writes()
    first.allocations[a.id] = alloc(a.id, attempt=1, cpu_ids=[0])
    apply(store._engine, first)
    second = Writes()
    second.allocations[a.id] = alloc(a.id, attempt=2, cpu_ids=[1, 2])
    apply(store._engine, second)
    assert store.allocations() == [alloc(a.id, attempt=2, cpu_ids=[1, 2])]
    third = Writes()
    third.allocations[a.id] = None
    apply(store._engine, third)
    assert store.allocations() == []


def test_prune_deletes_only_old_finished_jobs(store: JobStore) -> None:
    old_done, old_failed, new_done, running, pending = insert(
        store, *(new_job(f"j{i}") for i in range(5))
    )
    w = Writes()
    w.job(old_done.id, {"state": "succeeded", "finished_at": T0 - timedelta(days=3)})
    w.job(old_failed.id, {"state": "failed", "finished_at": T0 - timedelta(days=2)})
    w.job(new_done.id, {"state": "succeeded", "finished_at": T0})
    # An active job never goes, even with an old finished_at left from an earlier attempt.
    w.job(running.id, {"state": "running", "finished_at": T0 - timedelta(days=5)})
    apply(store._engine, w)
    assert store.prune(T0 - timedelta(days=1), limit=1) == [old_done.id]
    assert store.prune(T0 - timedelta(days=1)) == [old_failed.id]
    assert store.prune(T0 - timedelta(days=1)) == []
    assert ids_of(store.list()) == [pending.id, running.id, new_done.id]
