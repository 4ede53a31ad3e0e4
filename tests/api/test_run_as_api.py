"""run_as through the API: who a worker's jobs run as, whom they may name, what is refused."""

from collections.abc import Iterator
from typing import Any

import pytest

from inprocess_master import InProcessMaster

# The module's tests share one master: run them in one test process.
pytestmark = pytest.mark.xdist_group("run-as-api-master")


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessMaster]:
    """Workers never started: one as its own user, one as nobody that also allows daemon."""
    with InProcessMaster(tmp_path_factory.mktemp("run-as-api") / "data") as m:
        m.create_worker("own", auto_start=False)
        m.create_worker("sandbox", auto_start=False, run_as="nobody", allowed_run_as=["daemon"])
        yield m


def jobs(master: InProcessMaster) -> int:
    """How many jobs the master holds."""
    r = master.api.get("/jobs", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return len(r.json()["jobs"])


def problems(r: Any) -> list[tuple[list[Any], str]]:
    """Each problem of a 422: where, and what."""
    assert r.status_code == 422, r.text
    return [(p["loc"], p["msg"]) for p in r.json()["detail"]]


def test_configs_show_whom_their_jobs_run_as(master: InProcessMaster) -> None:
    body = master.api.get("/worker-configs/sandbox").json()
    assert (body["run_as"], body["allowed_run_as"]) == ("nobody", ["daemon"])
    own = master.api.get("/worker-configs/own").json()
    assert (own["run_as"], own["allowed_run_as"]) == (None, [])


@pytest.mark.parametrize("run_as", ["nobody", "daemon"])
def test_a_job_may_name_a_user_a_worker_runs_jobs_as(master: InProcessMaster, run_as: str) -> None:
    r = master.api.post("/jobs", json={"command": ["id"], "run_as": run_as})
    assert r.status_code == 201, r.text
    assert r.json()["run_as"] == run_as


def test_a_user_no_worker_allows_is_refused(master: InProcessMaster) -> None:
    before = jobs(master)
    r = master.api.post("/jobs", json={"command": ["id"], "run_as": "root"})
    ((loc, msg),) = problems(r)
    assert loc == [] and "no configured worker lets its jobs run as 'root'" in msg
    # Allowed entries are matched as written: daemon, not daemon with another group.
    r = master.api.post("/jobs", json={"command": ["id"], "run_as": "daemon:root"})
    assert "run as 'daemon:root'" in problems(r)[0][1]
    assert jobs(master) == before


@pytest.mark.parametrize(
    ("run_as", "msg"),
    [
        ("no-such-user-7", "unknown user 'no-such-user-7'"),
        ("nobody:no-such-group-7", "unknown group 'no-such-group-7'"),
        ("-rf", "should match pattern"),
        ("a b", "should match pattern"),
        ("a:b:c", "should match pattern"),
        ("", "should match pattern"),
        ("x" * 40, "should match pattern"),
    ],
)
def test_an_unknown_or_malformed_user_is_refused(
    master: InProcessMaster, run_as: str, msg: str
) -> None:
    before = jobs(master)
    r = master.api.post("/jobs", json={"command": ["id"], "run_as": run_as})
    ((loc, found),) = problems(r)
    assert loc == ["body", "run_as"] and msg in found
    assert jobs(master) == before


@pytest.mark.parametrize(
    ("fields", "loc", "msg"),
    [
        ({"run_as": "no-such-user-7"}, ["body", "run_as"], "unknown user 'no-such-user-7'"),
        ({"allowed_run_as": ["nobody", "ghost-7"]}, ["body", "allowed_run_as", 1], "'ghost-7'"),
        ({"allowed_run_as": "nobody"}, ["body", "allowed_run_as"], "valid list"),
        ({"run_as": 65534}, ["body", "run_as"], "valid string"),
    ],
)
def test_configs_naming_unknown_users_are_refused(
    master: InProcessMaster, fields: dict[str, Any], loc: list[Any], msg: str
) -> None:
    r = master.api.post("/worker-configs", json={"worker_id": "bad", **fields})
    assert any(where == loc and msg in m for where, m in problems(r)), r.text
    r = master.api.patch("/worker-configs/own", json=fields)
    assert any(where == loc and msg in m for where, m in problems(r)), r.text
    assert master.api.get("/worker-configs/bad").status_code == 404
    assert master.api.get("/worker-configs/own").json()["run_as"] is None


def test_patch_sets_and_clears_run_as(master: InProcessMaster) -> None:
    r = master.api.patch("/worker-configs/own", json={"run_as": "nobody:nogroup"})
    assert r.status_code == 200 and r.json()["run_as"] == "nobody:nogroup", r.text
    r = master.api.post("/jobs", json={"command": ["id"], "run_as": "nobody:nogroup"})
    assert r.status_code == 201, r.text
    r = master.api.patch("/worker-configs/own", json={"run_as": None})
    assert r.status_code == 200 and r.json()["run_as"] is None, r.text
    r = master.api.post("/jobs", json={"command": ["id"], "run_as": "nobody:nogroup"})
    assert "run as 'nobody:nogroup'" in problems(r)[0][1]
