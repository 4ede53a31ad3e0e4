"""The local launcher: a worker is a child process of the master, leading its own group."""

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
from typing import cast

import psutil

from corral.launchers.base import ExitStatus, LaunchSpec, LogSink
from corral.protocol import ENV_TOKEN

log = logging.getLogger(__name__)

STREAMS = {1: "stdout", 2: "stderr"}
# The master's own secrets, should its environment hold them: no worker needs one.
MASTER_SECRETS = frozenset({"CORRAL_DATABASE_URL", "CORRAL_TOKEN", ENV_TOKEN})


class _LineSplitter:
    """Cuts one output stream into lines for the sink; oversized lines arrive in pieces."""

    def __init__(self, stream: str, sink: LogSink, max_line_bytes: int) -> None:
        self._stream = stream
        self._sink = sink
        self._max = max_line_bytes
        self._buf = bytearray()
        self._sink_failed = False

    def feed(self, data: bytes) -> None:
        """Take a chunk of output and pass on every complete line in it."""
        buf = self._buf
        buf += data
        start = 0
        while (end := buf.find(b"\n", start)) != -1:
            self._emit(bytes(buf[start:end]))
            start = end + 1
        del buf[:start]
        # Bound the memory a line without newlines can take.
        while len(buf) > self._max:
            self._emit(bytes(buf[: self._max]))
            del buf[: self._max]

    def finish(self) -> None:
        """Pass on a last line that had no newline."""
        if self._buf:
            self._emit(bytes(self._buf))
            self._buf.clear()

    def _emit(self, line: bytes) -> None:
        for start in range(0, max(len(line), 1), self._max):
            try:
                self._sink.write_line(self._stream, line[start : start + self._max])
            except Exception:
                # Keep reading anyway: a worker blocked on a full pipe would hang.
                if not self._sink_failed:
                    log.exception("log sink failed for %s; lines are being lost", self._stream)
                self._sink_failed = True


class _WorkerProtocol(asyncio.SubprocessProtocol):
    """Forwards output line by line and reports the exit as soon as the kernel does."""

    def __init__(self, sink: LogSink, max_line_bytes: int) -> None:
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[int] = loop.create_future()
        self.drained: asyncio.Future[None] = loop.create_future()
        self._splitters = {
            fd: _LineSplitter(name, sink, max_line_bytes) for fd, name in STREAMS.items()
        }
        self._open = set(STREAMS)
        self._transport: asyncio.SubprocessTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transport has these methods without subclassing asyncio's class.
        self._transport = cast(asyncio.SubprocessTransport, transport)

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        self._splitters[fd].feed(data.encode() if isinstance(data, str) else data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd not in self._splitters:
            return  # stdin, closed once the worker's secrets are written
        self._splitters[fd].finish()
        self._open.discard(fd)
        if not self._open and not self.drained.done():
            self.drained.set_result(None)
        self._close_when_done()

    def process_exited(self) -> None:
        # Told here, not by Process.wait(), which also waits for every pipe to close.
        assert self._transport is not None
        returncode = self._transport.get_returncode()
        assert returncode is not None
        self.exited.set_result(returncode)
        self._close_when_done()

    def _close_when_done(self) -> None:
        if self._transport is not None and self.exited.done() and self.drained.done():
            self._transport.close()


class LocalWorkerHandle:
    """A worker process started by LocalLauncher; its pid is also its process group id."""

    def __init__(self, pid: int, protocol: _WorkerProtocol, drain_timeout_s: float) -> None:
        self._pid = pid
        self._protocol = protocol
        self._drain_timeout_s = drain_timeout_s
        self._stopping: asyncio.Task[ExitStatus] | None = None
        self._warned_open_output = False

    @property
    def pid(self) -> int | None:
        """Process id of the worker, the leader of its process group."""
        return self._pid

    @property
    def container_id(self) -> str | None:
        """Local workers have no container."""
        return None

    async def wait(self) -> ExitStatus:
        """Return once the worker has exited and its last output is in the sink."""
        returncode = await asyncio.shield(self._protocol.exited)
        # A stray child holding the pipes must not hide the exit: drain for a bounded time.
        try:
            async with asyncio.timeout(self._drain_timeout_s):
                await asyncio.shield(self._protocol.drained)
        except TimeoutError:
            if not self._warned_open_output:
                log.warning("pid %d: output still open after exit; not waiting for it", self._pid)
            self._warned_open_output = True
        return ExitStatus.from_returncode(returncode)

    async def stop(self, timeout_s: float) -> ExitStatus:
        """SIGTERM the group, SIGKILL it after ``timeout_s``; later calls share the first."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop(timeout_s))
        return await asyncio.shield(self._stopping)

    def kill(self) -> None:
        """SIGKILL the worker's group and the group of every job it started, now."""
        # Jobs lead groups of their own and would outlive the worker's. Stopped, the
        # worker can start no job while its children are listed; stopped, it cannot
        # reap them either, so their pids stay theirs until the SIGKILL.
        self._signal_group(signal.SIGSTOP)
        for pid in _child_pids(self._pid):
            _kill_group(pid)
        self._signal_group(signal.SIGKILL)

    async def _stop(self, timeout_s: float) -> ExitStatus:
        exited = self._protocol.exited
        if not exited.done():
            self._signal_group(signal.SIGTERM)
            try:
                async with asyncio.timeout(timeout_s):
                    await asyncio.shield(exited)
            except TimeoutError:
                self.kill()
        await asyncio.shield(exited)
        # The leader is gone; whatever it left in its group goes too.
        self._signal_group(signal.SIGKILL)
        return await self.wait()

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self._pid, sig)
        except ProcessLookupError:
            pass  # The group is empty: nothing left to signal.
        except PermissionError:
            log.warning("pid %d: not allowed to send %s to its group", self._pid, sig.name)


def _child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid``; none if it is gone."""
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def _kill_group(pid: int) -> None:
    """SIGKILL the group ``pid`` leads; nothing if it leads none (it shares its parent's)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class LocalLauncher:
    """Starts workers as child processes of the master, each in a new session."""

    def __init__(self, max_line_bytes: int = 64 * 1024, drain_timeout_s: float = 1.0) -> None:
        self._max_line_bytes = max_line_bytes
        self._drain_timeout_s = drain_timeout_s

    async def launch(self, spec: LaunchSpec, sink: LogSink) -> LocalWorkerHandle:
        """Start the worker with the master's environment (less its secrets) plus ``spec.env``.

        ``spec.stdin`` is written to the worker's stdin, which is then closed.
        """
        if not spec.argv:
            raise ValueError("a worker needs a command to run")
        loop = asyncio.get_running_loop()
        env = {k: v for k, v in os.environ.items() if k not in MASTER_SECRETS} | spec.env
        # start_new_session instead of a pre-exec hook keeps the vfork/posix_spawn path.
        transport, protocol = await loop.subprocess_exec(
            lambda: _WorkerProtocol(sink, self._max_line_bytes),
            *spec.argv,
            stdin=subprocess.PIPE if spec.stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        if spec.stdin:
            _write_and_close(transport, spec.stdin)
        return LocalWorkerHandle(transport.get_pid(), protocol, self._drain_timeout_s)


def _write_and_close(transport: asyncio.SubprocessTransport, data: bytes) -> None:
    """Hand ``data`` to the worker's stdin; the pipe closes once all of it is written."""
    # uvloop's pipe transport has these methods without subclassing asyncio's class.
    pipe = cast(asyncio.WriteTransport, transport.get_pipe_transport(0))
    pipe.write(data)
    pipe.close()
