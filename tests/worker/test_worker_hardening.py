"""Jobs of the worker's own user cannot read its token: a real worker run as user nobody."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ancestry import SYSTEM_PYTHON, ancestors, walk_ancestors
from leftovers import Leftovers
from nobody import WORKER_PATH, as_nobody, cannot_run_worker, nobody_uid, nobodys_folder
from waiting import wait_for

from .fake_master import TOKEN, FakeMaster, assignment
from .jobs import wait_finished

pytestmark = pytest.mark.skipif(cannot_run_worker() is not None, reason=str(cannot_run_worker()))


@pytest.fixture
def folder() -> Iterator[Path]:
    with nobodys_folder() as path:
        yield path


def test_jobs_of_its_own_user_cannot_read_the_workers_environment_or_memory(
    master: FakeMaster, folder: Path, leftovers: Leftovers
) -> None:
    token_file = folder / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    uid = nobody_uid()
    assert uid is not None
    os.chown(token_file, uid, -1)
    argv = [SYSTEM_PYTHON, "-m", "corral.worker", "--token-file", str(token_file)]
    argv += ["--master", master.url, "--worker-id", "w1", "--heartbeat-interval", "0.05"]
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": WORKER_PATH,
        "CORRAL_WORKER_STATE_DIR": str(folder / "state"),
    }
    with (folder / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [*argv, "--no-cgroups"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            **as_nobody(),
        )
    leftovers.add(worker.pid)
    try:
        (registered, *_) = wait_for(master.registrations, what="a registration")
        assert registered.authorization == f"Bearer {TOKEN}"
        assert not token_file.exists(), "the token file is deleted once read"
        master.assign(assignment(1, walk_ancestors()))
        finished = wait_finished(master, 1, timeout=15)
        assert finished["exit_code"] == 0, master.output(1, "stderr")
        (seen,) = ancestors(master.output(1).splitlines(), up_to=worker.pid)
        assert seen["environ"] == seen["mem"] == "error: Permission denied"
        assert TOKEN not in seen["cmdline"]
    finally:
        worker.terminate()
        worker.wait(10)
    assert TOKEN not in (folder / "worker.log").read_text()
