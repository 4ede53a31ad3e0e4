"""How an attempt ended, from a worker's report, and what follows: a retry, a requeue, an end."""

import signal as signals
from dataclasses import dataclass, replace

from corral.domain.jobs import INFRA, Job, JobState, Reason
from corral.protocol import JobEvent

J = JobState
MAX_RETRY_DELAY_S = 3600.0
# What a worker may say of an attempt it ended, and what that means.
_WORKER_REASONS = {
    "timeout": (J.TIMED_OUT, Reason.TIMEOUT),
    "drained": (J.FAILED, Reason.DRAINED),
    "fenced": (J.FAILED, Reason.WORKER_LOST),
    "spawn_failed": (J.FAILED, Reason.SPAWN_FAILED),
    "oom": (J.FAILED, Reason.OOM),
}


@dataclass(frozen=True)
class Outcome:
    """The end of one attempt: the state it leads to unless the job is tried again."""

    state: JobState
    reason: Reason | None = None
    retryable: bool = False
    exit_code: int | None = None
    signal: int | None = None
    detail: str | None = None
    max_rss_bytes: int | None = None
    cpu_seconds: float | None = None

    def describe(self) -> str | None:
        """The reason for people: 'exit code 3', 'timeout: after 5 s'; None for a success."""
        if self.reason is None:
            return None
        if self.reason is Reason.EXIT_CODE and self.detail:
            return self.detail  # "exit code 3" says its reason already
        return f"{self.reason}: {self.detail}" if self.detail else str(self.reason)

    @property
    def infra(self) -> bool:
        """Whether the infrastructure, not the job, lost the attempt."""
        return self.reason in INFRA

    def tries_again(self, job: Job) -> bool:
        """Whether the job goes back to pending: requeues and attempts are budgets apart."""
        if self.infra:
            return job.requeues < job.spec.max_requeues
        return self.retryable and job.attempts_left > 0


def exit_words(exit_code: int | None, signal: int | None) -> str:
    """'exit code 3' or 'signal SIGKILL'."""
    if signal is not None:
        try:
            return f"signal {signals.Signals(signal).name}"
        except ValueError:
            return f"signal {signal}"
    return f"exit code {exit_code}"


def outcome_of_report(job: Job, event: JobEvent) -> Outcome:
    """Judge a ``finished`` report: cancels stay cancelled, failures may be retried."""
    return replace(
        _judge(job, event),
        max_rss_bytes=event.get("max_rss_bytes"),
        cpu_seconds=event.get("cpu_seconds"),
    )


def _judge(job: Job, event: JobEvent) -> Outcome:
    exit_code, signal = event.get("exit_code"), event.get("signal")
    said = event.get("reason")
    if job.cancel_requested or said == "cancelled":
        return Outcome(J.CANCELLED, Reason.CANCELLED, False, exit_code, signal)
    if said in _WORKER_REASONS:
        state, reason = _WORKER_REASONS[said]
        return Outcome(state, reason, True, exit_code, signal, event.get("detail"))
    if exit_code == 0 and signal is None:
        return Outcome(J.SUCCEEDED, exit_code=0)
    words = exit_words(exit_code, signal)
    return Outcome(J.FAILED, Reason.EXIT_CODE, True, exit_code, signal, words)


def retry_delay_s(job: Job, outcome: Outcome) -> float:
    """Backoff before the next attempt: none after a requeue, doubling for the job's own."""
    if outcome.infra:
        return 0.0
    tries = max(job.attempt - job.attempt_base - job.requeues, 1)
    return min(job.spec.retry_delay_s * 2.0 ** (tries - 1), MAX_RETRY_DELAY_S)
