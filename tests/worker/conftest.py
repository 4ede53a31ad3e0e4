"""Fixtures for the worker tests: a fake master and real worker processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corral.worker.master_client import MasterClient

from .fake_master import TOKEN, FakeMaster
from .job_runs import JobRuns, StartJob
from .worker_process import WorkerProcess

SpawnWorker = Callable[..., WorkerProcess]
NewClient = Callable[..., MasterClient]


@pytest.fixture
def idle_master() -> Iterator[FakeMaster]:
    """A fake master with its port reserved but not yet accepting connections."""
    master = FakeMaster()
    yield master
    master.stop()


@pytest.fixture
def master(idle_master: FakeMaster) -> FakeMaster:
    """A running fake master."""
    return idle_master.start()


@pytest.fixture
def start_job() -> Iterator[StartJob]:
    """Start JobProcesses in the test's process; whatever is left of them is ended at teardown.

    Request it after ``containment``: it is torn down first, while the cgroups still exist.
    """
    runs = JobRuns()
    yield runs.start
    runs.close()


@pytest.fixture
def new_client() -> Iterator[NewClient]:
    """MasterClients with the test token; their connections are closed at teardown."""
    clients: list[MasterClient] = []

    def new(url: str, token: str = TOKEN, timeout: float = 5.0) -> MasterClient:
        client = MasterClient(url, token, "w1", timeout=timeout)
        clients.append(client)
        return client

    yield new
    for client in clients:
        client.close()


@pytest.fixture
def spawn_worker(tmp_path: Path) -> Iterator[SpawnWorker]:
    """Start real workers; kill them at teardown and check none printed the token."""
    workers: list[WorkerProcess] = []

    def spawn(
        url: str | None,
        *,
        worker_id: str | None = "w1",
        interval: float | None = 0.05,
        extra_args: tuple[str, ...] = (),
        token: str | None = TOKEN,
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        args = [*(["--master", url] if url else []), *extra_args]
        args += ["--worker-id", worker_id] if worker_id else []
        if interval is not None:
            args += ["--heartbeat-interval", str(interval)]
        log_path = tmp_path / f"worker-{len(workers)}.log"
        # A state folder per test: workers of other tests never see each other's jobs.
        env = {"CORRAL_WORKER_STATE_DIR": str(tmp_path / "state"), **(env or {})}
        worker = WorkerProcess(log_path, args, token=token, env=env)
        workers.append(worker)
        return worker

    yield spawn
    for worker in workers:
        worker.kill()
    for worker in workers:
        assert TOKEN not in worker.log(), "the worker printed its token"
