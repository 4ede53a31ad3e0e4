"""The small interface every launcher (local, SSH, Docker, Kubernetes) implements."""

import signal
from dataclasses import dataclass, field
from typing import Protocol

from corral.domain.workers import WorkerConfig


@dataclass(frozen=True)
class ExitStatus:
    """How a worker process ended: an exit code or the signal that killed it."""

    exit_code: int | None = None
    signal: int | None = None

    @classmethod
    def from_returncode(cls, returncode: int) -> "ExitStatus":
        """Decode a subprocess return code (negative means killed by a signal)."""
        if returncode < 0:
            return cls(signal=-returncode)
        return cls(exit_code=returncode)

    def describe(self) -> str:
        """Human words for the log: 'exit code 3' or 'signal SIGKILL'."""
        if self.signal is not None:
            try:
                return f"signal {signal.Signals(self.signal).name}"
            except ValueError:
                return f"signal {self.signal}"
        return f"exit code {self.exit_code}"


class LogSink(Protocol):
    """Where a launcher sends each line the worker prints."""

    def write_line(self, stream: str, line: bytes) -> None:
        """Record one line (without its newline) of ``stream`` ('stdout' or 'stderr')."""


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a launcher needs to start one worker instance."""

    config: WorkerConfig
    argv: list[str]
    env: dict[str, str]
    # Written to the worker's stdin, then closed: its token and secret variables.
    stdin: bytes = field(default=b"", repr=False)


class WorkerHandle(Protocol):
    """A started worker instance, owned by the launcher that started it."""

    @property
    def pid(self) -> int | None:
        """Process id on the launcher's host, when there is one."""

    @property
    def container_id(self) -> str | None:
        """Container or pod id, for launchers that have one."""

    async def wait(self) -> ExitStatus:
        """Return once the worker has exited (at once, not by polling)."""

    async def stop(self, timeout_s: float) -> ExitStatus:
        """SIGTERM to the worker's process group, then SIGKILL after ``timeout_s``."""

    def kill(self) -> None:
        """SIGKILL the worker's process group now, without waiting."""


class Launcher(Protocol):
    """Starts worker instances of one deployment type."""

    async def launch(self, spec: LaunchSpec, sink: LogSink) -> WorkerHandle:
        """Start the worker and begin forwarding its output to ``sink``."""
