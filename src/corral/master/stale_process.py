"""Finding and ending worker processes that a previous master left behind."""

import logging
import os
import signal

import psutil

from corral.protocol import ENV_WORKER_ID

log = logging.getLogger("corral.master")


def kill_stale_worker(pid: int, worker_id: str) -> bool:
    """SIGKILL the process group of ``pid`` if it is still that worker; True if killed.

    The environment check guards against a recycled pid belonging to someone else.
    """
    try:
        if psutil.Process(pid).environ().get(ENV_WORKER_ID) != worker_id:
            return False
        os.killpg(pid, signal.SIGKILL)
    except (psutil.Error, ProcessLookupError, PermissionError):
        return False
    log.warning("%s: killed process group %d left by the previous master", worker_id, pid)
    return True
