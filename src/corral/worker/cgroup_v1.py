"""cgroup v1: a job's cgroup is a folder in each of the freezer, memory and cpuacct hierarchies.

The program is born inside its cgroups, with no pre-exec hook and no gate process:
on v1 a thread may sit in other cgroups than the rest of its process, and a new
process starts in the cgroups of the thread that created it. So the spawning
thread joins the job's cgroups (its thread id into their ``tasks``), spawns on the
fast path (vfork), and goes back to the worker's own cgroups. The program cannot
fork before it is inside. Memory is charged to the owner of an address space, not
to a thread, so nothing the worker allocates counts against the job.

Killing freezes the group (freezer.state), sends SIGKILL to every member and thaws
it: a frozen process cannot fork, so nothing escapes. Without the freezer the
members are killed until none is left.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
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

# In this order: the first one present lists the members.
CONTROLLERS = ("freezer", "memory", "cpuacct")


@dataclass(frozen=True)
class Hierarchy:
    """One v1 hierarchy and the worker's own cgroup in it."""

    controller: str
    home: Path


class V1Group(JobCgroup):
    """A job's folders, one per hierarchy (controller -> path)."""

    def __init__(
        self, name: str, memory_bytes: int | None, dirs: dict[str, Path], homes: dict[str, Path]
    ) -> None:
        super().__init__(name, memory_bytes)
        self.dirs = dirs
        self.homes = homes

    def limit_memory(self, limit: int) -> None:
        """Cap memory, and memory plus swap where the kernel accounts swap."""
        memory = self.dirs["memory"]
        write_text(memory / "memory.limit_in_bytes", str(limit))
        # memsw must not be set below the plain limit, so it comes second.
        with contextlib.suppress(FileNotFoundError):
            write_text(memory / "memory.memsw.limit_in_bytes", str(limit))

    def pids(self) -> list[int]:
        first = next(iter(self.dirs.values()), None)
        return read_pids(first / "cgroup.procs") if first is not None else []

    def kill(self) -> None:
        members = self.pids()
        if not members:
            return
        freezer = self.dirs.get("freezer")
        state = freezer / "freezer.state" if freezer is not None else None
        try:
            if state is not None:
                write_text(state, "FROZEN")
        except OSError:
            state = None
        if state is None:
            signal_pids(members, signal.SIGKILL)
            return
        try:
            wait_until(lambda: (read_text(state) or "").strip() != "FREEZING", FREEZE_TIMEOUT_S)
            signal_pids(self.pids(), signal.SIGKILL)
        finally:
            # Killed while frozen, they die as soon as they thaw.
            with contextlib.suppress(OSError):
                write_text(state, "THAWED")

    def usage(self) -> Usage:
        memory, cpu = self.dirs.get("memory"), self.dirs.get("cpuacct")
        if memory is None:
            peak, ooms = None, 0
        else:
            peak = read_int(memory / "memory.max_usage_in_bytes")
            control = key_values(read_text(memory / "memory.oom_control"))
            # Kernels before 4.13 do not count OOM kills: a hit limit is the next best sign.
            ooms = control.get("oom_kill", 0) or int(bool(read_int(memory / "memory.failcnt")))
        usage_ns = read_int(cpu / "cpuacct.usage") if cpu is not None else None
        seconds = usage_ns / 1e9 if usage_ns is not None else None
        return Usage(max_rss_bytes=peak, cpu_seconds=seconds, oom_kills=ooms)

    def rmdir(self) -> None:
        failure: OSError | None = None
        for controller, path in list(self.dirs.items()):
            try:
                path.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                failure = failure or exc
                continue
            del self.dirs[controller]
        if failure is not None:
            raise failure

    @contextlib.contextmanager
    def spawning(self) -> Iterator[None]:
        """The spawning thread sits in the job's cgroups while it spawns."""
        tid = str(threading.get_native_id())
        joined: list[str] = []
        try:
            for controller, path in self.dirs.items():
                write_text(path / "tasks", tid)
                joined.append(controller)
            yield
        finally:
            for controller in joined:
                try:
                    write_text(self.homes[controller] / "tasks", tid)
                except OSError as exc:
                    log.error("spawning thread cannot leave %s: %s", self.dirs[controller], exc)

    def admit(self, pid: int) -> None:
        """Nothing to do: the child was born in the cgroups of the thread that spawned it."""


class CgroupV1(Containment):
    """Job cgroups in the v1 hierarchies where the worker may create them."""

    name = "cgroup v1"

    def __init__(self, prefix: str, hierarchies: list[Hierarchy]) -> None:
        super().__init__(prefix)
        self.hierarchies = hierarchies
        self.homes = {h.controller: h.home for h in hierarchies}

    @property
    def memory_limits(self) -> bool:
        return "memory" in self.homes

    def describe(self) -> str:
        return ", ".join(f"{h.controller} under {h.home}" for h in self.hierarchies)

    def make(self, name: str, memory_bytes: int | None) -> V1Group:
        dirs: dict[str, Path] = {}
        try:
            for controller, home in self.homes.items():
                path = home / name
                path.mkdir()
                dirs[controller] = path
            group = V1Group(name, memory_bytes, dirs, self.homes)
            if memory_bytes is not None:
                group.limit_memory(memory_bytes)
        except OSError:
            for path in dirs.values():
                with contextlib.suppress(OSError):
                    path.rmdir()
            raise
        return group

    def existing(self) -> list[JobCgroup]:
        names: dict[str, dict[str, Path]] = {}
        for controller, home in self.homes.items():
            try:
                entries = [e.name for e in os.scandir(home) if e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
            for name in filter(self.is_job, entries):
                names.setdefault(name, {})[controller] = home / name
        return [V1Group(name, None, dirs, self.homes) for name, dirs in sorted(names.items())]
