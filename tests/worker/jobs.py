"""Job programs for the worker tests, and reading what they print."""

from __future__ import annotations

import sys

from corral.protocol import JobEvent
from waiting import wait_for

from .fake_master import FakeMaster

# Ignores SIGTERM (and so does its forked child), prints "leader child", waits.
STUBBORN = (
    "import os, signal, time\n"
    "for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
    "    signal.signal(sig, signal.SIG_IGN)\n"
    "child = os.fork()\n"
    "if child == 0:\n"
    "    time.sleep(60)\n"
    "    os._exit(0)\n"
    "print(os.getpid(), child, flush=True)\n"
    "time.sleep(60)\n"
)


def python(code: str) -> list[str]:
    """The argv of a Python job."""
    return [sys.executable, "-c", code]


def gate(path: str) -> list[str]:
    """A shell job that prints its CPUs and waits until ``path`` exists."""
    script = (
        'grep Cpus_allowed_list /proc/self/status; echo "ids=$CORRAL_CPU_IDS"; '
        f"while [ ! -e {path} ]; do sleep 0.01; done"
    )
    return ["/bin/sh", "-c", script]


def stubborn_pids(master: FakeMaster, job_id: int) -> list[int]:
    """The leader and child pids a STUBBORN job printed."""
    line = wait_for(lambda: master.output(job_id).strip(), what=f"job {job_id}'s pids")
    return [int(pid) for pid in line.split()]


def wait_finished(master: FakeMaster, job_id: int, timeout: float = 5.0) -> JobEvent:
    """The job's finished event, waiting for it."""
    return wait_for(lambda: master.finished(job_id), timeout, what=f"job {job_id} to finish")
