"""Run a JobProcess in the test's own process: spawn, wait for the leader, read its output."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Callable

from corral.protocol import Assignment
from corral.worker.cgroups import Containment
from corral.worker.job_process import JobProcess

from .fake_master import assignment

# A shell job that starts a grandchild in a session of its own, prints its pid, and goes on.
ESCAPE = "setsid sleep 301 >/dev/null 2>&1 </dev/null & echo $!; "
BUSY = "import time\nwhile time.process_time() < 0.3:\n    pass\n"


def job(command: list[str], memory_mb: int | None = None, job_id: int = 1) -> Assignment:
    """An assignment with a memory limit."""
    made = assignment(job_id, command)
    made["memory_mb"] = memory_mb
    return made


def start(spec: Assignment, containment: Containment | None) -> JobProcess:
    """Spawn the job on every CPU this process may use, as the executor would."""
    base = {"PATH": os.environ.get("PATH", os.defpath)}
    return JobProcess(spec, [], base, os.sched_getaffinity(0), containment)


def wait_exit(job: JobProcess, timeout: float = 10.0) -> int:
    """Wait for the leader to exit, then reap it (killing what is left of the job)."""
    ready, _, _ = select.select([job.pidfd], [], [], timeout)
    assert ready, f"job {job.key} still running after {timeout} s"
    return job.reap()


def stdout_line(job: JobProcess, timeout: float = 10.0) -> str:
    """The first line the job printed, waiting for it."""
    return _read_stdout(job, lambda data: b"\n" in data, timeout).split("\n", 1)[0]


def all_stdout(job: JobProcess, timeout: float = 10.0) -> str:
    """Everything the job printed, once its stdout is closed."""
    return _read_stdout(job, lambda data: False, timeout)


def _read_stdout(job: JobProcess, enough: Callable[[bytes], bool], timeout: float) -> str:
    """Read the job's stdout until ``enough`` of it or its end."""
    fd = next(fd for fd, name in job.streams.items() if name == "stdout")
    data = b""
    deadline = time.monotonic() + timeout
    while not enough(data):
        left = deadline - time.monotonic()
        assert left > 0, f"job {job.key} still writing after {timeout} s: {data!r}"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    return data.decode()
