"""The master's API served in this process, its workers in memory: fast, and no port to share."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from inprocess_master import InProcessMaster


@pytest.fixture
def master(tmp_path: Path) -> Iterator[InProcessMaster]:
    """A fresh master on SQLite, its lifespan run; closed after the test."""
    with InProcessMaster(tmp_path / "data") as master:
        yield master
