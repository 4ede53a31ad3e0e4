"""A real master with one local worker of 2 CPUs, and a way to run the CLI against it."""

from collections.abc import Callable, Iterator

import pytest
from click.testing import CliRunner, Result

from corral.cli import main
from master_process import MasterProcess, master_with_worker

RunCli = Callable[..., Result]


@pytest.fixture(scope="package")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MasterProcess]:
    """The master, with worker ``w1`` (cpus=2) running."""
    with master_with_worker(tmp_path_factory.mktemp("master") / "data") as master:
        yield master


@pytest.fixture
def corral(master: MasterProcess) -> RunCli:
    """Run ``corral ARGS...`` in this process against the master; stdout is not a terminal."""

    def run(*args: str) -> Result:
        # As a user in the folder that holds the master's data: the CLI finds the token.
        env = {"CORRAL_DATA_DIR": str(master.data_dir), "CORRAL_TOKEN": None}
        return CliRunner(env=env).invoke(main, ["--url", master.url, *args])

    return run
