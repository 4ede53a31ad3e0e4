"""A real master with one running local worker of 2 CPUs, shared by the tests of this folder."""

from collections.abc import Iterator

import pytest

from corral.client import Client
from master_process import MasterProcess, master_with_worker


@pytest.fixture(scope="package")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterProcess]:
    """The master, with worker ``w1`` (cpus=2) running."""
    with master_with_worker(tmp_path_factory.mktemp("master") / "data") as master:
        yield master


@pytest.fixture
def client(master: MasterProcess) -> Iterator[Client]:
    """A client of that master, reading the token from its data folder."""
    with Client(master.url, data_dir=master.data_dir) as client:
        yield client
