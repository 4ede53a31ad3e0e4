"""Ending processes left behind: a worker of a previous master, a job of a dead worker."""

import logging
import os
import signal

import psutil

from corral.domain.jobs import Job
from corral.procfs import process_start_time
from corral.protocol import ENV_JOB_ID, ENV_WORKER_ID

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
    """SIGKILL the group of a worker process a previous master left; True if killed."""
    killed = kill_group_if(pid, ENV_WORKER_ID, worker_id)
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


def _killpg(pid: int) -> bool:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True
