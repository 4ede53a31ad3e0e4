"""Jobs' stdout and stderr as the programs printed them: appended, tailed and followed.

Files ``<jobs_dir>/<id>/<stream>.log``. Each attempt after the first starts with a
marker line. Each attempt's output is capped per stream (workers cut it and write a line
that says how much); what a worker sends past the cap anyway is counted and a line says
how much when the job ends. Workers number their output by offset, so a
report sent again is stored once; a chunk the disk cannot take is refused whole (the
worker keeps it and sends it again), never stored in part.
"""

import contextlib
import json
import logging
import os
import shutil
from pathlib import Path

from corral.errors import UnavailableError
from corral.master.follow import Follower, Followers, tail_file

log = logging.getLogger("corral.master")
STREAMS = ("stdout", "stderr")
# Chunks queued per follower before a slow reader starts losing them.
FOLLOW_QUEUE = 1000
# Room past the cap for the line a worker writes where it cut the output.
CAP_SLACK = 4096
# Beside a job's output: where its latest attempt starts in each file.
BASES_NAME = "attempt.json"

Key = tuple[int, str]


class JobOutput:
    """Stores and serves the output of every job."""

    def __init__(self, root: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._root = root
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._sizes: dict[Key, int] = {}
        self._received: dict[Key, int] = {}  # bytes of the current attempt taken so far
        self._attempts: dict[int, int] = {}  # job id -> the attempt those bytes belong to
        self._over_cap: dict[Key, int] = {}
        self._followers: Followers[Key] = Followers(FOLLOW_QUEUE, _dropped_marker)
        self.storage_error: str | None = None  # the last write the disk refused, until one works

    def path(self, job_id: int, stream: str) -> Path:
        """Where one stream of a job is stored."""
        if stream not in STREAMS:
            raise ValueError(f"invalid stream {stream!r}")
        return self._root / str(int(job_id)) / f"{stream}.log"

    def append(
        self, job_id: int, attempt: int, stream: str, text: str, offset: int | None = None
    ) -> None:
        """Add output of the running attempt, at ``offset`` bytes into its stream.

        A chunk sent before (its offset already passed) is ignored. UnavailableError if
        the disk refuses it: nothing of it is kept, and the worker sends it again.
        """
        if self._attempts.get(job_id) != attempt:
            self._take_up(job_id, attempt)
        key = (job_id, stream)
        data = text.encode()
        received = self._received.get(key, 0)
        if offset is not None and offset < received:
            return
        if offset is not None and offset > received:
            gap = f"\n[corral: {offset - received} bytes of output missing here]\n"
            self._store(key, gap.encode())
        # Workers cut at the cap themselves and say so: this only guards the disk.
        room = max(0, self.max_bytes + CAP_SLACK - (offset or received))
        if len(data) > room:
            self._over_cap[key] = self._over_cap.get(key, 0) + len(data) - room
        self._store(key, data[:room])
        self._received[key] = received + len(data) if offset is None else offset + len(data)

    def _store(self, key: Key, data: bytes) -> None:
        """Write and hand to followers."""
        if not data:
            return
        size = self._size(key)
        self._write(key, data)
        self._sizes[key] = size + len(data)
        self._followers.offer(key, data.decode(errors="replace"))

    def _write(self, key: Key, data: bytes) -> None:
        """Append whole or not at all: a partial write is cut back off."""
        path = self.path(*key)
        size = self._size(key)
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError:
                os.ftruncate(fd, size)
                raise
            finally:
                os.close(fd)
        except OSError as exc:
            if self.storage_error is None:
                log.warning("job output cannot be stored: %s", exc)
            self.storage_error = f"{path.parent}: {exc.strerror or exc}"
            raise UnavailableError(f"job output cannot be stored: {exc.strerror or exc}") from exc
        if self.storage_error is not None:
            log.warning("job output can be stored again")
            self.storage_error = None

    def mark_attempt(self, job_id: int, attempt: int) -> None:
        """Separate a new attempt's output from the earlier ones'; its offsets start at 0.

        Where the attempt starts in each file is kept beside them, so that after a
        restart the master still knows how much of the attempt it stored.
        """
        self._attempts[job_id] = attempt
        bases = {"attempt": attempt}
        for stream in STREAMS:
            key = (job_id, stream)
            self._received[key] = 0
            if attempt > 1 and self._size(key):
                self._store(key, f"[corral: attempt {attempt}]\n".encode())
            bases[stream] = self._size(key)
        if attempt > 1:
            with contextlib.suppress(OSError):
                self.path(job_id, "stdout").parent.mkdir(mode=0o700, exist_ok=True)
                (self._root / str(job_id) / BASES_NAME).write_text(json.dumps(bases))

    def begun(self, job_id: int, attempt: int) -> bool:
        """Whether the attempt's output has its start in the files (its start arrived).

        The files run ahead of the database: after a restart they, not the job's
        stored state, say whether the previous master saw the attempt start.
        """
        if job_id in self._attempts:
            return self._attempts[job_id] == attempt
        return attempt == 1 or self._bases(job_id).get("attempt") == attempt

    def stored(self, job_id: int, attempt: int, stream: str) -> int:
        """Bytes of an attempt's stream stored so far (as sent: markers not counted)."""
        if not self.begun(job_id, attempt):
            return 0
        key = (job_id, stream)
        if job_id in self._attempts:
            return self._received.get(key, 0)
        base = int(self._bases(job_id).get(stream, 0)) if attempt > 1 else 0
        return max(0, self._size(key) - base)

    def _take_up(self, job_id: int, attempt: int) -> None:
        """Count an attempt's bytes from the files: a restarted master knows them from there."""
        if not self.begun(job_id, attempt):
            self.mark_attempt(job_id, attempt)
            return
        stored = {stream: self.stored(job_id, attempt, stream) for stream in STREAMS}
        self._attempts[job_id] = attempt
        for stream, count in stored.items():
            self._received[(job_id, stream)] = count

    def _bases(self, job_id: int) -> dict[str, int]:
        """Where the latest attempt starts in each file, as mark_attempt left it."""
        try:
            bases: dict[str, int] = json.loads((self._root / str(job_id) / BASES_NAME).read_text())
        except (OSError, ValueError):
            return {}
        return bases

    def complete(self, job_id: int, attempt: int, sent: dict[str, int]) -> None:
        """An attempt ended unseen: say how much of what its worker sent never arrived."""
        for stream in STREAMS:
            missing = sent.get(stream, 0) - self.stored(job_id, attempt, stream)
            if missing > 0:
                marker = f"\n[corral: {missing} bytes of {stream} lost: they were on their way "
                marker += "to the master when it stopped]\n"
                with contextlib.suppress(UnavailableError):
                    self._store((job_id, stream), marker.encode())

    def finish(self, job_id: int) -> None:
        """The job ended: followers get the end of their stream."""
        for stream in STREAMS:
            key = (job_id, stream)
            over = self._over_cap.pop(key, 0)
            if over:
                cap = f"{self.max_bytes / 2**20:g} MiB"
                marker = f"\n[corral: {over} more bytes of {stream} not kept: the {cap} cap]\n"
                try:
                    self._write(key, marker.encode())
                except UnavailableError:
                    log.warning("job %d: %d bytes of %s past the cap", job_id, over, stream)
            self._sizes.pop(key, None)
            self._received.pop(key, None)
            self._followers.end(key)
        self._attempts.pop(job_id, None)

    def delete(self, job_id: int) -> None:
        """Remove a pruned job's files."""
        shutil.rmtree(self._root / str(int(job_id)), ignore_errors=True)

    def tail(self, job_id: int, stream: str, n: int) -> list[str]:
        """The last ``n`` lines of a stream; [] when there is no output."""
        if n <= 0:
            return []
        return [line.decode(errors="replace") for line in tail_file(self.path(job_id, stream), n)]

    def follow(self, job_id: int, stream: str) -> Follower[Key]:
        """Output chunks from now on, ending when the job does; close it to stop early."""
        return self._followers.subscribe((job_id, stream))

    def _size(self, key: Key) -> int:
        size = self._sizes.get(key)
        if size is None:
            try:
                size = self.path(*key).stat().st_size
            except FileNotFoundError:
                size = 0
            self._sizes[key] = size
        return size


def _dropped_marker(count: int) -> str:
    """Stands for chunks a follower lost because it fell behind; the file keeps them."""
    return f"\n[corral: {count} chunks not shown live, the reader fell behind]\n"
