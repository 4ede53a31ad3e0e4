"""One job's process: spawned pinned to its CPUs, in its own process group and cgroup.

Pinning uses no pre-exec hook (that would force the slow fork path): the
spawning thread pins itself, spawns, and restores its own mask; the child
inherits the mask it was created with. On Linux, ``sched_setaffinity(0, ...)``
changes only the calling thread. Entering the job's cgroup follows the same
idea on cgroup v1 (the thread joins the cgroup around the spawn, see
``cgroup_v1``); on v2 the job passes a gate until it has been moved in (see
``spawn_gate``). Where there is no cgroup, the process group is all there is.
Writing the pid into cgroup.procs right after a plain spawn was ruled out: the
program could fork before it is moved, and its child would escape.

A job with ``run_as`` is spawned with subprocess's ``user``, ``group`` and
``extra_groups``, which take the slower fork path (the child switches before its
exec); jobs without it keep the fast one.

Either way one task moves between cgroups per job, and the kernel makes such a
move wait for an RCU grace period when none happened for a while: back to back
a cgroup adds about 0.3 ms to a spawn, after an idle spell about 13 ms (2-core
test machine); the ``favordynmods`` mount option removes the wait.

The leader is reaped with wait4, whose resource usage stands in for the
cgroup's figures where there are none.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import math
import os
import resource
import signal
import subprocess
from collections.abc import Mapping
from typing import Any

from corral import run_as
from corral.protocol import ENV_JOB_ATTEMPT, ENV_JOB_ID, Assignment
from corral.worker.cgroups import Containment, JobCgroup, Usage
from corral.worker.spawn_gate import check_program, gate_argv, open_gate

log = logging.getLogger(__name__)

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
    base: Mapping[str, str],
    assignment: Assignment,
    cpu_ids: list[int],
    identity: run_as.Identity | None = None,
) -> dict[str, str]:
    """What a job sees: the cleaned base, who it runs as, its own variables, then corral's."""
    env = dict(base)
    if identity is not None:
        env.update(HOME=identity.home, USER=identity.user, LOGNAME=identity.user)
    env.update(assignment["env"])
    env[ENV_JOB_ID] = str(assignment["job_id"])
    env[ENV_JOB_ATTEMPT] = str(assignment["attempt"])
    env[ENV_CPU_IDS] = ",".join(map(str, cpu_ids))
    return env


def job_identity(assignment: Assignment) -> run_as.Identity | None:
    """Whom the job runs as, if not as the worker; SpawnFailed if it cannot be switched to."""
    wanted = assignment.get("run_as")
    if not wanted:
        return None
    try:
        identity = run_as.lookup(wanted)
    except run_as.UnknownUser as exc:
        raise SpawnFailed(f"cannot run as {wanted!r}: {exc} on this host") from None
    if os.geteuid() == 0:
        return identity
    if (identity.uid, identity.gid) == (os.geteuid(), os.getegid()):
        return None  # already so
    raise SpawnFailed(
        f"cannot run as {wanted!r}: the worker runs as {run_as.current_user()}, "
        "and only a worker running as root can switch users"
    )


def _switch_to(identity: run_as.Identity | None) -> dict[str, Any]:
    """Popen's arguments that make the child ``identity``; none (the fast path) for no switch."""
    if identity is None:
        return {}
    return {"user": identity.uid, "group": identity.gid, "extra_groups": identity.groups}


def job_argv(assignment: Assignment) -> list[str]:
    """The program and its arguments; a shell job is ``/bin/sh -c`` its one string."""
    command = assignment["command"]
    if not command:
        raise SpawnFailed("empty command")
    if assignment["shell"]:
        return ["/bin/sh", "-c", command[0]]
    return list(command)


class JobProcess:
    """A running job: its Popen, pidfd, cgroup, output decoders and how it is being ended."""

    def __init__(
        self,
        assignment: Assignment,
        cpu_ids: list[int],
        base_env: Mapping[str, str],
        worker_mask: set[int] | None,
        containment: Containment | None = None,
    ) -> None:
        self.key = (assignment["job_id"], assignment["attempt"])
        self.assignment = assignment
        self.cpu_ids = cpu_ids
        self.containment = containment
        self.rusage: resource.struct_rusage | None = None  # the leader's, from wait4
        self.cgroup = _job_cgroup(containment, assignment)
        try:
            self.proc = _spawn(assignment, cpu_ids, base_env, worker_mask, self.cgroup)
        except SpawnFailed:
            self.release()
            raise
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
        """Send ``signum`` to every process of the job: its cgroup, else its process group.

        Each process gets a catchable signal once (some programs take a second SIGTERM
        as "now"); SIGKILL goes to the process group as well, for good measure.
        """
        if self.cgroup is None or signum == signal.SIGKILL:
            # The leader is unreaped until the group is killed, so its pid (the
            # group id) cannot have been reused by another process.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signum)
        if self.cgroup is not None:
            self.cgroup.signal(signum)

    def reap(self) -> int:
        """Kill what is left of the job, collect the leader's status, free the pidfd."""
        self.signal_group(signal.SIGKILL)
        _, status, self.rusage = os.wait4(self.pid, 0)
        self.returncode = self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.exited = True
        os.close(self.pidfd)
        return self.returncode

    def release(self) -> Usage:
        """Remove the job's cgroup (killing what is left in it); what the job used."""
        usage = Usage()
        if self.cgroup is not None and self.containment is not None:
            usage = self.containment.release(self.cgroup)
            self.cgroup = None
        rusage = self.rusage
        if rusage is None:
            return usage
        # Where the cgroup counted nothing, the leader's own figures (and its reaped children's).
        return Usage(
            max_rss_bytes=usage.max_rss_bytes
            if usage.max_rss_bytes is not None
            else rusage.ru_maxrss * 1024,
            cpu_seconds=usage.cpu_seconds
            if usage.cpu_seconds is not None
            else rusage.ru_utime + rusage.ru_stime,
            oom_kills=usage.oom_kills,
        )

    def verdict(self, usage: Usage) -> tuple[str | None, str | None]:
        """The worker's reason and detail for the end of the job, ``oom`` included.

        An OOM kill counts when the cgroup saw one and the leader died of SIGKILL,
        itself or (as a shell reports it) its child: 128 + 9.
        """
        if self.reason is not None or not usage.oom_kills:
            return self.reason, None
        if self.returncode not in (-signal.SIGKILL, 128 + signal.SIGKILL):
            return None, None
        limit = self.assignment.get("memory_mb")
        return "oom", "out of memory" + (f" (limit {limit} MB)" if limit else "")

    def close(self) -> None:
        """Release the pipes still open (after the job has ended)."""
        for fd in list(self.streams):
            self.close_stream(fd)


def _job_cgroup(containment: Containment | None, assignment: Assignment) -> JobCgroup | None:
    """A new cgroup for the job, or None without cgroups; SpawnFailed if it cannot be made."""
    memory_mb = assignment.get("memory_mb")
    if containment is None or not containment.memory_limits:
        if memory_mb:
            log.warning(
                "job %s asks for %d MB of memory, but this worker cannot limit memory",
                assignment["job_id"],
                memory_mb,
            )
        if containment is None:
            return None
    try:
        return containment.create(assignment["job_id"], assignment["attempt"], memory_mb)
    except OSError as exc:
        raise SpawnFailed(f"cannot create its cgroup: {_why(exc)}") from exc


def _spawn(
    assignment: Assignment,
    cpu_ids: list[int],
    base_env: Mapping[str, str],
    worker_mask: set[int] | None,
    cgroup: JobCgroup | None,
) -> subprocess.Popen[bytes]:
    """Start the program pinned to ``cpu_ids``, in ``cgroup``; raise SpawnFailed if it cannot.

    The child inherits the spawning thread's affinity, so the thread takes the job's
    CPUs first (no pre-exec hook, which would force the slow fork path). The thread
    keeps that mask until the next job needs another: changing it moves the thread
    to another CPU, and only the executor's thread spawns jobs.
    """
    argv = job_argv(assignment)
    identity = job_identity(assignment)
    env = job_environment(base_env, assignment, cpu_ids, identity)
    gated = cgroup is not None and cgroup.gated
    try:
        if gated:
            check_program(argv[0], env, assignment["cwd"])
            argv = gate_argv(argv)
        wanted = set(cpu_ids) or worker_mask
        if wanted is not None and wanted != os.sched_getaffinity(0):
            os.sched_setaffinity(0, wanted)
        with cgroup.spawning() if cgroup is not None else contextlib.nullcontext():
            # stdout/stderr file objects are unused: the descriptors are read directly.
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if gated else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                env=env,
                cwd=assignment["cwd"],
                **_switch_to(identity),
            )
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise SpawnFailed(_why(exc)) from exc
    if gated and cgroup is not None:
        try:
            open_gate(proc, cgroup)
        except OSError as exc:
            proc.kill()
            proc.communicate()
            raise SpawnFailed(f"cannot move it into its cgroup: {_why(exc)}") from exc
    return proc


def _why(exc: BaseException) -> str:
    """A short reason for a spawn failure."""
    if isinstance(exc, OSError) and exc.strerror:
        name = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{name}"
    return str(exc) or type(exc).__name__
