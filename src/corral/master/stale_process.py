"""Ending processes left behind: a worker of a previous master, a job of a dead worker."""

import logging
import os
import signal
import time
from collections.abc import Iterable

import psutil

from corral.domain.jobs import Job
from corral.domain.worker_states import ACTIVE_STATES
from corral.domain.workers import WorkerRuntime
from corral.procfs import process_start_time
from corral.protocol import ENV_JOB_ID

log = logging.getLogger("corral.master")


def kill_group_if(pid: int, variable: str, value: str) -> bool:
    """SIGKILL the process group of ``pid`` if its environment has ``variable=value``.

    The environment check guards against a recycled pid belonging to someone else.
    True if the group was signalled.
    """
    try:
        if psutil.Process(pid).environ().get(variable) != value:
            return False
        os.killpg(pid, signal.SIGKILL)
    except (psutil.Error, ProcessLookupError, PermissionError):
        return False
    return True


def kill_stale_worker(pid: int, worker_id: str) -> bool:
    """SIGKILL the group of a worker process a previous master left; True if killed.

    Recognised by its command line, which anyone may read: a worker is non-dumpable,
    so its environment is closed even to its own user.
    """
    try:
        argv = psutil.Process(pid).cmdline()
    except psutil.Error:
        return False
    ours = "corral.worker" in argv and _option(argv, "--worker-id") == worker_id
    killed = ours and _killpg(pid)
    if killed:
        log.warning("%s: killed process group %d left by the previous master", worker_id, pid)
    return killed


def kill_job_process(job: Job) -> bool:
    """SIGKILL the group of a job process its worker left; True if killed.

    The process is recognised by its start time when the worker reported it (a job
    may wipe its own environment), else by the job id in its environment.
    """
    pid = job.pid
    if pid is None:
        return False
    if job.pid_start is None:
        killed = kill_group_if(pid, ENV_JOB_ID, str(job.id))
    else:
        killed = process_start_time(pid) == job.pid_start and _killpg(pid)
    if killed:
        log.warning("job %d: killed process group %d left by its worker", job.id, pid)
    return killed


def _option(argv: list[str], name: str) -> str | None:
    """The value given to an option in a command line, if any."""
    for index, arg in enumerate(argv[:-1]):
        if arg == name:
            return argv[index + 1]
    return None


def _killpg(pid: int) -> bool:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def end_stale_workers(runtimes: Iterable[WorkerRuntime], timeout_s: float = 5.0) -> int:
    """SIGKILL the workers a killed master left, and wait until they are gone.

    Done first at start: a worker still alive could record outcomes after the new
    master has read its ledger. Returns how many were killed.
    """
    killed = [
        rt.pid
        for rt in runtimes
        if rt.state in ACTIVE_STATES and rt.pid and kill_stale_worker(rt.pid, rt.worker_id)
    ]
    deadline = time.monotonic() + timeout_s
    while any(_alive(pid) for pid in killed) and time.monotonic() < deadline:
        # Waiting for the kernel to finish off processes we killed: nothing else to wait on.
        time.sleep(0.01)
    return len(killed)


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
