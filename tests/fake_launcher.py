"""A launcher whose workers live only in memory: the test decides when each one exits."""

import asyncio
import itertools
import signal

from corral.launchers.base import ExitStatus, LaunchSpec, LogSink

KILLED = ExitStatus(signal=signal.SIGKILL)
# Above any pid_max Linux allows (2**22), so no real process is ever signalled by mistake.
FIRST_PID = 10_000_000


class LaunchError(RuntimeError):
    """What a launch the test made fail raises."""


class FakeHandle:
    """One in-memory worker instance; SIGTERM ends it cleanly unless it ignores SIGTERM."""

    def __init__(self, spec: LaunchSpec, pid: int) -> None:
        self.spec = spec
        self._pid = pid
        self._exit: asyncio.Future[ExitStatus] = asyncio.get_running_loop().create_future()
        self.ignores_sigterm = False
        self.stop_timeouts: list[float] = []
        self.killed = False

    @property
    def pid(self) -> int | None:
        """A pid no real process has."""
        return self._pid

    @property
    def container_id(self) -> str | None:
        """Fake workers run in no container."""
        return None

    @property
    def exited(self) -> bool:
        """Whether this instance has ended."""
        return self._exit.done()

    def exit(self, status: ExitStatus) -> None:
        """End the instance now with ``status`` (a crash, when nobody asked it to stop)."""
        if not self._exit.done():
            self._exit.set_result(status)

    async def wait(self) -> ExitStatus:
        """Return once the instance has ended."""
        return await asyncio.shield(self._exit)

    async def stop(self, timeout_s: float) -> ExitStatus:
        """SIGTERM (a clean exit unless ignored), then SIGKILL after ``timeout_s``."""
        self.stop_timeouts.append(timeout_s)
        if not self.ignores_sigterm:
            self.exit(ExitStatus(exit_code=0))
        try:
            return await asyncio.wait_for(self.wait(), timeout_s)
        except TimeoutError:
            self.kill()
            return await self.wait()

    def kill(self) -> None:
        """SIGKILL: the instance ends at once."""
        self.killed = True
        self.exit(KILLED)


class FakeLauncher:
    """Hands out FakeHandles and keeps every one, in launch order."""

    def __init__(self) -> None:
        self.handles: list[FakeHandle] = []
        self.failures = 0  # how many of the next launches raise
        self._pids = itertools.count(FIRST_PID)

    async def launch(self, spec: LaunchSpec, sink: LogSink) -> FakeHandle:
        """Start an in-memory instance, or fail if the test asked for it."""
        if self.failures:
            self.failures -= 1
            raise LaunchError("no such host")
        handle = FakeHandle(spec, next(self._pids))
        self.handles.append(handle)
        sink.write_line("stdout", b"fake worker up")
        return handle

    def launched(self, worker_id: str) -> list[FakeHandle]:
        """The instances started for ``worker_id``, oldest first."""
        return [h for h in self.handles if h.spec.config.worker_id == worker_id]
