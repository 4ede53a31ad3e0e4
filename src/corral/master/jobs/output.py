"""Jobs' stdout and stderr as the programs printed them: appended, tailed and followed.

Files ``<jobs_dir>/<id>/<stream>.log``. Each attempt after the first starts with a
marker line. A job's output is capped per stream; past the cap one line says so.
"""

import shutil
from pathlib import Path

from corral.master.follow import Follower, Followers, tail_file

STREAMS = ("stdout", "stderr")
# Chunks queued per follower before a slow reader starts losing them.
FOLLOW_QUEUE = 1000

Key = tuple[int, str]


class JobOutput:
    """Stores and serves the output of every job."""

    def __init__(self, root: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True)
        self._max_bytes = max_bytes
        self._sizes: dict[Key, int] = {}
        self._followers: Followers[Key] = Followers(FOLLOW_QUEUE, _dropped_marker)

    def path(self, job_id: int, stream: str) -> Path:
        """Where one stream of a job is stored."""
        if stream not in STREAMS:
            raise ValueError(f"invalid stream {stream!r}")
        return self._root / str(int(job_id)) / f"{stream}.log"

    def append(self, job_id: int, stream: str, text: str) -> None:
        """Add output of a running attempt; followers get each complete line."""
        key = (job_id, stream)
        data = text.encode()
        size = self._size(key)
        if size >= self._max_bytes:
            return
        if size + len(data) > self._max_bytes:
            data = data[: self._max_bytes - size] + b"\n[corral: output cap reached]\n"
        path = self.path(job_id, stream)
        path.parent.mkdir(exist_ok=True)
        with open(path, "ab") as f:
            f.write(data)
        self._sizes[key] = size + len(data)
        self._followers.offer(key, data.decode(errors="replace"))

    def mark_attempt(self, job_id: int, attempt: int) -> None:
        """Separate a new attempt's output from the earlier ones'."""
        if attempt > 1:
            for stream in STREAMS:
                if self._size((job_id, stream)):
                    self.append(job_id, stream, f"[corral: attempt {attempt}]\n")

    def finish(self, job_id: int) -> None:
        """The job ended: followers get the end of their stream."""
        for stream in STREAMS:
            key = (job_id, stream)
            self._sizes.pop(key, None)
            self._followers.end(key)

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
