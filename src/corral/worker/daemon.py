"""DaemonThread: a background loop that calls one step every interval."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Self

log = logging.getLogger(__name__)


class DaemonThread(threading.Thread):
    """A daemon thread that calls ``do_work()`` every ``interval`` seconds until stopped.

    Use it as a context manager: entering starts it, leaving stops and joins it.
    Exceptions from ``do_work()`` are logged and counted, never fatal to the loop.
    """

    def __init__(
        self, interval: float, *, name: str | None = None, run_immediately: bool = True
    ) -> None:
        super().__init__(name=name or type(self).__name__, daemon=True)
        self.interval = interval
        self.run_immediately = run_immediately
        self.runs = 0
        self.errors = 0
        self.last_error: Exception | None = None
        self._stop_requested = threading.Event()

    def do_work(self) -> None:
        """Do one unit of work; subclasses override this."""
        raise NotImplementedError

    def run_once(self) -> bool:
        """Run ``do_work()`` once; return False if it raised."""
        self.runs += 1
        try:
            self.do_work()
        except Exception as exc:
            self.errors += 1
            self.last_error = exc
            log.exception("%s: step failed (%d errors so far)", self.name, self.errors)
            return False
        return True

    def run(self) -> None:
        """Loop until stopped, keeping a steady cadence whatever each step costs."""
        next_run = time.monotonic()
        if not self.run_immediately:
            next_run += self.interval
        while not self._stop_requested.wait(max(0.0, next_run - time.monotonic())):
            self.run_once()
            # Skip missed ticks rather than firing a burst after a slow step.
            next_run = max(next_run + self.interval, time.monotonic())

    @property
    def stopping(self) -> bool:
        """Whether a stop was requested."""
        return self._stop_requested.is_set()

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds inside ``do_work``; True if a stop came first."""
        return self._stop_requested.wait(timeout)

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to end and wait up to ``timeout`` seconds for it."""
        self._stop_requested.set()
        if self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
