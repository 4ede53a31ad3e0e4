"""Every launcher test runs on the stock asyncio loop and on uvloop, as the master may."""

import asyncio

import pytest
import uvloop

from launchers.launcher_helpers import Run, Scenario


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Run:
    """Run a scenario to completion on a fresh loop of the parameter's kind."""
    factory = uvloop.new_event_loop if request.param == "uvloop" else None

    def run_scenario(scenario: Scenario) -> None:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(scenario)

    return run_scenario
