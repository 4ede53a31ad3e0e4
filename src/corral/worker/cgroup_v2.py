"""cgroup v2: a job's cgroup is a child of the worker's own cgroup in the unified hierarchy.

On v2 only a whole process can be moved into a cgroup that has the memory
controller, and Python's spawn has no clone3(CLONE_INTO_CGROUP). Moving the pid
right after a plain spawn would race with the program's first fork, so the job
is spawned through a gate (see ``spawn_gate``) that waits until the worker has
moved it in, and only then execs the program.

Memory limits need the memory controller in the worker's cgroup.subtree_control.
A cgroup other than the root can enable it only while it holds no process: a
worker alone in its cgroup (a service with delegation) first moves itself into a
leaf ``<prefix>.worker``; a worker sharing its cgroup (started from a shell, or
beside its master) contains its jobs but cannot limit their memory.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
from contextlib import AbstractContextManager
from pathlib import Path

from corral.worker.cgroups import (
    FREEZE_TIMEOUT_S,
    Containment,
    JobCgroup,
    Usage,
    key_values,
    read_int,
    read_pids,
    read_text,
    signal_pids,
    wait_until,
    write_text,
)

log = logging.getLogger(__name__)


class V2Group(JobCgroup):
    """A job's cgroup folder in the unified hierarchy."""

    gated = True

    def __init__(self, name: str, memory_bytes: int | None, path: Path) -> None:
        super().__init__(name, memory_bytes)
        self.path = path

    def limit_memory(self, limit: int) -> None:
        """Cap memory, forbid swap, and have an OOM kill end the whole job."""
        write_text(self.path / "memory.max", str(limit))
        for name, value in (("memory.swap.max", "0"), ("memory.oom.group", "1")):
            with contextlib.suppress(FileNotFoundError):
                write_text(self.path / name, value)

    def pids(self) -> list[int]:
        return read_pids(self.path / "cgroup.procs")

    def kill(self) -> None:
        if not self.pids():
            return
        try:
            write_text(self.path / "cgroup.kill", "1")
            return
        except FileNotFoundError:
            pass  # before Linux 5.14: freeze, kill, thaw
        except OSError:
            return  # the cgroup is gone
        freeze = self.path / "cgroup.freeze"
        try:
            write_text(freeze, "1")
        except OSError:
            signal_pids(self.pids(), signal.SIGKILL)
            return
        try:
            events = self.path / "cgroup.events"
            wait_until(lambda: key_values(read_text(events)).get("frozen") == 1, FREEZE_TIMEOUT_S)
            signal_pids(self.pids(), signal.SIGKILL)
        finally:
            with contextlib.suppress(OSError):
                write_text(freeze, "0")

    def usage(self) -> Usage:
        usec = key_values(read_text(self.path / "cpu.stat")).get("usage_usec")
        return Usage(
            max_rss_bytes=read_int(self.path / "memory.peak"),
            cpu_seconds=usec / 1e6 if usec is not None else None,
            oom_kills=key_values(read_text(self.path / "memory.events")).get("oom_kill", 0),
        )

    def rmdir(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.rmdir()

    def spawning(self) -> AbstractContextManager[None]:
        """Nothing around the spawn: the gate holds the child until ``admit``."""
        return contextlib.nullcontext()

    def admit(self, pid: int) -> None:
        """Move the gated child (and so the program it becomes) into the cgroup."""
        write_text(self.path / "cgroup.procs", str(pid))


class CgroupV2(Containment):
    """Job cgroups as children of the worker's own v2 cgroup."""

    name = "cgroup v2"

    def __init__(self, prefix: str, home: Path, memory: bool) -> None:
        super().__init__(prefix)
        self.home = home
        self.memory = memory

    @classmethod
    def open(cls, prefix: str, home: Path) -> CgroupV2:
        """Job cgroups under ``home``, with the memory controller where it can be had."""
        memory = delegate_memory(home, f"{prefix}.worker")
        if not memory:
            log.warning("cgroup v2: no memory controller for jobs under %s: no memory limits", home)
        return cls(prefix, home, memory)

    @property
    def memory_limits(self) -> bool:
        return self.memory

    def describe(self) -> str:
        return f"under {self.home}" + ("" if self.memory else " (no memory controller)")

    def make(self, name: str, memory_bytes: int | None) -> V2Group:
        path = self.home / name
        path.mkdir()
        group = V2Group(name, memory_bytes, path)
        if memory_bytes is not None:
            try:
                group.limit_memory(memory_bytes)
            except OSError:
                group.rmdir()
                raise
        return group

    def existing(self) -> list[JobCgroup]:
        try:
            names = [e.name for e in os.scandir(self.home) if e.is_dir(follow_symlinks=False)]
        except OSError:
            return []
        return [V2Group(n, None, self.home / n) for n in sorted(filter(self.is_job, names))]


def delegate_memory(home: Path, leaf: str) -> bool:
    """Enable the memory controller for the children of ``home``; whether it is on."""
    control = home / "cgroup.subtree_control"
    if "memory" in (read_text(control) or "").split():
        return True
    if "memory" not in (read_text(home / "cgroup.controllers") or "").split():
        return False
    try:
        write_text(control, "+memory")
        return True
    except OSError as exc:
        if exc.errno != errno.EBUSY or read_pids(home / "cgroup.procs") != [os.getpid()]:
            return False
    # Alone in a cgroup that holds processes: move into a leaf, then enable it.
    try:
        (home / leaf).mkdir(exist_ok=True)
        write_text(home / leaf / "cgroup.procs", str(os.getpid()))
        write_text(control, "+memory")
    except OSError as exc:
        log.warning("cgroup v2: cannot enable the memory controller in %s: %s", home, exc)
        return False
    return True
