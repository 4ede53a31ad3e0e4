"""Ending processes left behind: a worker of a previous master, a job of a dead worker."""

import logging
import os
import signal

import psutil

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


def kill_job_process(pid: int, job_id: int) -> bool:
    """SIGKILL the group of a job process its worker left; True if killed."""
    killed = kill_group_if(pid, ENV_JOB_ID, str(job_id))
    if killed:
        log.warning("job %d: killed process group %d left by its worker", job_id, pid)
    return killed
