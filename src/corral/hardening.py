"""Process settings through prctl(2): tied to a parent, closed to the rest of its user.

Marked non-dumpable, a process's /proc/PID/environ, memory and file descriptors
belong to root: the jobs of a worker (running as the same user unless told to run as
another) cannot read a token or a key there, nor attach to it.

Standard library only: the worker imports it.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4


def prctl(option: int, value: int) -> int:
    """prctl(option, value) through libc; -errno on failure (ENOSYS off Linux)."""
    if not sys.platform.startswith("linux"):
        return -38
    # The running interpreter already links libc; looking it up by name would spawn
    # ldconfig and cost tens of milliseconds.
    libc = ctypes.CDLL(None, use_errno=True)
    result = int(libc.prctl(option, value, 0, 0, 0))
    return -ctypes.get_errno() if result < 0 else result


def make_undumpable() -> bool:
    """Mark this process non-dumpable; False where the platform does not allow it."""
    return prctl(PR_SET_DUMPABLE, 0) == 0 and prctl(PR_GET_DUMPABLE, 0) == 0


def error_text(result: int) -> str:
    """What a negative prctl result means."""
    return os.strerror(-result)
