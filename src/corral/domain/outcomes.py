"""How an attempt ended, from a worker's report, and how long to wait before the next one."""

import signal as signals
from dataclasses import dataclass

from corral.domain.jobs import Job, JobState, Reason
from corral.protocol import JobEvent

J = JobState
MAX_RETRY_DELAY_S = 3600.0


@dataclass(frozen=True)
class Outcome:
    """The end of one attempt: the state it leads to unless the job is retried."""

    state: JobState
    reason: Reason | None = None
    retryable: bool = False
    exit_code: int | None = None
    signal: int | None = None
    detail: str | None = None

    def describe(self) -> str | None:
        """The reason as stored: 'timeout', 'exit_code: exit code 3', 'spawn_failed: ...'."""
        if self.reason is None:
            return None
        return f"{self.reason}: {self.detail}" if self.detail else str(self.reason)


def _exit_words(exit_code: int | None, signal: int | None) -> str:
    if signal is not None:
        try:
            return f"signal {signals.Signals(signal).name}"
        except ValueError:
            return f"signal {signal}"
    return f"exit code {exit_code}"


def outcome_of_report(job: Job, event: JobEvent) -> Outcome:
    """Judge a ``finished`` report: cancels stay cancelled, failures may be retried."""
    exit_code, signal = event.get("exit_code"), event.get("signal")
    said = event.get("reason") or ""
    kind, _, detail = said.partition(": ")
    if job.cancel_requested or kind == "cancelled":
        return Outcome(J.CANCELLED, Reason.CANCELLED, exit_code=exit_code, signal=signal)
    if kind == "timeout":
        return Outcome(J.TIMED_OUT, Reason.TIMEOUT, True, exit_code, signal)
    if kind == "drained":
        return Outcome(J.FAILED, Reason.DRAINED, True, exit_code, signal)
    if kind == "fenced":
        return Outcome(J.FAILED, Reason.WORKER_LOST, True, exit_code, signal)
    if kind == "spawn_failed":
        return Outcome(J.FAILED, Reason.SPAWN_FAILED, True, exit_code, signal, detail or None)
    if exit_code == 0 and signal is None:
        return Outcome(J.SUCCEEDED, exit_code=0)
    words = _exit_words(exit_code, signal)
    return Outcome(J.FAILED, Reason.EXIT_CODE, True, exit_code, signal, words)


def retry_delay_s(job: Job, outcome: Outcome) -> float:
    """Backoff before the next attempt: none when the worker failed, doubling for the job."""
    if outcome.reason in (
        Reason.WORKER_CRASHED,
        Reason.WORKER_LOST,
        Reason.DRAINED,
        Reason.STARTUP_ORPHAN,
        Reason.ASSIGNMENT_LOST,
    ):
        return 0.0
    tries = max(job.attempt - job.attempt_base, 1)
    return min(job.spec.retry_delay_s * 2.0 ** (tries - 1), MAX_RETRY_DELAY_S)
