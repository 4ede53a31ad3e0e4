"""The master's store of each worker's stdout and stderr: timestamped, rotated, tailed, followed."""

import os
from datetime import UTC, datetime
from pathlib import Path

from corral.domain.ids import check_worker_id
from corral.errors import InvalidInputError
from corral.launchers.base import LogSink
from corral.master.follow import Follower, Followers, tail_file

STREAMS = ("stdout", "stderr")
# What can be followed besides each stream: both streams together, and lifecycle events.
MERGED, EVENTS = "all", "events"
# Every stored line starts with a UTC timestamp this long: sorting by it orders lines.
STAMP_LEN = len("2026-01-01T00:00:00.000000Z")
_OPEN_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC

Key = tuple[str, str]


def _timestamp() -> str:
    """UTC time with microseconds, as every stored line starts."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dropped_marker(count: int) -> str:
    """The line that stands for lines a follower lost because it fell behind."""
    return f"{_timestamp()} [corral: {count} lines dropped, the reader fell behind]"


def _format(line: bytes) -> str:
    """One stored line: timestamp, then the text without carriage returns or newlines."""
    text = line.decode("utf-8", errors="replace").replace("\r", "").replace("\n", " ")
    return f"{_timestamp()} {text}"


class _LogFile:
    """One stream's current file, kept open for appending, rotated by size."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _OPEN_FLAGS, 0o600)
        self._size = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> None:
        """Append whole lines; the file is written at once, so a tail sees them."""
        if self._size and self._size + len(data) > self._max_bytes:
            self._rotate()
        os.write(self._fd, data)
        self._size += len(data)

    def close(self) -> None:
        """Release the file descriptor."""
        os.close(self._fd)

    def _rotate(self) -> None:
        os.close(self._fd)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _OPEN_FLAGS
        if self._backups:
            for index in range(self._backups - 1, 0, -1):
                older = _backup(self._path, index)
                if older.exists() or older.is_symlink():
                    os.replace(older, _backup(self._path, index + 1))
            os.replace(self._path, _backup(self._path, 1))
        else:
            flags |= os.O_TRUNC
        self._fd = os.open(self._path, flags, 0o600)
        self._size = 0


def _backup(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")


class _WorkerSink:
    """The LogSink a launcher writes one worker's output to."""

    def __init__(self, files: "WorkerLogFiles", worker_id: str) -> None:
        self._files = files
        self._worker_id = worker_id

    def write_line(self, stream: str, line: bytes) -> None:
        """Store one line of ``stream`` and pass it to the followers."""
        self._files.write_line(self._worker_id, stream, line)


class WorkerLogFiles:
    """Files ``<log_dir>/<worker_id>/<stream>.log`` with backups ``.1`` to ``.N``."""

    def __init__(
        self,
        log_dir: Path | str,
        max_bytes: int = 10 * 1024 * 1024,
        backups: int = 5,
        follow_queue: int = 1000,
    ) -> None:
        self._root = Path(log_dir).resolve()
        self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._max_bytes = max_bytes
        self._backups = backups
        self._files: dict[Key, _LogFile] = {}
        self._followers: Followers[Key] = Followers(follow_queue, _dropped_marker)

    def sink(self, worker_id: str) -> LogSink:
        """Where a launcher sends this worker's output."""
        return _WorkerSink(self, check_worker_id(worker_id))

    def write_line(self, worker_id: str, stream: str, line: bytes) -> None:
        """Append one timestamped line and hand it to the stream's followers."""
        key = _key(worker_id, stream)
        text = _format(line)
        log_file = self._files.get(key)
        if log_file is None:
            worker_dir = self._checked(self._root / worker_id)
            worker_dir.mkdir(mode=0o700, exist_ok=True)
            self._checked(worker_dir)  # It may have appeared as a symlink meanwhile.
            path = self._checked(worker_dir / f"{stream}.log")
            log_file = self._files[key] = _LogFile(path, self._max_bytes, self._backups)
        log_file.write(f"{text}\n".encode())
        self._followers.offer(key, text)
        self._followers.offer((worker_id, MERGED), text)

    def offer_event(self, worker_id: str, text: str) -> None:
        """Hand a lifecycle event, as the events tail shows it, to its followers."""
        self._followers.offer((worker_id, EVENTS), text)

    def tail(self, worker_id: str, stream: str, n: int) -> list[str]:
        """The last ``n`` lines of a stream, across rotated files; [] when there are none."""
        _key(worker_id, stream)
        if n <= 0:
            return []
        path = self._root / worker_id / f"{stream}.log"
        lines: list[bytes] = []
        for candidate in [path, *(_backup(path, i) for i in range(1, self._backups + 1))]:
            lines = tail_file(self._checked(candidate), n - len(lines)) + lines
            if len(lines) >= n:
                break
        return [line.decode("utf-8", errors="replace") for line in lines]

    def tail_merged(self, worker_id: str, n: int) -> list[str]:
        """The last ``n`` lines of stdout and stderr together, in the order they were written."""
        both = self.tail(worker_id, "stdout", n) + self.tail(worker_id, "stderr", n)
        both.sort(key=lambda line: line[:STAMP_LEN])  # stable: a stream's order is kept
        return both[-n:] if n > 0 else []

    def follow(self, worker_id: str, stream: str) -> Follower[Key]:
        """Lines written from now on; call from the event loop; cancelling unsubscribes.

        ``stream`` is stdout, stderr, "all" (both) or "events" (see offer_event).
        """
        if stream in (MERGED, EVENTS):
            return self._followers.subscribe((check_worker_id(worker_id), stream))
        return self._followers.subscribe(_key(worker_id, stream))

    def follower_count(self, worker_id: str, stream: str) -> int:
        """How many followers a stream has now."""
        return self._followers.count(_key(worker_id, stream))

    def close(self, worker_id: str) -> None:
        """Close a worker's open files; a later write opens them again."""
        for stream in STREAMS:
            log_file = self._files.pop((worker_id, stream), None)
            if log_file is not None:
                log_file.close()

    def close_all(self) -> None:
        """Close every open file."""
        for log_file in self._files.values():
            log_file.close()
        self._files.clear()

    def _checked(self, path: Path) -> Path:
        """Refuse a path that a symlink or '..' would lead out of its place in the log folder."""
        resolved = path.resolve()
        if resolved != path or not resolved.is_relative_to(self._root):
            raise InvalidInputError(f"log path {path.name!r} leads outside its log folder")
        return path


def _key(worker_id: str, stream: str) -> Key:
    """Validate a worker id and a stream name before they become a path."""
    if stream not in STREAMS:
        raise InvalidInputError(f"invalid stream {stream!r}: use 'stdout' or 'stderr'")
    return check_worker_id(worker_id), stream
