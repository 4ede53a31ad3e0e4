"""A real worker run as user nobody: its jobs cannot read its token, nor switch users."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ancestry import SYSTEM_PYTHON, ancestors, walk_ancestors
from leftovers import Leftovers
from nobody import NOBODY, WORKER_PATH, as_nobody, cannot_run_worker, nobody_uid, nobodys_folder
from waiting import wait_for

from .fake_master import TOKEN, FakeMaster, assignment
from .jobs import wait_finished

pytestmark = pytest.mark.skipif(cannot_run_worker() is not None, reason=str(cannot_run_worker()))


@pytest.fixture
def folder() -> Iterator[Path]:
    with nobodys_folder() as path:
        yield path


@pytest.fixture
def worker(master: FakeMaster, folder: Path, leftovers: Leftovers) -> Iterator[int]:
    """The pid of a worker run as nobody, its token given in a file; stopped at teardown."""
    token_file = folder / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    os.chown(token_file, nobody_uid() or 0, -1)
    argv = [SYSTEM_PYTHON, "-m", "corral.worker", "--token-file", str(token_file)]
    argv += ["--master", master.url, "--worker-id", "w1", "--heartbeat-interval", "0.05"]
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": WORKER_PATH,
        "CORRAL_WORKER_STATE_DIR": str(folder / "state"),
    }
    log_path = folder / "worker.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*argv, "--no-cgroups"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            **as_nobody(),
        )
    leftovers.add(proc.pid)
    try:
        (registered, *_) = wait_for(master.registrations, timeout=30, what="a registration")
        assert registered.authorization == f"Bearer {TOKEN}"
        assert registered.body["user"] == NOBODY
        assert not token_file.exists(), "the token file is deleted once read"
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
    assert TOKEN not in log_path.read_text()


def test_jobs_of_its_own_user_cannot_read_the_workers_environment_or_memory(
    master: FakeMaster, worker: int
) -> None:
    master.assign(assignment(1, walk_ancestors()))
    assert wait_finished(master, 1, timeout=15)["exit_code"] == 0, master.output(1, "stderr")
    (seen,) = ancestors(master.output(1).splitlines(), up_to=worker)
    assert seen["environ"] == seen["mem"] == "error: Permission denied"
    assert TOKEN not in seen["cmdline"]


def test_a_worker_that_is_not_root_runs_jobs_only_as_itself(
    master: FakeMaster, worker: int
) -> None:
    as_root = assignment(1, ["/bin/true"])
    as_root["run_as"] = "root"
    as_itself = assignment(2, ["/bin/sh", "-c", "id -un"])
    as_itself["run_as"] = NOBODY
    master.assign(as_root, as_itself)
    refused = wait_finished(master, 1, timeout=15)
    assert refused["reason"] == "spawn_failed"
    assert refused["detail"] == (
        f"cannot run as 'root': the worker runs as {NOBODY}, "
        "and only a worker running as root can switch users"
    )
    assert wait_finished(master, 2, timeout=15)["exit_code"] == 0
    assert master.output(2).strip() == NOBODY
