"""The spool of a local worker: each attempt's output on disk as it was read from the job.

The worker appends what it reads from a job's pipes here before it queues it for the
master, so that output still on its way when worker and master die together is not
lost: the master, settling such an attempt, copies what it had not stored from the
spool. A byte's position in a spool file is its offset in the stream, as the reports
number it. Files are removed once the attempt's end has been acknowledged.

Standard library only: the worker imports it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

SPOOL_NAME = "spool"
STREAMS = ("stdout", "stderr")


def spool_path(folder: Path, job_id: int, attempt: int, stream: str) -> Path:
    """Where one stream of one attempt is spooled."""
    return folder / f"{int(job_id)}-{int(attempt)}.{stream}"


class Spool:
    """The worker's side: append as output is read, drop when the master has it all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(mode=0o700, exist_ok=True)
        self._broken: set[tuple[int, int]] = set()
        self._files: set[tuple[int, int, str]] = set()  # the files made, to remove

    def write(self, job_id: int, attempt: int, stream: str, data: bytes) -> None:
        """Append output; an attempt's spool the disk refused is given up (a gap is no use)."""
        if not data or (job_id, attempt) in self._broken:
            return
        path = spool_path(self.folder, job_id, attempt, stream)
        self._files.add((job_id, attempt, stream))
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        except OSError:
            self._broken.add((job_id, attempt))
            self._remove(job_id, attempt)

    def done(self, job_id: int, attempt: int) -> None:
        """The master has all of the attempt (or wants none of it): forget it."""
        self._broken.discard((job_id, attempt))
        self._remove(job_id, attempt)

    def _remove(self, job_id: int, attempt: int) -> None:
        for stream in STREAMS:
            if (job_id, attempt, stream) in self._files:
                self._files.discard((job_id, attempt, stream))
                with contextlib.suppress(OSError):
                    spool_path(self.folder, job_id, attempt, stream).unlink()


def read_spool(folder: Path, job_id: int, attempt: int, stream: str, offset: int) -> bytes:
    """The master's side: an attempt's spooled output from ``offset`` on (b"" if none)."""
    try:
        with open(spool_path(folder, job_id, attempt, stream), "rb") as f:
            f.seek(offset)
            return f.read()
    except OSError:
        return b""


def clear_spool(folder: Path) -> None:
    """The master's side: remove what a dead worker left, once it has been read."""
    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            with contextlib.suppress(OSError):
                path.unlink()
