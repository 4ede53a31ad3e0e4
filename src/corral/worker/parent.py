"""Tie the worker's life to its launching master process (Linux parent-death signal)."""

from __future__ import annotations

import logging
import os
import signal

from corral.hardening import PR_SET_PDEATHSIG, error_text, prctl

log = logging.getLogger(__name__)

# A signal of its own, not SIGTERM: the kernel sends it each time the thread that
# forked us exits (its children pass to a sibling thread, then to init), so a dying
# master may send it once or several times and it cannot be counted like an
# operator's signals. And with the master gone there is nobody to drain to: it means
# kill the jobs and exit now. A worker started this way has no terminal to hang up.
PARENT_DEATH_SIGNAL = signal.SIGHUP


def arm_parent_death_signal(parent_pid: int) -> bool:
    """Ask the kernel for PARENT_DEATH_SIGNAL when our parent dies; False if it is gone already.

    The check after arming closes the race where the parent died before the
    request was made: then we were already re-parented and no signal will come.
    Install the handler first: the signal's default action would leave the jobs behind.
    """
    result = prctl(PR_SET_PDEATHSIG, PARENT_DEATH_SIGNAL)
    if result < 0:
        log.warning(
            "no parent-death signal (%s); relying on the parent pid check", error_text(result)
        )
    return os.getppid() == parent_pid
