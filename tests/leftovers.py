"""Processes a failing test could leave running, killed at teardown (never a recycled pid)."""

import os
import signal

from corral.procfs import process_start_time


class Leftovers:
    """Pids noted with their start time; ``kill_all`` ends those that are still the same."""

    def __init__(self) -> None:
        self._started: dict[int, int] = {}

    def add(self, *pids: int) -> None:
        """Note processes to end at teardown."""
        for pid in pids:
            started = process_start_time(pid)
            if started is not None:
                self._started[pid] = started

    def kill_all(self) -> None:
        """SIGKILL each noted process that still runs (a zombie takes no harm)."""
        for pid, started in self._started.items():
            if process_start_time(pid) == started:
                os.kill(pid, signal.SIGKILL)
