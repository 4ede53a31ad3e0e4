"""SignalHandler: turn SIGTERM/SIGINT into a wake-up of the main loop.

The Python-level handler only records the signal and writes one byte to a pipe.
It takes no lock: a handler runs on the main thread between two bytecodes, so
setting a threading.Event there can deadlock if the main thread already holds
that Event's lock. The main loop waits on the pipe instead and runs the
shutdown callbacks itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType, TracebackType
from typing import Self

log = logging.getLogger(__name__)

ShutdownCallback = Callable[[], object]
SignalHandlerFunc = Callable[[int, FrameType | None], object] | int | None


def exit_now(
    signum: int, why: str = "second signal", last: Callable[[], None] | None = None
) -> None:
    """Leave the process at once, after a best-effort flush of stderr and ``last()``."""
    # The interrupted code may be in the middle of writing stderr, so its flush
    # can fail; the notice goes straight to the descriptor.
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    with contextlib.suppress(OSError):
        os.write(2, f"corral.worker: {why} (signal {signum}), exiting now\n".encode())
    # Writes let other threads run; nothing between last() and the exit waits.
    if last is not None:
        last()
    os._exit(128 + signum)


class SignalHandler:
    """First signal: wake the main loop for a graceful shutdown. Second: exit at once.

    A signal in ``urgent`` goes to ``immediate_exit`` each time it comes, which may
    return instead (after a ``wake()``) to have the main loop act on it.
    """

    def __init__(
        self,
        signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
        *,
        urgent: Iterable[signal.Signals] = (),
        immediate_exit: Callable[[int], None] = exit_now,
    ) -> None:
        self.urgent = tuple(urgent)
        self.signals = (*signals, *self.urgent)
        self.received: list[int] = []
        self._immediate_exit = immediate_exit
        self._callbacks: list[ShutdownCallback] = []
        self._previous: dict[signal.Signals, SignalHandlerFunc] = {}
        self._requested = threading.Event()
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._write_fd, False)
        self._callbacks_ran = False

    def on_shutdown(self, callback: ShutdownCallback) -> Self:
        """Add a callback for the graceful shutdown; callbacks run in the order added."""
        self._callbacks.append(callback)
        return self

    def install(self) -> Self:
        """Install the handler for each signal (main thread only)."""
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        """Put back the handlers that were there before ``install()``."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """Record the signal and wake the main loop; a repeated or urgent signal means now."""
        self.received.append(signum)
        if len(self.received) > 1 or signum in self.urgent:
            self._immediate_exit(signum)
            return
        self._poke()

    def _poke(self) -> None:
        """Make the read end of the pipe readable; a full pipe is already readable."""
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._write_fd, b"\0")

    def wake(self) -> None:
        """Wake the main loop from any thread without a signal (e.g. a fatal error)."""
        self._poke()

    @property
    def signal_received(self) -> int | None:
        """The first signal received, if any."""
        return self.received[0] if self.received else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block the calling thread until woken or ``timeout``; True if woken."""
        if self._requested.is_set():
            return True
        readable, _, _ = select.select([self._read_fd], [], [], timeout)
        if readable:
            os.read(self._read_fd, 4096)
            self._requested.set()
        return self._requested.is_set()

    @property
    def woken(self) -> bool:
        """Whether ``wait()`` has seen a wake-up."""
        return self._requested.is_set()

    def run_callbacks(self) -> None:
        """Run the shutdown callbacks once, in order; a failing one does not stop the rest."""
        if self._callbacks_ran:
            return
        self._callbacks_ran = True
        for callback in self._callbacks:
            try:
                callback()
            except Exception:
                log.exception("shutdown callback %r failed", callback)

    def close(self) -> None:
        """Restore the previous handlers and release the pipe."""
        self.restore()
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Self:
        return self.install()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
