"""Outbox: job events waiting to go to the master, in order, with output bounded.

The executor puts events in; the reporter takes them in batches and puts a
batch back at the front when the master could not be reached. Consecutive
output of one stream is merged into one event up to a chunk size. A job's
output that is waiting to be sent is capped: past the cap, new output is
dropped and counted, and a marker line says so when output flows again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from corral.protocol import JobEvent

AttemptKey = tuple[int, int]  # (job_id, attempt)

OUTPUT_CHUNK_CHARS = 64 * 1024
MAX_PENDING_OUTPUT_CHARS = 1024 * 1024  # per attempt
MAX_BATCH_EVENTS = 1000
MAX_BATCH_CHARS = 1024 * 1024
LINGER_S = 0.005


def attempt_key(event: JobEvent) -> AttemptKey:
    """The attempt an event belongs to."""
    return event["job_id"], event["attempt"]


def dropped_marker(chars: int) -> str:
    """The line that stands for output dropped because the master did not keep up."""
    return f"\n[corral: {chars} characters of output dropped: the master did not keep up]\n"


class Outbox:
    """A thread-safe FIFO of job events with merging and a per-attempt output cap."""

    def __init__(
        self,
        *,
        chunk_chars: int = OUTPUT_CHUNK_CHARS,
        max_pending_chars: int = MAX_PENDING_OUTPUT_CHARS,
        linger_s: float = LINGER_S,
    ) -> None:
        self.chunk_chars = chunk_chars
        self.linger_s = linger_s
        self.max_pending_chars = max_pending_chars
        self._events: deque[JobEvent] = deque()
        self._pending: dict[AttemptKey, int] = {}  # output chars queued, per attempt
        self._dropped: dict[tuple[AttemptKey, str], int] = {}
        self._in_flight = 0  # batches taken and not yet settled
        self._cond = threading.Condition()

    def put(self, event: JobEvent) -> None:
        """Queue a started or finished event (a finished one flushes any drop marker)."""
        with self._cond:
            if event["type"] == "finished":
                key = attempt_key(event)
                for stream in ("stdout", "stderr"):
                    chars = self._dropped.pop((key, stream), 0)
                    if chars:
                        self._append_output(key, stream, dropped_marker(chars), event["at"])
            self._events.append(event)
            self._cond.notify_all()

    def put_output(self, key: AttemptKey, stream: str, data: str) -> None:
        """Queue output of one stream, or count it as dropped when the cap is reached."""
        if not data:
            return
        with self._cond:
            pending = self._pending.get(key, 0)
            if pending + len(data) > self.max_pending_chars:
                self._dropped[key, stream] = self._dropped.get((key, stream), 0) + len(data)
                return
            now = time.time()
            chars = self._dropped.pop((key, stream), 0)
            if chars:
                self._append_output(key, stream, dropped_marker(chars), now)
            self._append_output(key, stream, data, now)
            self._cond.notify_all()

    def _append_output(self, key: AttemptKey, stream: str, data: str, at: float) -> None:
        """Merge into the last event when it is the same stream's and has room."""
        self._pending[key] = self._pending.get(key, 0) + len(data)
        last = self._events[-1] if self._events else None
        if (
            last is not None
            and last["type"] == "output"
            and attempt_key(last) == key
            and last["stream"] == stream
            and len(last["data"]) + len(data) <= self.chunk_chars
        ):
            last["data"] += data
            return
        for start in range(0, len(data), self.chunk_chars):
            self._events.append(
                {
                    "type": "output",
                    "job_id": key[0],
                    "attempt": key[1],
                    "at": at,
                    "stream": stream,
                    "data": data[start : start + self.chunk_chars],
                }
            )

    def take(self, until: Callable[[], bool] = lambda: True) -> list[JobEvent]:
        """Wait for events or ``until()`` and take a bounded batch (maybe empty).

        ``until`` is checked whenever ``wake()`` is called.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._events or until())
            # Only starts and output so far: wait a moment for an end to ride along, so
            # a short job costs the master one report, not two.
            self._cond.wait_for(lambda: self._has_finished() or until(), timeout=self.linger_s)
            batch: list[JobEvent] = []
            chars = 0
            while self._events and len(batch) < MAX_BATCH_EVENTS and chars < MAX_BATCH_CHARS:
                event = self._events.popleft()
                if event["type"] == "output":
                    chars += len(event["data"])
                    self._uncount(attempt_key(event), len(event["data"]))
                batch.append(event)
            if batch:
                self._in_flight += 1
            return batch

    def _has_finished(self) -> bool:
        return any(event["type"] == "finished" for event in self._events)

    def settle(self, batch: list[JobEvent], *, delivered: bool) -> None:
        """End a taken batch: delivered, or put back at the front to be sent again."""
        with self._cond:
            if not delivered:
                for event in reversed(batch):
                    if event["type"] == "output":
                        key = attempt_key(event)
                        self._pending[key] = self._pending.get(key, 0) + len(event["data"])
                    self._events.appendleft(event)
            self._in_flight -= 1
            self._cond.notify_all()

    def discard(self, keys: Iterable[AttemptKey]) -> None:
        """Forget every queued event of these attempts (the master no longer owns them)."""
        gone = set(keys)
        with self._cond:
            self._events = deque(e for e in self._events if attempt_key(e) not in gone)
            for key in gone:
                self._pending.pop(key, None)
                self._dropped.pop((key, "stdout"), None)
                self._dropped.pop((key, "stderr"), None)

    def clear(self) -> None:
        """Forget every queued event (they belong to an instance that is gone)."""
        with self._cond:
            self._events.clear()
            self._pending.clear()
            self._dropped.clear()

    def wake(self) -> None:
        """Wake a thread waiting in ``take()``."""
        with self._cond:
            self._cond.notify_all()

    def wait_empty(self, timeout: float) -> bool:
        """Wait until every event is delivered or ``timeout`` passes; True if empty."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._events and not self._in_flight, timeout)

    def __len__(self) -> int:
        with self._cond:
            return len(self._events)

    def _uncount(self, key: AttemptKey, chars: int) -> None:
        """Output left the queue; the caller holds the lock."""
        left = self._pending.get(key, 0) - chars
        if left > 0:
            self._pending[key] = left
        else:
            self._pending.pop(key, None)
