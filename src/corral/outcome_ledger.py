"""The ledger of finished attempts a local worker has not yet seen acknowledged.

The worker appends each outcome here, synced to disk before it is reported, and drops
it once the master has acknowledged it (which the master does only once it has stored
it). When the worker dies with its reports unsent (its master was killed, or it was),
the master reads the ledger before it calls the worker's jobs orphans: a finished
attempt is never run again or failed for a crash. One JSON object per line; a torn
last line (a crash mid-write) is skipped.

Standard library only: the worker imports it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

OUTCOMES_NAME = "outcomes.ledger"
# Rewrite the file once this many acknowledged outcomes are still in it.
REWRITE_AFTER = 256

Key = tuple[int, int, str]  # job id, attempt, instance id


def key_of(record: dict[str, Any]) -> Key:
    """The attempt and instance an outcome record names."""
    return int(record["job_id"]), int(record["attempt"]), str(record["instance_id"])


class OutcomeLedger:
    """The worker's side: record before reporting, forget once acknowledged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.unacknowledged: dict[tuple[int, int], dict[str, Any]] = {}
        self._acknowledged = 0
        self._unsynced = False
        self._lock = threading.Lock()
        # Appended to, never truncated here: what a dead instance left is the master's.
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def record(self, record: dict[str, Any]) -> bool:
        """Append one outcome (``sync`` makes it durable); False if the disk refused it."""
        line = json.dumps(record, separators=(",", ":")).encode() + b"\n"
        with self._lock:  # the reporter's thread may be emptying the file
            try:
                os.write(self._fd, line)
            except OSError:
                return False
            self._unsynced = True
            self.unacknowledged[key_of(record)[:2]] = record
        return True

    def sync(self) -> None:
        """Make what was recorded durable: once per report, however many outcomes it holds."""
        if self._unsynced:
            self._unsynced = False
            with contextlib.suppress(OSError):
                os.fsync(self._fd)

    def acknowledged(self, job_id: int, attempt: int) -> None:
        """The master has stored the outcome of this attempt."""
        with self._lock:
            if self.unacknowledged.pop((job_id, attempt), None) is None:
                return
            self._acknowledged += 1
            if not self.unacknowledged:
                self._empty()
            elif self._acknowledged >= REWRITE_AFTER:
                self._rewrite()

    def _empty(self) -> None:
        """Nothing left to keep: the file starts over (appends go to its new end)."""
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
            self._acknowledged = 0

    def _rewrite(self) -> None:
        """Keep only what is not acknowledged yet (nothing, most of the time)."""
        kept = self.unacknowledged.values()
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in kept)
        with contextlib.suppress(OSError):
            replace_private(self.path, text)
            os.close(self._fd)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            self._acknowledged = 0

    def close(self) -> None:
        """Close the file; what it still holds is for the master to read."""
        with contextlib.suppress(OSError):
            os.close(self._fd)


def replace_private(path: Path, text: str) -> None:
    """Replace a file's content at once (write beside it, then rename), mode 0600."""
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(temp, path)


def take_outcomes(path: Path) -> dict[Key, dict[str, Any]]:
    """The master's side: every outcome a dead worker left, then an empty ledger."""
    try:
        text = path.read_text()
    except OSError:
        return {}
    found: dict[Key, dict[str, Any]] = {}
    for line in text.splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            record = json.loads(line)
            found[key_of(record)] = record
    with contextlib.suppress(OSError):
        path.write_text("")
    return found
