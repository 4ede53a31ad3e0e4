"""The ledger of live job process groups, and the cleanup of those a dead worker left.

A worker killed by SIGKILL cannot end its jobs: their process groups run on.
Each group is recorded as "pid start-time" when its job starts; the next start
of the same worker kills every recorded group whose leader still has that start
time (a recycled pid has another one, so it is never touched). Lines are
appended, never synced; ended jobs are dropped by an occasional rewrite.
Where jobs run in cgroups, the worker then sweeps those too (``Containment.sweep``):
that also ends what left its job's process group, and removes the cgroups.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
from collections.abc import Mapping
from pathlib import Path

from corral.outcome_ledger import replace_private
from corral.procfs import process_start_time
from corral.protocol import ENV_STATE_DIR

log = logging.getLogger(__name__)

LEDGER_NAME = "jobs.ledger"
# Rewrite the ledger once this many ended jobs are still listed in it.
REWRITE_AFTER_ENDED = 256


def state_dir(worker_id: str, environ: Mapping[str, str]) -> Path:
    """The worker's private state folder, created with mode 0700."""
    configured = environ.get(ENV_STATE_DIR)
    if configured:
        path = Path(configured)
    else:
        safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", worker_id).lstrip(".") or "_"
        path = Path("/tmp") / f"corral-{os.getuid()}" / safe_id  # noqa: S108 (private, 0700)
    for folder in (*reversed(path.parents[:-1]), path):
        if not folder.is_dir():
            with contextlib.suppress(FileExistsError):
                folder.mkdir(mode=0o700)
    if path.stat().st_uid != os.getuid():
        raise PermissionError(f"state folder {path} belongs to another user")
    path.chmod(0o700)
    return path


class JobLedger:
    """Appends a line per started job group; rewrites itself when mostly ended jobs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.live: dict[int, int] = {}  # pid -> start time
        self._ended = 0
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)

    def add(self, pid: int, started: int) -> None:
        """Record a job's process group."""
        self.live[pid] = started
        os.write(self._fd, f"{pid} {started}\n".encode())

    def remove(self, pid: int) -> None:
        """Forget a group that has been killed and reaped."""
        if self.live.pop(pid, None) is None:
            return
        self._ended += 1
        if self._ended >= REWRITE_AFTER_ENDED:
            self._rewrite()

    def _rewrite(self) -> None:
        """Replace the file by the live entries only."""
        replace_private(
            self.path, "".join(f"{pid} {started}\n" for pid, started in self.live.items())
        )
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        self._ended = 0

    def close(self) -> None:
        """Close the file; entries left in it are groups to kill at the next start."""
        with contextlib.suppress(OSError):
            if not self.live:
                os.ftruncate(self._fd, 0)  # a clean exit leaves nothing to look at
            os.close(self._fd)


def read_ledger(path: Path) -> list[tuple[int, int]]:
    """The (pid, start time) entries of a ledger; missing or garbled lines are skipped."""
    try:
        text = path.read_text()
    except OSError:
        return []
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            entries.append((int(fields[0]), int(fields[1])))
    return entries


def kill_orphans(path: Path) -> int:
    """SIGKILL the groups listed in the ledger whose leader still lives; return how many."""
    killed = 0
    for pid, started in read_ledger(path):
        if process_start_time(pid) != started:
            continue  # gone, or the pid now belongs to another process
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
            killed += 1
    if killed:
        log.warning("killed %d job process group(s) left by a previous instance", killed)
    return killed
