"""Fixtures for tests against a real master process and real worker processes."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from master_process import MasterFactory, MasterProcess
from pgserver import PgServer, find_bindir


@pytest.fixture
def start_master(tmp_path: Path) -> Iterator[MasterFactory]:
    """Start masters on demand; each is stopped (SIGTERM, then SIGKILL) at teardown."""
    started: list[MasterProcess] = []

    def start(data_dir: Path | None = None, **kwargs: Any) -> MasterProcess:
        master = MasterProcess(data_dir or tmp_path / "data", **kwargs).start()
        started.append(master)
        return master

    yield start
    for master in started:
        master.stop()


@pytest.fixture
def master(start_master: MasterFactory) -> MasterProcess:
    """One master on SQLite with fast test timings."""
    return start_master()


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A PostgreSQL cluster of this test's own, to stop and start at will."""
    bindir = find_bindir()
    assert bindir is not None, "PostgreSQL binaries are missing"
    server = PgServer.create(bindir, label="outage-")
    server.start()
    try:
        yield server
    finally:
        server.stop()
