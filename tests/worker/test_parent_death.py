"""A local worker whose launching process dies kills its jobs and exits at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from corral.outcome_ledger import OUTCOMES_NAME
from corral.protocol import EXCHANGE_PATH
from leftovers import Leftovers
from waiting import wait_for

from .fake_master import TOKEN, FakeMaster, assignment
from .jobs import STUBBORN, python, stubborn_pids
from .procs import alive, wait_dead
from .worker_process import clean_env

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux only"
)

# Nobody is left to drain to: the worker and its jobs go at once, not after a drain window.
GONE_S = 1.0
# Starts the worker as its child with idle threads beside it, as the master has; prints its pid.
LAUNCHER = (
    "import os, subprocess, sys, threading\n"
    "for _ in range(int(sys.argv[2])):\n"
    "    threading.Thread(target=threading.Event().wait, daemon=True).start()\n"
    "env = dict(os.environ, CORRAL_PARENT_PID=str(os.getpid()))\n"
    "p = subprocess.Popen([sys.executable, '-m', 'corral.worker', '--master', sys.argv[1],"
    " '--worker-id', 'w1', '--heartbeat-interval', '0.05', '--drain-timeout', '30'],"
    " env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)\n"
    "print(p.pid, flush=True)\n"
    "p.wait()\n"
)

# Waits for its gate, writes a little more than the 1 MiB of output a worker holds for
# a job before it stops reading its pipes (the pipe takes the rest), and exits.
ENDS_UNREAD = (
    "import os, sys, time\n"
    "while not os.path.exists(os.environ['GATE']): time.sleep(0.01)\n"
    "sys.stdout.writelines('x' * 1023 + '\\n' for _ in range(1064))\n"
)


def launch(master: FakeMaster, threads: int, state: Path) -> tuple[subprocess.Popen[str], int]:
    """A parent process that starts a worker; the parent and the worker's pid."""
    env = clean_env(CORRAL_WORKER_TOKEN=TOKEN, CORRAL_WORKER_STATE_DIR=str(state))
    parent = subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, master.url, str(threads)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None
    with parent.stdout:  # the launcher prints nothing more
        return parent, int(parent.stdout.readline())


@pytest.mark.parametrize("threads", [0, 8])
def test_parent_death_kills_the_jobs_and_exits_at_once(
    master: FakeMaster, leftovers: Leftovers, tmp_path: Path, threads: int
) -> None:
    parent, worker_pid = launch(master, threads, tmp_path / "state")
    leftovers.add(worker_pid)
    master.assign(assignment(1, python(STUBBORN)))
    job_pids = stubborn_pids(master, 1)
    leftovers.add(*job_pids)
    parent.kill()
    parent.wait(5)
    wait_dead([worker_pid, *job_pids], timeout=GONE_S)
    assert master.deregistrations() == []  # no drain, no goodbye: the master is gone


def test_sighup_without_a_parent_to_watch_keeps_its_default(
    master: FakeMaster, tmp_path: Path
) -> None:
    # A remote worker started under nohup must keep ignoring SIGHUP: only a local
    # worker, whose parent is its master, takes SIGHUP as the parent-death signal.
    state = str(tmp_path / "state")
    env = clean_env(CORRAL_WORKER_TOKEN=TOKEN, CORRAL_WORKER_ID="w1", CORRAL_WORKER_STATE_DIR=state)
    worker = subprocess.Popen(
        ["nohup", sys.executable, "-m", "corral.worker", "--master", master.url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(master.heartbeats, what="a heartbeat")
        worker.send_signal(signal.SIGHUP)
        beats = len(master.heartbeats())
        wait_for(lambda: len(master.heartbeats()) > beats + 2, what="heartbeats after SIGHUP")
        assert worker.poll() is None
    finally:
        worker.kill()
        worker.wait()


def test_what_ended_before_the_parent_died_is_kept_as_it_ended(
    master: FakeMaster, leftovers: Leftovers, tmp_path: Path
) -> None:
    # Job 1 ends by itself while the worker has stopped reading its output, which the
    # master cannot take (its exchange hangs); job 2 runs on. Then the master dies.
    parent, worker_pid = launch(master, 0, tmp_path / "state")
    leftovers.add(worker_pid)
    gate = tmp_path / "go"
    master.assign(
        assignment(1, python(ENDS_UNREAD), env={"GATE": str(gate)}),
        assignment(2, python(STUBBORN)),
    )
    job_pids = stubborn_pids(master, 2)
    leftovers.add(*job_pids)
    first = wait_for(lambda: master.started(1), what="job 1 started")
    master.hold.add(EXCHANGE_PATH)
    gate.touch()
    wait_for(lambda: not alive(first["pid"]), what="job 1 to end by itself")
    parent.kill()
    parent.wait(5)
    wait_dead([worker_pid, *job_pids], timeout=GONE_S)
    lines = (tmp_path / "state" / OUTCOMES_NAME).read_text().splitlines()
    ended = {r["job_id"]: r for r in map(json.loads, lines)}
    assert (ended[1]["exit_code"], ended[1]["reason"]) == (0, None)
    assert (ended[2]["signal"], ended[2]["reason"]) == (signal.SIGKILL, "drained")
