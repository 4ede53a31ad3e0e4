"""Job cgroups: what cgroup v1 and v2 have in common.

Each job runs in a cgroup of its own (on v1, a folder in each hierarchy used) made
as a child of the worker's own cgroup and named ``<prefix>.<job>.<attempt>``. The
prefix names the worker and its state folder, so a restarted worker finds exactly
what its previous instance left (``Containment.sweep``) and two workers never touch
each other's jobs. Everything a job started stays in its cgroup, setsid or not: it
is killed as a whole, its memory limit holds for all of it, and its peak memory and
CPU time are read there. A cgroup is removed when its job has ended; one that
cannot be removed yet (a process stuck in the kernel) is tried again later.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import signal
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# How long ending a job may wait for its killed processes to leave the cgroup; past
# it the cgroup is removed later (the executor's thread must not stall on it).
EMPTY_TIMEOUT_S = 0.1
# How long a kill waits for a group to freeze before it kills what it sees.
FREEZE_TIMEOUT_S = 0.1
POLL_S = 0.001
READ_SIZE = 64 * 1024
JOB_SUFFIX = re.compile(r"\d+\.\d+")


@dataclass(frozen=True)
class Usage:
    """What a job's processes used, where it could be measured."""

    max_rss_bytes: int | None = None
    cpu_seconds: float | None = None
    oom_kills: int = 0


def read_text(path: Path) -> str | None:
    """A cgroup file's content; None when it is missing or unreadable."""
    # Plain system calls: a job's end reads several of these on the executor's thread.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    chunks = []
    try:
        while chunk := os.read(fd, READ_SIZE):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def read_int(path: Path) -> int | None:
    """A cgroup file holding one number; None when missing, unreadable or 'max'."""
    text = read_text(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def write_text(path: Path, text: str) -> None:
    """Write ``text`` in one write(2): a cgroup file takes one value per write."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def key_values(text: str | None) -> dict[str, int]:
    """The ``name number`` lines of memory.events, cpu.stat or memory.oom_control."""
    values = {}
    for line in (text or "").splitlines():
        name, _, number = line.partition(" ")
        if number.strip().isdigit():
            values[name] = int(number)
    return values


def read_pids(path: Path) -> list[int]:
    """The pids listed in a cgroup.procs file; none when it is gone."""
    return [int(pid) for pid in (read_text(path) or "").split()]


def signal_pids(pids: Iterable[int], signum: int) -> None:
    """Send ``signum`` to each pid that still exists."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def wait_until(done: Callable[[], bool], timeout: float) -> bool:
    """Poll ``done()`` until it is true or ``timeout`` seconds pass; whether it became true."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True


class JobCgroup(ABC):
    """One job's cgroup: its members, killing them all, what they used, removal."""

    # Whether the program must be spawned through the gate and moved in (v2), rather
    # than born inside because the spawning thread joined the cgroup first (v1).
    gated = False

    def __init__(self, name: str, memory_bytes: int | None) -> None:
        self.name = name
        self.memory_bytes = memory_bytes

    @abstractmethod
    def pids(self) -> list[int]:
        """The processes in the cgroup now."""

    @abstractmethod
    def kill(self) -> None:
        """SIGKILL every member, including any forking meanwhile."""

    @abstractmethod
    def usage(self) -> Usage:
        """Peak memory, CPU time and OOM kills counted by the cgroup."""

    @abstractmethod
    def rmdir(self) -> None:
        """Remove the cgroup's folder(s); OSError (EBUSY) while processes remain."""

    @abstractmethod
    def spawning(self) -> AbstractContextManager[None]:
        """Around the spawn: what the spawning thread must do so the child starts inside."""

    @abstractmethod
    def admit(self, pid: int) -> None:
        """After the spawn: make sure the child ``pid`` is inside."""

    def signal(self, signum: int) -> None:
        """Send ``signum`` to every member; SIGKILL catches forks too."""
        if signum == signal.SIGKILL:
            self.kill()
        else:
            signal_pids(self.pids(), signum)

    def is_empty(self) -> bool:
        """Whether no process is left in the cgroup."""
        return not self.pids()

    def empty(self, timeout: float) -> bool:
        """Kill members until none is left; False if some remain after ``timeout``."""

        def emptied() -> bool:
            if self.is_empty():
                return True
            self.kill()
            return False

        return wait_until(emptied, timeout)

    def remove(self) -> bool:
        """Remove the cgroup; False while it is busy."""
        try:
            self.rmdir()
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                log.warning("cannot remove job cgroup %s: %s", self.name, exc)
            return False
        return True


class Containment(ABC):
    """The cgroups of one worker's jobs: created, released, and swept at start."""

    name = ""  # as the worker reports it: "cgroup v1" or "cgroup v2"

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.unremoved: list[JobCgroup] = []

    @property
    @abstractmethod
    def memory_limits(self) -> bool:
        """Whether a job's memory limit can be enforced."""

    @abstractmethod
    def describe(self) -> str:
        """Where the job cgroups go, for the worker's log."""

    @abstractmethod
    def make(self, name: str, memory_bytes: int | None) -> JobCgroup:
        """Create the cgroup ``name``; OSError if it cannot be."""

    @abstractmethod
    def existing(self) -> list[JobCgroup]:
        """The job cgroups under this worker's prefix now."""

    def create(self, job_id: int, attempt: int, memory_mb: int | None) -> JobCgroup:
        """A new cgroup for one attempt, replacing any left over under its name."""
        name = f"{self.prefix}.{job_id}.{attempt}"
        memory = memory_mb << 20 if memory_mb and self.memory_limits else None
        try:
            return self.make(name, memory)
        except FileExistsError:
            stale = next((g for g in self.existing() if g.name == name), None)
            if stale is not None:
                stale.empty(EMPTY_TIMEOUT_S)
                stale.remove()
            return self.make(name, memory)

    def release(self, group: JobCgroup) -> Usage:
        """Kill what is left of a job, read what it used, and remove its cgroup."""
        group.empty(EMPTY_TIMEOUT_S)
        usage = group.usage()
        self.unremoved = [g for g in self.unremoved if not g.remove()]
        if not group.remove():
            self.unremoved.append(group)
        return usage

    def sweep(self) -> int:
        """Kill and remove what a previous instance left; how many still had processes."""
        found = 0
        for group in self.existing():
            found += bool(group.pids())
            self.release(group)
        if found:
            log.warning("killed the processes of %d job cgroup(s) left by a previous run", found)
        return found

    def close(self) -> None:
        """At exit: one more try at the cgroups that could not be removed yet."""
        self.unremoved = [
            g for g in self.unremoved if not (g.empty(EMPTY_TIMEOUT_S) and g.remove())
        ]
        if self.unremoved:
            names = ", ".join(g.name for g in self.unremoved)
            log.warning("job cgroups left behind (removed at the next start): %s", names)

    def is_job(self, name: str) -> bool:
        """Whether a cgroup folder name is one of this worker's job cgroups."""
        head, dot, tail = name.partition(".")
        return head == self.prefix and bool(dot) and JOB_SUFFIX.fullmatch(tail) is not None
