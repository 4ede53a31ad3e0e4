"""plan() and refusal(): where pending jobs go, and which jobs no worker could ever hold."""

import random
from datetime import UTC, datetime, timedelta

from corral.domain.jobs import Job, JobSpec
from corral.domain.placement import FleetWorker, Slot, can_ever_hold, plan, refusal

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
_ids = iter(range(1, 1_000_000))


def job(
    cpus: int = 1,
    account: str | None = None,
    labels: dict[str, str] | None = None,
    not_before: datetime | None = None,
    run_as: str | None = None,
) -> Job:
    """A pending job with a fresh, increasing id."""
    spec = JobSpec(command=["true"], cpus=cpus, account=account, labels=labels or {}, run_as=run_as)
    return Job(id=next(_ids), spec=spec, not_before=not_before)


def slot(worker_id: str, capacity: int, free: int | None = None, **kw: object) -> Slot:
    return Slot(worker_id, capacity, capacity if free is None else free, **kw)  # type: ignore[arg-type]


def where(placed: list[tuple[Job, Slot]]) -> dict[int, str]:
    """job id -> worker id of each placement."""
    return {j.id: s.worker_id for j, s in placed}


def test_places_on_the_tightest_fit_and_takes_the_cpus() -> None:
    big, small = slot("big", 8), slot("small", 4, free=2)
    j = job(cpus=2)
    assert where(plan([j], [big, small], NOW, {})) == {j.id: "small"}
    assert small.free == 0 and big.free == 8


def test_walks_jobs_in_the_given_order() -> None:
    first, second = job(cpus=2), job(cpus=2)
    only = slot("w", 2)
    assert where(plan([second, first], [only], NOW, {})) == {second.id: "w"}


def test_capacity_is_never_exceeded() -> None:
    rng = random.Random(7)
    for _ in range(300):
        slots = [slot(f"w{i}", c, free=rng.randint(0, c)) for i, c in enumerate([1, 2, 4, 8])]
        before = {s.worker_id: s.free for s in slots}
        jobs = [job(cpus=rng.randint(1, 9)) for _ in range(rng.randint(0, 12))]
        placed = plan(jobs, slots, NOW, {})
        for s in slots:
            used = sum(j.spec.cpus for j, p in placed if p is s)
            assert s.free >= 0 and used == before[s.worker_id] - s.free
        assert len({j.id for j, _ in placed}) == len(placed)


def test_big_job_holds_back_its_worker_from_smaller_jobs_behind_it() -> None:
    w = slot("w", 4, free=2)
    other = slot("other", 1)
    big, small1, small2 = job(cpus=4), job(cpus=1), job(cpus=1)
    placed = where(plan([big, small1, small2], [w, other], NOW, {}))
    # w is reserved for the big job; the small ones may only use the other worker.
    assert placed == {small1.id: "other"}
    assert w.free == 2


def test_a_job_that_fits_nowhere_ever_reserves_nothing() -> None:
    w = slot("w", 2)
    huge, small = job(cpus=3), job(cpus=1)
    assert where(plan([huge, small], [w], NOW, {})) == {small.id: "w"}


def test_retry_backoff_is_respected() -> None:
    later = job(not_before=NOW + timedelta(seconds=1))
    due = job(not_before=NOW - timedelta(seconds=1))
    assert where(plan([later, due], [slot("w", 4)], NOW, {})) == {due.id: "w"}


def test_one_job_of_an_account_at_a_time() -> None:
    a1, a2, b1 = job(account="a"), job(account="a"), job(account="b")
    w = slot("w", 8, max_accounts=4)
    assert where(plan([a1, a2, b1], [w], NOW, {})) == {a1.id: "w", b1.id: "w"}
    assert w.accounts == {"a": 1, "b": 1}
    # An account already running somewhere waits.
    a3 = job(account="a")
    assert plan([a3], [w, slot("x", 8, max_accounts=4)], NOW, {}) == []


def test_an_account_running_on_a_draining_worker_is_still_busy() -> None:
    draining = slot("d", 4, free=3, accounts={"a": 1}, accepting=False)
    assert plan([job(account="a")], [draining, slot("x", 4)], NOW, {}) == []


def test_account_goes_back_to_its_last_worker() -> None:
    tight, home = slot("tight", 1), slot("home", 8)
    j = job(account="a")
    assert where(plan([j], [tight, home], NOW, {"a": "home"})) == {j.id: "home"}
    # The home is not used if the job does not fit there now.
    full_home = slot("home", 8, free=0)
    k = job(account="a")
    assert where(plan([k], [tight, full_home], NOW, {"a": "home"})) == {k.id: "tight"}


def test_max_accounts_limits_distinct_accounts_per_worker() -> None:
    w = slot("w", 8, max_accounts=1, accounts={"a": 1})
    b, anon = job(account="b"), job()
    assert where(plan([b, anon], [w], NOW, {})) == {anon.id: "w"}
    other = slot("other", 8, max_accounts=1)
    assert where(plan([b], [w, other], NOW, {})) == {b.id: "other"}
    no_accounts = slot("n", 8, max_accounts=0)
    assert plan([job(account="c")], [no_accounts], NOW, {}) == []


def test_labels_must_match_and_draining_workers_get_nothing() -> None:
    gpu = slot("gpu", 4, labels={"gpu": "a100"})
    plain = slot("plain", 4)
    j = job(labels={"gpu": "a100"})
    assert where(plan([j], [plain, gpu], NOW, {})) == {j.id: "gpu"}
    assert plan([job(labels={"gpu": "h100"})], [plain, gpu], NOW, {}) == []
    assert plan([job()], [slot("d", 4, accepting=False)], NOW, {}) == []


def test_scan_limit_bounds_the_pass() -> None:
    jobs = [job() for _ in range(5)]
    assert len(plan(jobs, [slot("w", 8)], NOW, {}, scan_limit=3)) == 3


def test_can_ever_hold_ignores_what_is_busy_now() -> None:
    assert can_ever_hold(slot("w", 4, free=0), job(cpus=4))
    assert not can_ever_hold(slot("w", 4), job(cpus=5))


def test_a_job_goes_only_to_workers_that_run_jobs_as_its_user() -> None:
    own = slot("own", 2)
    as_nobody = slot("as-nobody", 2, run_as="nobody")
    allows = slot("allows", 2, allowed_run_as=frozenset({"nobody:nogroup", "daemon"}))
    j = job(run_as="nobody")
    assert where(plan([j], [own, allows, as_nobody], NOW, {})) == {j.id: "as-nobody"}
    assert can_ever_hold(allows, job(run_as="daemon"))
    assert can_ever_hold(allows, job(run_as="nobody:nogroup"))
    # Each entry exactly as written: a user allowed with its own group, not with another.
    assert not can_ever_hold(as_nobody, job(run_as="nobody:root"))
    assert not can_ever_hold(own, job(run_as="root"))
    assert can_ever_hold(own, job())


FLEET = {
    "small": FleetWorker(capacity=2, labels={}, max_accounts=1),
    "gpu": FleetWorker(capacity=4, labels={"gpu": "yes"}, max_accounts=0),
}


def test_refusal_explains_jobs_no_worker_could_ever_hold() -> None:
    assert refusal(job(cpus=2), FLEET) is None
    assert refusal(job(cpus=4, labels={"gpu": "yes"}), FLEET) is None
    too_big = refusal(job(cpus=5), FLEET)
    assert too_big is not None and "5 CPUs" in too_big and "largest has 4" in too_big
    labels = refusal(job(labels={"zone": "b"}), FLEET)
    assert labels is not None and "labels" in labels and "zone" in labels
    account = refusal(job(account="a", labels={"gpu": "yes"}), FLEET)
    assert account is not None and "max_accounts 0" in account
    user = refusal(job(run_as="nobody"), FLEET)
    assert user is not None and "run as 'nobody'" in user and "allowed_run_as" in user
    fleet = {**FLEET, "sandbox": FleetWorker(2, {}, 1, allowed_run_as=frozenset({"nobody"}))}
    assert refusal(job(run_as="nobody"), fleet) is None


def test_refusal_accepts_when_unsure() -> None:
    assert refusal(job(cpus=64), {}) is None
    unknown = {"w": FleetWorker(capacity=None, labels={}, max_accounts=1)}
    assert refusal(job(cpus=64), unknown) is None
