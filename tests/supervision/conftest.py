"""Async tests on uvloop, as the master runs, and a rig of real services per test."""

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from corral.domain.workers import DeploymentType
from corral.master.app import open_services
from corral.settings import MasterSettings
from fake_launcher import FakeLauncher
from supervision.rig import Rig

OpenRig = Callable[..., Awaitable[Rig]]

# Long enough never to run out in a test unless the test says so; delays are the configs'.
SETTINGS: dict[str, Any] = {"lease_s": 30.0, "start_timeout_s": 30.0, "stop_timeout_s": 1.0}


@pytest.fixture(scope="module")
def anyio_backend() -> tuple[str, dict[str, Any]]:
    """The loop the master runs on."""
    return ("asyncio", {"use_uvloop": True})


@pytest.fixture
async def open_rig(tmp_path: Path) -> AsyncIterator[OpenRig]:
    """Open the master's services with a fake launcher; all are closed at teardown."""
    opened: list[Rig] = []
    fatal: list[str] = []

    async def open_(data_dir: Path | None = None, **settings: Any) -> Rig:
        config = MasterSettings(data_dir=data_dir or tmp_path / "data", **SETTINGS | settings)
        launcher = FakeLauncher()
        launchers = {DeploymentType.LOCAL: launcher}
        rig = Rig(await open_services(config, fatal.append, launchers), launcher)
        opened.append(rig)
        return rig

    yield open_
    for rig in opened:
        await rig.close()
    assert fatal == [], "a background task of the master kept failing"


@pytest.fixture
async def rig(open_rig: OpenRig) -> Rig:
    """Services with the default test settings."""
    return await open_rig()
