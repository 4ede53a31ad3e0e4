"""Shared pieces of the launcher tests: a recording sink, the stand-in worker, /proc checks."""

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from corral.domain.workers import WorkerConfig
from corral.launchers.base import LaunchSpec, LogSink
from corral.launchers.local import LocalLauncher, LocalWorkerHandle

STAND_IN = Path(__file__).with_name("worker_stand_in.py")
DEADLINE_S = 5.0

Scenario = Coroutine[Any, Any, None]
Run = Callable[[Scenario], None]


class RecordingSink:
    """Keeps every line it is given, per stream."""

    def __init__(self) -> None:
        self.lines: dict[str, list[bytes]] = {"stdout": [], "stderr": []}

    def write_line(self, stream: str, line: bytes) -> None:
        """Record one line."""
        self.lines[stream].append(line)

    def has(self, stream: str, line: bytes) -> bool:
        """Whether ``line`` was written to ``stream``."""
        return line in self.lines[stream]


def spec(mode: str) -> LaunchSpec:
    """A launch spec running the stand-in worker in ``mode``."""
    config = WorkerConfig(worker_id="w1", name="w1")
    return LaunchSpec(config, [sys.executable, str(STAND_IN), mode], {"PYTHONUNBUFFERED": "1"})


@asynccontextmanager
async def running(
    mode: str, sink: LogSink | None = None, launcher: LocalLauncher | None = None
) -> AsyncIterator[tuple[LocalWorkerHandle, RecordingSink]]:
    """Start the stand-in; whatever happens in the test, its group is killed afterwards."""
    recording = RecordingSink()
    launcher = launcher or LocalLauncher()
    handle = await launcher.launch(spec(mode), sink or recording)
    try:
        yield handle, recording
    finally:
        handle.kill()
        await asyncio.wait_for(handle.wait(), DEADLINE_S)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] != "Z"


def live_group_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are neither gone nor zombies."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and fields[0] != "Z" and fields[2] == str(pgid):
                members.append(int(entry.name))
    return members
