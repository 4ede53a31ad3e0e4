"""The events a worker reports about an attempt (see ``JobEvent`` in the protocol)."""

from __future__ import annotations

import time

from corral.protocol import JobEvent
from corral.worker.cgroups import Usage
from corral.worker.outbox import AttemptKey


def started_event(
    key: AttemptKey, pid: int, cpu_ids: list[int], start_time: int | None = None
) -> JobEvent:
    """A ``started`` event: the group's leader (pid and start time) and its CPUs."""
    event: JobEvent = {
        "type": "started",
        "job_id": key[0],
        "attempt": key[1],
        "at": time.time(),
        "pid": pid,
        "cpu_ids": cpu_ids,
    }
    if start_time is not None:
        event["start_time"] = start_time
    return event


def finished_event(
    key: AttemptKey,
    returncode: int | None,
    reason: str | None,
    detail: str | None = None,
    usage: Usage | None = None,
) -> JobEvent:
    """A ``finished`` event: exit code or signal number, the worker's reason, what it used."""
    exited = returncode is not None and returncode >= 0
    event: JobEvent = {
        "type": "finished",
        "job_id": key[0],
        "attempt": key[1],
        "at": time.time(),
        "exit_code": returncode if exited else None,
        "signal": -returncode if returncode is not None and not exited else None,
        "reason": reason,
    }
    if detail is not None:
        event["detail"] = detail
    if usage is not None:
        event["max_rss_bytes"] = usage.max_rss_bytes
        event["cpu_seconds"] = usage.cpu_seconds
    return event
