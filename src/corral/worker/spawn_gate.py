"""The gate a job passes on cgroup v2: it waits until the worker has moved it into its cgroup.

The job is spawned as ``/bin/sh -c GATE corral-job PROGRAM ARGS...`` on the fast
path (vfork). The shell reads one line from its stdin, a pipe from the worker; the
worker moves the shell's pid into the job's cgroup, writes the line and closes
the pipe; the shell then replaces itself with the program, looked up in the job's
PATH as subprocess would, with /dev/null as its stdin. Whatever the program forks
is inside from its first instruction. Should the worker die first, the pipe closes
without a line and the shell exits 125 without running anything. The program's
environment is the job's, plus the PWD the shell exports.

The cost is one exec of the shell. The shell would report a missing program as
exit code 127, too late for a clear ``spawn_failed``, so the worker looks the
program up first (``check_program``).
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Mapping

from corral.worker.cgroups import JobCgroup

SHELL = "/bin/sh"
GATE = 'read _ || exit 125; exec "$@" </dev/null'
# The gate's $0, as the shell names itself in its own error messages.
GATE_NAME = "corral-job"


def gate_argv(argv: list[str]) -> list[str]:
    """The command that runs ``argv`` once the gate opens."""
    return [SHELL, "-c", GATE, GATE_NAME, *argv]


def check_program(program: str, env: Mapping[str, str], cwd: str | None) -> None:
    """Raise the OSError exec would for ``program``: not found, or not executable."""
    if "/" in program:
        candidates = [os.path.join(cwd or ".", program)]
    else:
        dirs = env.get("PATH", os.defpath).split(os.pathsep)
        candidates = [os.path.join(cwd or ".", d or ".", program) for d in dirs]
    found = [c for c in candidates if os.path.isfile(c)]
    if any(os.access(c, os.X_OK) for c in found):
        return
    code = errno.EACCES if found else errno.ENOENT
    raise OSError(code, os.strerror(code), program)


def open_gate(proc: subprocess.Popen[bytes], cgroup: JobCgroup) -> None:
    """Move the gated child into ``cgroup``, then let it exec the program."""
    assert proc.stdin is not None
    try:
        cgroup.admit(proc.pid)
        os.write(proc.stdin.fileno(), b"\n")
    finally:
        proc.stdin.close()
