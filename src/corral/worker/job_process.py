"""One job's process: spawned pinned to its CPUs, in its own process group.

Pinning uses no pre-exec hook (that would force the slow fork path): the
spawning thread pins itself, spawns, and restores its own mask; the child
inherits the mask it was created with. On Linux, ``sched_setaffinity(0, ...)``
changes only the calling thread.
"""

from __future__ import annotations

import codecs
import contextlib
import math
import os
import signal
import subprocess
from collections.abc import Mapping

from corral.protocol import ENV_JOB_ATTEMPT, ENV_JOB_ID, Assignment

ENV_CPU_IDS = "CORRAL_CPU_IDS"
# Every variable of the worker's own settings, including its token, starts so.
WORKER_ENV_PREFIX = "CORRAL_"
READ_SIZE = 64 * 1024


class SpawnFailed(Exception):
    """The job's program could not be started; the message says why."""


def base_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The worker's environment without its own settings (the token is one of them)."""
    return {k: v for k, v in environ.items() if not k.startswith(WORKER_ENV_PREFIX)}


def job_environment(
    base: Mapping[str, str], assignment: Assignment, cpu_ids: list[int]
) -> dict[str, str]:
    """What a job sees: the cleaned base, its own variables, then corral's."""
    env = dict(base)
    env.update(assignment["env"])
    env[ENV_JOB_ID] = str(assignment["job_id"])
    env[ENV_JOB_ATTEMPT] = str(assignment["attempt"])
    env[ENV_CPU_IDS] = ",".join(map(str, cpu_ids))
    return env


def job_argv(assignment: Assignment) -> list[str]:
    """The program and its arguments; a shell job is ``/bin/sh -c`` its one string."""
    command = assignment["command"]
    if not command:
        raise SpawnFailed("empty command")
    if assignment["shell"]:
        return ["/bin/sh", "-c", command[0]]
    return list(command)


class JobProcess:
    """A running job: its Popen, pidfd, output decoders and how it is being ended."""

    def __init__(
        self,
        assignment: Assignment,
        cpu_ids: list[int],
        base_env: Mapping[str, str],
        worker_mask: set[int] | None,
    ) -> None:
        self.key = (assignment["job_id"], assignment["attempt"])
        self.assignment = assignment
        self.cpu_ids = cpu_ids
        self.proc = _spawn(assignment, cpu_ids, base_env, worker_mask)
        self.pid = self.proc.pid
        self.pidfd = os.pidfd_open(self.pid)
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._files = {f.fileno(): f for f in (self.proc.stdout, self.proc.stderr)}
        self.streams = {self.proc.stdout.fileno(): "stdout", self.proc.stderr.fileno(): "stderr"}
        for fd in self.streams:
            os.set_blocking(fd, False)
        self._decoders = {
            name: codecs.getincrementaldecoder("utf-8")(errors="replace")
            for name in ("stdout", "stderr")
        }
        self.max_bytes = assignment.get("output_max_bytes")  # per stream, None: no cap
        self.kept = {"stdout": 0, "stderr": 0}  # bytes of output passed on
        self.cut = {"stdout": 0, "stderr": 0}  # bytes of output left out past the cap
        self.paused = False  # its pipes are not read until the master catches up
        self.reason: str | None = None  # why the worker is ending it, if it is
        self.report = True  # False once the master no longer owns the attempt
        self.deadline = math.inf  # monotonic time of its timeout
        self.kill_at: float | None = None  # when SIGKILL follows the SIGTERM sent
        self.killed = False  # SIGKILL sent to the group
        self.exited = False  # the leader is reaped
        self.linger_until = math.inf  # how long its pipes may outlive the leader
        self.returncode: int | None = None

    def read(self, fd: int) -> tuple[str, str | None]:
        """Read what the pipe holds: (stream, text); text None at end of file."""
        stream = self.streams[fd]
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return stream, ""
        decoder = self._decoders[stream]
        if not data:
            return stream, decoder.decode(b"", final=True) or None
        return stream, decoder.decode(data)

    def keep(self, stream: str, text: str) -> str:
        """What of ``text`` stays under the output cap; the rest is counted."""
        data = text.encode()
        room = len(data) if self.max_bytes is None else max(0, self.max_bytes - self.kept[stream])
        if len(data) > room:
            text = data[:room].decode(errors="ignore")  # never half a character
            self.cut[stream] += len(data) - len(text.encode())
        self.kept[stream] += len(text.encode())
        return text

    def cut_markers(self) -> list[tuple[str, str]]:
        """The lines that say how much output was left out, per stream."""
        return [
            (
                stream,
                f"\n[corral: {cut} bytes of {stream} not kept: past the cap of "
                f"{(self.max_bytes or 0) / 2**20:g} MiB]\n",
            )
            for stream, cut in self.cut.items()
            if cut
        ]

    def close_stream(self, fd: int) -> None:
        """Stop reading one pipe."""
        del self.streams[fd]
        # Closed through its file object, which would otherwise close the number later.
        self._files.pop(fd).close()

    def signal_group(self, signum: int) -> None:
        """Send ``signum`` to the job's whole process group."""
        # The leader is unreaped until the group is killed, so its pid (the
        # group id) cannot have been reused by another process.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def reap(self) -> int:
        """Kill what is left of the group, collect the leader's status, free the pidfd."""
        self.signal_group(signal.SIGKILL)
        self.returncode = self.proc.wait()
        self.exited = True
        os.close(self.pidfd)
        return self.returncode

    def close(self) -> None:
        """Release the pipes still open (after the job has ended)."""
        for fd in list(self.streams):
            self.close_stream(fd)


def _spawn(
    assignment: Assignment,
    cpu_ids: list[int],
    base_env: Mapping[str, str],
    worker_mask: set[int] | None,
) -> subprocess.Popen[bytes]:
    """Start the program pinned to ``cpu_ids``; raise SpawnFailed if it cannot start.

    The child inherits the spawning thread's affinity, so the thread takes the job's
    CPUs first (no pre-exec hook, which would force the slow fork path). The thread
    keeps that mask until the next job needs another: changing it moves the thread
    to another CPU, and only the executor's thread spawns jobs.
    """
    argv = job_argv(assignment)
    env = job_environment(base_env, assignment, cpu_ids)
    try:
        wanted = set(cpu_ids) or worker_mask
        if wanted is not None and wanted != os.sched_getaffinity(0):
            os.sched_setaffinity(0, wanted)
        # stdout/stderr file objects are unused: the descriptors are read directly.
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env=env,
            cwd=assignment["cwd"],
        )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise SpawnFailed(_why(exc)) from exc


def _why(exc: BaseException) -> str:
    """A short reason for a spawn failure."""
    if isinstance(exc, OSError) and exc.strerror:
        name = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{name}"
    return str(exc) or type(exc).__name__
