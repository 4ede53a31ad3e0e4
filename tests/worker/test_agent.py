"""Agent in-process against the fake master: registration, stale instance, contact time."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from corral.protocol import FENCE_LEASE_FRACTION, JobEvent
from corral.worker.agent import Agent, backoff_delays, is_fatal
from corral.worker.master_client import (
    Conflict,
    MasterUnreachable,
    NotFound,
    Unauthorized,
)
from corral.worker.metrics import Sample

from .conftest import NewClient
from .fake_master import FakeMaster, assignment

SAMPLE = Sample(cpu_percent=1.5, memory_bytes=1024)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


MakeAgent = Callable[..., Agent]


@pytest.fixture
def make_agent(new_client: NewClient) -> MakeAgent:
    """Agents for worker w1 with CPUs 0 and 1, each on a client closed at teardown."""

    def make(url: str, clock: FakeClock | None = None, interval: float | None = None) -> Agent:
        client = new_client(url, timeout=1)
        return Agent(
            client, "w1", [0, 1], heartbeat_interval_s=interval, clock=clock or FakeClock()
        )

    return make


def test_backoff_doubles_up_to_the_cap() -> None:
    delays = backoff_delays()
    assert [next(delays) for _ in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_register_adopts_the_masters_timing(master: FakeMaster, make_agent: MakeAgent) -> None:
    master.heartbeat_interval_s, master.lease_s = 0.5, 3.0
    agent = make_agent(master.url)
    agent.register()
    assert agent.registered
    assert (agent.heartbeat_interval_s, agent.lease_s) == (0.5, 3.0)
    assert master.current == {"w1": agent.instance_id}


def test_command_line_interval_wins(master: FakeMaster, make_agent: MakeAgent) -> None:
    agent = make_agent(master.url, interval=0.2)
    agent.register()
    assert agent.heartbeat_interval_s == 0.2


def test_stale_heartbeat_renews_the_instance_and_registers(
    master: FakeMaster, make_agent: MakeAgent
) -> None:
    agent = make_agent(master.url)
    agent.register()
    old = agent.instance_id
    master.forget("w1")
    agent.heartbeat(SAMPLE)
    assert agent.instance_id != old
    assert master.current == {"w1": agent.instance_id}
    agent.heartbeat(SAMPLE)
    assert master.heartbeats()[-1].body == {
        "worker_id": "w1",
        "instance_id": agent.instance_id,
        "cpu_percent": 1.5,
        "memory_bytes": 1024,
    }


def test_seconds_since_contact_follows_successful_requests(
    master: FakeMaster, make_agent: MakeAgent
) -> None:
    clock = FakeClock()
    agent = make_agent(master.url, clock)
    assert agent.seconds_since_contact() == math.inf
    agent.register()
    clock.now += 0.5
    assert agent.seconds_since_contact() == 0.5
    assert not agent.contact_lost()
    master.drop_requests = True
    with pytest.raises(MasterUnreachable):
        agent.heartbeat(SAMPLE)
    clock.now += 1.0
    assert agent.seconds_since_contact() == 1.5
    assert agent.contact_lost()  # the fake master's lease is 1 s
    master.drop_requests = False
    agent.heartbeat(SAMPLE)
    assert agent.seconds_since_contact() == 0


def test_register_until_done_stops_when_asked(
    idle_master: FakeMaster, make_agent: MakeAgent
) -> None:
    agent = make_agent(idle_master.url)
    waits: list[float] = []

    def wait(delay: float) -> bool:
        waits.append(delay)
        return len(waits) == 3

    assert agent.register_until_done(wait) is False
    assert waits == [0.1, 0.2, 0.4]
    assert not agent.registered


def test_register_until_done_raises_when_refused(master: FakeMaster, make_agent: MakeAgent) -> None:
    master.token = "other"
    agent = make_agent(master.url)
    with pytest.raises(Unauthorized):
        agent.register_until_done(lambda delay: False)


def test_deregister(master: FakeMaster, make_agent: MakeAgent) -> None:
    agent = make_agent(master.url)
    assert agent.deregister() is False  # never registered: nothing to say
    agent.register()
    assert agent.deregister() is True
    assert master.deregistrations()[0].body["reason"] == "shutdown"


def test_fatal_and_transient_errors() -> None:
    assert is_fatal(Unauthorized(401, {}, "/p"))
    assert is_fatal(NotFound(404, {}, "/p"))
    assert not is_fatal(Conflict(409, {}, "/p"))
    assert not is_fatal(MasterUnreachable("down"))


def test_no_heartbeat_or_reregistration_after_deregister(
    master: FakeMaster, make_agent: MakeAgent
) -> None:
    agent = make_agent(master.url)
    agent.register()
    agent.deregister()
    master.forget("w1")
    agent.heartbeat(SAMPLE)
    assert len(master.registrations()) == 1
    assert master.heartbeats() == []


@pytest.mark.parametrize(("capacity", "used"), [(None, [0, 1]), (1, [0]), (5, [0, 1]), (0, [0, 1])])
def test_capacity_from_the_master_cuts_the_usable_cpus(
    master: FakeMaster, capacity: int | None, used: list[int], make_agent: MakeAgent
) -> None:
    master.capacity = capacity
    agent = make_agent(master.url)
    agent.register()
    assert agent.cpu_ids == used
    assert master.registrations()[0].body["cpu_ids"] == [0, 1]  # it still says what it has


def test_fence_deadline_is_a_share_of_the_lease_after_the_last_contact(
    master: FakeMaster, make_agent: MakeAgent
) -> None:
    clock = FakeClock()
    agent = make_agent(master.url, clock)
    assert agent.fence_deadline() == -math.inf
    agent.register()
    assert agent.fence_deadline() == pytest.approx(100.0 + 1.0 * FENCE_LEASE_FRACTION)


def test_exchange_carries_events_and_returns_the_work(
    master: FakeMaster, make_agent: MakeAgent
) -> None:
    agent = make_agent(master.url)
    master.assign(assignment(1, ["true"]))
    master.cancel(2)
    event: JobEvent = {"type": "finished", "job_id": 3, "attempt": 1, "at": 1.0, "exit_code": 0}
    answer = agent.exchange([event], wait_s=0, draining=True, timeout=1)  # registers first
    assert answer is not None
    assert [a["job_id"] for a in answer["assignments"]] == [1]
    assert answer["cancels"] == [{"job_id": 2, "attempt": 1}]
    assert answer["stale"] == []
    [request] = master.exchanges()
    assert request.body == {
        "worker_id": "w1",
        "instance_id": agent.instance_id,
        "events": [event],
        "wait_s": 0,
        "draining": True,
    }


def test_a_stale_exchange_renews_the_instance_once(
    master: FakeMaster, make_agent: MakeAgent
) -> None:
    agent = make_agent(master.url)
    renewals: list[str] = []
    agent.on_new_instance.append(lambda: renewals.append(agent.instance_id))
    agent.register()
    old = agent.instance_id
    master.forget("w1")
    assert agent.exchange([], wait_s=0, draining=False, timeout=1) is None
    assert renewals == [agent.instance_id] and agent.instance_id != old
    assert not agent.registered
    agent.heartbeat(SAMPLE)  # a heartbeat that also saw the old instance registers once
    assert len(master.registrations()) == 2 and renewals == [agent.instance_id]
