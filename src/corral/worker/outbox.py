"""Outbox: job events waiting to go to the master, per attempt, in order, sized in bytes.

The executor puts events in; the reporter takes a batch, sends it, and settles it:
delivered batches leave, refused or failed ones stay and go again. Nothing is dropped
to make room. A batch is sized in the bytes it takes on the wire (JSON, UTF-8), so it
always fits the master's body limit; a master that still refuses a batch as too large
makes the outbox halve its batches and chunks, and one that refuses its content makes
it send halves until the one event at fault is found.

Output is flow-controlled, not lost: once an attempt has ``high_bytes`` of output
waiting, ``over()`` tells the executor to stop reading that job's pipes (the job
blocks on write, as on a slow terminal), and ``on_room`` is called when the backlog
falls under ``low_bytes``. Each output chunk carries its offset in its stream, so the
master stores a chunk sent twice only once. A started or finished event is never held
behind another attempt's output; a finished event follows its own attempt's output.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from corral.protocol import JobEvent

log = logging.getLogger(__name__)

AttemptKey = tuple[int, int]  # (job_id, attempt)

CHUNK_BYTES = 64 * 1024
MAX_BATCH_BYTES = 512 * 1024
MIN_BATCH_BYTES = 4 * 1024
MAX_BATCH_EVENTS = 1000
HIGH_BYTES = 1024 * 1024  # per attempt: stop reading its pipes
LOW_BYTES = 256 * 1024  # per attempt: read again
ENVELOPE_BYTES = 512  # the request around the events: ids, flags, brackets
MIN_DATA_BYTES = 64
LINGER_S = 0.005


def attempt_key(event: JobEvent) -> AttemptKey:
    """The attempt an event belongs to."""
    return event["job_id"], event["attempt"]


def encode(value: object) -> bytes:
    """How the worker puts JSON on the wire: compact, UTF-8 (an emoji is 4 bytes, not 12)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def split_to_fit(text: str, budget: int) -> list[str]:
    """Pieces of ``text`` whose JSON strings take at most ``budget`` bytes each."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        n = min(len(text) - start, budget)
        while True:
            size = len(encode(text[start : start + n]))
            if size <= budget or n == 1:
                break
            n = max(1, min(n - 1, n * budget // size))
        pieces.append(text[start : start + n])
        start += n
    return pieces


@dataclass
class _Chunk:
    """One output event and its size on the wire; sealed once it has been in a batch."""

    event: JobEvent
    size: int
    sealed: bool = False


@dataclass
class _Attempt:
    """What waits to be sent about one attempt."""

    started: JobEvent | None = None
    chunks: deque[_Chunk] = field(default_factory=deque)
    finished: JobEvent | None = None
    offsets: dict[str, int] = field(default_factory=dict)  # next offset per stream
    waiting_bytes: int = 0  # output bytes queued
    paused: bool = False  # the executor stopped reading: tell it when there is room

    def empty(self) -> bool:
        return self.started is None and not self.chunks and self.finished is None


class Outbox:
    """Thread-safe: the executor puts, the reporter takes and settles."""

    def __init__(
        self,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        high_bytes: int = HIGH_BYTES,
        low_bytes: int = LOW_BYTES,
        linger_s: float = LINGER_S,
    ) -> None:
        self.chunk_bytes = chunk_bytes
        self.max_batch_bytes = max_batch_bytes
        self.high_bytes = high_bytes
        self.low_bytes = low_bytes
        self.linger_s = linger_s
        self.max_events = MAX_BATCH_EVENTS
        self.on_room: Callable[[AttemptKey], None] = lambda key: None
        # Called with the attempt whose end the master has acknowledged.
        self.on_end_delivered: Callable[[AttemptKey], None] = lambda key: None
        # Called before a batch carrying ends leaves: they must be on disk by then.
        self.before_ends_leave: Callable[[], None] = lambda: None
        self._attempts: dict[AttemptKey, _Attempt] = {}
        self._in_flight: list[tuple[AttemptKey, JobEvent]] | None = None
        self._cond = threading.Condition()

    # The executor's side

    def put(self, event: JobEvent) -> None:
        """Queue a started or finished event."""
        with self._cond:
            attempt = self._attempts.setdefault(attempt_key(event), _Attempt())
            if event["type"] == "started":
                attempt.started = event
            else:
                attempt.finished = event
            self._cond.notify_all()

    def put_output(self, key: AttemptKey, stream: str, text: str) -> None:
        """Queue output of one stream, numbered by its byte offset in the stream."""
        if not text:
            return
        with self._cond:
            attempt = self._attempts.setdefault(key, _Attempt())
            last = attempt.chunks[-1] if attempt.chunks else None
            if last is not None and not last.sealed and last.event["stream"] == stream:
                merged = last.event["data"] + text
                size = len(encode({**last.event, "data": merged}))
                if size <= self.chunk_bytes:
                    attempt.waiting_bytes += size - last.size
                    last.event["data"], last.size = merged, size
                    attempt.offsets[stream] += len(text.encode())
                    self._cond.notify_all()
                    return
            for piece in split_to_fit(text, self._data_budget(key, stream)):
                self._append(key, attempt, stream, piece)
            self._cond.notify_all()

    def _data_budget(self, key: AttemptKey, stream: str) -> int:
        """Bytes the data of one output event may take for the event to fit a chunk."""
        empty: JobEvent = {
            "type": "output",
            "job_id": key[0],
            "attempt": key[1],
            "at": time.time(),
            "stream": stream,
            "offset": 2**62,
            "data": "",
        }
        # The empty string's quotes are counted by split_to_fit too.
        return max(MIN_DATA_BYTES, self.chunk_bytes - len(encode(empty)) + 2)

    def _append(self, key: AttemptKey, attempt: _Attempt, stream: str, piece: str) -> None:
        offset = attempt.offsets.get(stream, 0)
        event: JobEvent = {
            "type": "output",
            "job_id": key[0],
            "attempt": key[1],
            "at": time.time(),
            "stream": stream,
            "offset": offset,
            "data": piece,
        }
        size = len(encode(event))
        attempt.chunks.append(_Chunk(event, size))
        attempt.waiting_bytes += size
        attempt.offsets[stream] = offset + len(piece.encode())

    def over(self, key: AttemptKey) -> bool:
        """Whether the attempt has too much output waiting: stop reading its pipes."""
        with self._cond:
            attempt = self._attempts.get(key)
            if attempt is None or attempt.waiting_bytes < self.high_bytes:
                return False
            attempt.paused = True
            return True

    # The reporter's side

    def take(self, until: Callable[[], bool] = lambda: True) -> list[JobEvent]:
        """Wait for events or ``until()``, then choose the next batch (maybe empty).

        ``until`` is checked whenever ``wake()`` is called. The batch stays queued until
        ``settle`` says whether it was delivered.
        """
        with self._cond:
            self._cond.wait_for(lambda: self._has_events() or until())
            # Only starts and output so far: wait a moment for an end to ride along, so
            # a short job costs the master one report, not two.
            self._cond.wait_for(lambda: self._has_finished() or until(), timeout=self.linger_s)
            picked = self._pick()
            self._in_flight = picked
        batch = [event for _, event in picked]
        if any(event["type"] == "finished" for event in batch):
            self.before_ends_leave()
        return batch

    def _pick(self) -> list[tuple[AttemptKey, JobEvent]]:
        """State events first, then output oldest attempt first, within the byte budget."""
        budget = self.max_batch_bytes - ENVELOPE_BYTES
        chosen: dict[AttemptKey, list[JobEvent]] = {}
        used = count = 0
        for key, attempt in self._attempts.items():
            for event in (attempt.started, None if attempt.chunks else attempt.finished):
                if event is not None and count < self.max_events:
                    chosen.setdefault(key, []).append(event)
                    used, count = used + len(encode(event)), count + 1
        for key, attempt in self._attempts.items():
            for chunk in attempt.chunks:
                if count >= self.max_events or (used + chunk.size > budget and count):
                    return _in_order(self._attempts, chosen)
                chunk.sealed = True
                chosen.setdefault(key, []).append(chunk.event)
                used, count = used + chunk.size, count + 1
            if attempt.chunks and attempt.finished is not None and count < self.max_events:
                chosen.setdefault(key, []).append(attempt.finished)
                count += 1
        return _in_order(self._attempts, chosen)

    def settle(self, batch: list[JobEvent], *, delivered: bool) -> None:
        """End the batch in flight: delivered events leave; otherwise all stay queued."""
        with self._cond:
            taken, self._in_flight = self._in_flight or [], None
            if delivered:
                self.max_events = MAX_BATCH_EVENTS
                for key, event in taken:
                    self._remove(key, event)
            self._cond.notify_all()

    def refused(self, batch: list[JobEvent], status: int) -> None:
        """The master refused the batch: smaller batches if too large, else find the culprit."""
        with self._cond:
            taken, self._in_flight = self._in_flight or [], None
            if status == 413:
                self._shrink()
            elif len(taken) > 1:
                self.max_events = max(1, len(taken) // 2)
            else:
                for key, event in taken:
                    what = f"{event['type']} event of job {key[0]} attempt {key[1]}"
                    log.error("master refused the %s for its content: dropped", what)
                    self._remove(key, event)
            self._cond.notify_all()

    def _shrink(self) -> None:
        """Halve batches and chunks; chunks not yet sent whole are split to the new size."""
        self.max_batch_bytes = max(MIN_BATCH_BYTES, self.max_batch_bytes // 2)
        self.chunk_bytes = min(self.chunk_bytes, self.max_batch_bytes // 2)
        limit = self.max_batch_bytes
        log.warning("master refused a report as too large: batches now %d bytes", limit)
        for key, attempt in self._attempts.items():
            chunks, attempt.chunks = attempt.chunks, deque()
            for chunk in chunks:
                if chunk.size <= self.chunk_bytes:
                    attempt.chunks.append(chunk)
                    continue
                offset = chunk.event["offset"]
                attempt.waiting_bytes -= chunk.size
                budget = self._data_budget(key, chunk.event["stream"])
                for piece in split_to_fit(chunk.event["data"], budget):
                    event: JobEvent = {**chunk.event, "data": piece, "offset": offset}
                    size = len(encode(event))
                    attempt.chunks.append(_Chunk(event, size, sealed=True))
                    attempt.waiting_bytes += size
                    offset += len(piece.encode())

    def _remove(self, key: AttemptKey, event: JobEvent) -> None:
        attempt = self._attempts.get(key)
        if attempt is None:
            return
        if event["type"] == "started":
            attempt.started = None
        elif event["type"] == "finished":
            attempt.finished = None
            self.on_end_delivered(key)
        elif attempt.chunks and attempt.chunks[0].event is event:
            attempt.waiting_bytes -= attempt.chunks.popleft().size
            if attempt.paused and attempt.waiting_bytes < self.low_bytes:
                attempt.paused = False
                self.on_room(key)
        # Kept until its end is delivered: its offsets go on with the next output.
        if event["type"] == "finished" and attempt.empty():
            del self._attempts[key]

    # Both sides

    def discard(self, keys: Iterable[AttemptKey]) -> None:
        """Forget every queued event of these attempts (the master no longer owns them)."""
        with self._cond:
            for key in keys:
                self._attempts.pop(key, None)
            self._cond.notify_all()

    def clear(self) -> None:
        """Forget every queued event (they belong to an instance that is gone)."""
        with self._cond:
            self._attempts.clear()
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake a thread waiting in ``take()``."""
        with self._cond:
            self._cond.notify_all()

    def wait_empty(self, timeout: float) -> bool:
        """Wait until every event is delivered or ``timeout`` passes; True if empty."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._has_events() and self._in_flight is None, timeout
            )

    def __len__(self) -> int:
        with self._cond:
            return sum(
                (a.started is not None) + len(a.chunks) + (a.finished is not None)
                for a in self._attempts.values()
            )

    def _has_events(self) -> bool:
        return any(not a.empty() for a in self._attempts.values())

    def _has_finished(self) -> bool:
        return any(a.finished is not None for a in self._attempts.values())


def _in_order(
    attempts: dict[AttemptKey, _Attempt], chosen: dict[AttemptKey, list[JobEvent]]
) -> list[tuple[AttemptKey, JobEvent]]:
    """The chosen events, attempt by attempt in queue order, each attempt's in its order."""
    return [(key, event) for key in attempts if key in chosen for event in chosen[key]]
