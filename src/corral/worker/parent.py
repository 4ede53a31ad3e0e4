"""Tie the worker's life to its launching master process (Linux parent-death signal)."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def arm_parent_death_signal(parent_pid: int, signum: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``signum`` when our parent dies; False if it is gone already.

    The check after arming closes the race where the parent died before the
    request was made: then we were already re-parented and no signal will come.
    """
    if sys.platform.startswith("linux"):
        _prctl_pdeathsig(signum)
    else:
        log.debug("no parent-death signal on %s; relying on the parent pid check", sys.platform)
    return os.getppid() == parent_pid


def _prctl_pdeathsig(signum: int) -> None:
    """prctl(PR_SET_PDEATHSIG, signum) through libc."""
    # The running interpreter already links libc; looking it up by name would
    # spawn ldconfig and cost tens of milliseconds.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(errno))
