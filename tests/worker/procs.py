"""Process checks from /proc: a zombie counts as dead (PID 1 reaps orphans late)."""

from __future__ import annotations

from waiting import wait_for


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process, not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def wait_dead(pids: list[int], timeout: float = 5.0) -> None:
    """Wait until none of ``pids`` is alive."""
    wait_for(lambda: not any(alive(pid) for pid in pids), timeout, what=f"{pids} to die")
