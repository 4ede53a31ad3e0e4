"""How a worker's ``finished`` report ends an attempt, and the backoff before the next."""

import signal

import pytest

from corral.domain.jobs import Job, JobSpec, JobState, Reason
from corral.domain.outcomes import MAX_RETRY_DELAY_S, Outcome, outcome_of_report, retry_delay_s
from corral.protocol import JobEvent

J = JobState


def job(
    retry_delay_s: float = 0.0,
    attempt: int = 1,
    attempt_base: int = 0,
    max_attempts: int = 10,
    requeues: int = 0,
    max_requeues: int = 10,
) -> Job:
    spec = JobSpec(
        command=["true"],
        max_attempts=max_attempts,
        retry_delay_s=retry_delay_s,
        max_requeues=max_requeues,
    )
    return Job(
        id=1,
        spec=spec,
        state=J.RUNNING,
        attempt=attempt,
        attempt_base=attempt_base,
        requeues=requeues,
    )


def finished(**fields: object) -> JobEvent:
    event: JobEvent = {"type": "finished", "job_id": 1, "attempt": 1}
    event.update(fields)  # type: ignore[typeddict-item]
    return event


def test_clean_exit_succeeds() -> None:
    out = outcome_of_report(job(), finished(exit_code=0))
    assert out.state is J.SUCCEEDED and out.reason is None and not out.retryable
    assert out.describe() is None


def test_non_zero_exit_fails_retryably_with_the_code() -> None:
    out = outcome_of_report(job(), finished(exit_code=3))
    assert (out.state, out.reason, out.retryable, out.exit_code) == (
        J.FAILED,
        Reason.EXIT_CODE,
        True,
        3,
    )
    assert out.describe() == "exit code 3"


def test_death_by_signal_is_named() -> None:
    out = outcome_of_report(job(), finished(exit_code=None, signal=int(signal.SIGKILL)))
    assert out.state is J.FAILED and out.signal == signal.SIGKILL
    assert out.describe() == "signal SIGKILL"
    odd = outcome_of_report(job(), finished(signal=200))
    assert odd.describe() == "signal 200"


@pytest.mark.parametrize(
    ("said", "state", "reason"),
    [
        ("timeout", J.TIMED_OUT, Reason.TIMEOUT),
        ("drained", J.FAILED, Reason.DRAINED),
        ("fenced", J.FAILED, Reason.WORKER_LOST),
        ("oom", J.FAILED, Reason.OOM),
    ],
)
def test_worker_reasons_map_to_states(said: str, state: JobState, reason: Reason) -> None:
    out = outcome_of_report(job(), finished(signal=int(signal.SIGTERM), reason=said))
    assert (out.state, out.reason, out.retryable) == (state, reason, True)
    assert out.signal == signal.SIGTERM


def test_spawn_failure_keeps_its_detail() -> None:
    event = finished(exit_code=None, reason="spawn_failed", detail="no such file")
    out = outcome_of_report(job(), event)
    assert out.state is J.FAILED and out.reason is Reason.SPAWN_FAILED
    assert out.describe() == "spawn_failed: no such file"


def test_a_requested_cancel_wins_over_how_it_ended() -> None:
    j = job()
    j.cancel_requested = True
    out = outcome_of_report(j, finished(signal=int(signal.SIGTERM)))
    assert (out.state, out.reason, out.retryable) == (J.CANCELLED, Reason.CANCELLED, False)
    said = outcome_of_report(job(), finished(exit_code=1, reason="cancelled"))
    assert said.state is J.CANCELLED and not said.retryable


def test_backoff_doubles_per_attempt_since_the_last_manual_retry() -> None:
    fail = Outcome(J.FAILED, Reason.EXIT_CODE, True)
    assert [retry_delay_s(job(2.0, attempt=n), fail) for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
    # A manual retry restarts the count.
    assert retry_delay_s(job(2.0, attempt=6, attempt_base=5), fail) == 2.0
    assert retry_delay_s(job(0.0, attempt=3), fail) == 0.0
    assert retry_delay_s(job(100.0, attempt=1000), fail) == MAX_RETRY_DELAY_S


@pytest.mark.parametrize(
    "reason",
    [
        Reason.WORKER_CRASHED,
        Reason.WORKER_LOST,
        Reason.DRAINED,
        Reason.STARTUP_ORPHAN,
        Reason.ASSIGNMENT_LOST,
    ],
)
def test_no_backoff_when_the_worker_failed(reason: Reason) -> None:
    assert retry_delay_s(job(5.0, attempt=3), Outcome(J.FAILED, reason, True)) == 0.0


def test_what_the_worker_measured_rides_along() -> None:
    event = finished(exit_code=0, max_rss_bytes=1 << 20, cpu_seconds=1.5)
    out = outcome_of_report(job(), event)
    assert (out.max_rss_bytes, out.cpu_seconds) == (1 << 20, 1.5)


def test_infrastructure_losses_spend_requeues_not_attempts() -> None:
    crashed = Outcome(J.FAILED, Reason.WORKER_CRASHED, True)
    failed = Outcome(J.FAILED, Reason.EXIT_CODE, True)
    # One attempt allowed, already on its first: a crash still tries again.
    assert crashed.tries_again(job(max_attempts=1))
    assert not failed.tries_again(job(max_attempts=1))
    # Three requeues behind it: the first real attempt is the one running now.
    third = job(max_attempts=2, attempt=4, requeues=3)
    assert third.attempts_left == 1 and failed.tries_again(third)
    # Requeues run out on their own budget.
    assert not crashed.tries_again(job(requeues=2, max_requeues=2))
    assert crashed.tries_again(job(requeues=1, max_requeues=2))


def test_backoff_counts_only_the_jobs_own_failures() -> None:
    fail = Outcome(J.FAILED, Reason.EXIT_CODE, True)
    # Attempt 3 after two requeues is the job's first own failure.
    assert retry_delay_s(job(2.0, attempt=3, requeues=2), fail) == 2.0
