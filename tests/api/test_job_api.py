"""The jobs REST API of a master with one configured worker (2 CPUs) that never runs."""

import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from inprocess_master import InProcessMaster

# The module's tests share one master: run them in one test process.
pytestmark = pytest.mark.xdist_group("job-api-master")

_accounts = itertools.count()


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessMaster]:
    """One master for the module; jobs stay pending since its only worker is not started."""
    with InProcessMaster(tmp_path_factory.mktemp("job-api") / "data") as m:
        m.create_worker("two", cpus=2, auto_start=False)
        yield m


def account() -> str:
    """An account of its own, so a test can list exactly its jobs."""
    return f"acct-{next(_accounts)}"


def submit(master: InProcessMaster, **body: Any) -> dict[str, Any]:
    r = master.api.post("/jobs", json={"command": ["true"], **body})
    assert r.status_code == 201, r.text
    job: dict[str, Any] = r.json()
    return job


def total(master: InProcessMaster) -> int:
    """How many jobs the master holds (up to 1000)."""
    r = master.api.get("/jobs", params={"limit": 1000})
    assert r.status_code == 200, r.text
    return len(r.json()["jobs"])


def test_submit_answers_201_with_the_whole_job(master: InProcessMaster) -> None:
    body = {
        "command": ["python3", "-c", "print(1)"],
        "cpus": 2,
        "env": {"GREETING": "hi"},
        "cwd": "/tmp",
        "timeout_s": 5,
        "max_attempts": 3,
        "retry_delay_s": 0.5,
        "priority": 7,
        "account": account(),
    }
    job = submit(master, **body)
    assert {k: job[k] for k in body} == body
    assert job["id"] >= 1 and job["state"] == "pending" and job["attempt"] == 0
    assert job["shell"] is False and job["worker_id"] is None and job["submitted_at"]
    got = master.api.get(f"/jobs/{job['id']}")
    # A job read alone says why it is pending; the submission answers before any placement.
    assert got.status_code == 200 and got.json() == job | {"waiting_for": "no worker is running"}


def test_idempotency_key_returns_the_same_job(master: InProcessMaster) -> None:
    first = submit(master, idempotency_key="nightly-2026-05-01", command=["echo", "a"])
    again = master.api.post(
        "/jobs", json={"command": ["echo", "b"], "idempotency_key": "nightly-2026-05-01"}
    )
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"] and again.json()["command"] == ["echo", "a"]


def test_batch_stores_all_in_order(master: InProcessMaster) -> None:
    acct = account()
    jobs = [{"command": ["echo", str(i)], "account": acct} for i in range(5)]
    r = master.api.post("/jobs/batch", json={"jobs": jobs})
    assert r.status_code == 201, r.text
    made = r.json()["jobs"]
    assert [j["command"][1] for j in made] == ["0", "1", "2", "3", "4"]
    ids = [j["id"] for j in made]
    assert ids == sorted(ids) and len(set(ids)) == 5
    listed = master.api.get("/jobs", params={"account": acct}).json()["jobs"]
    assert [j["id"] for j in listed] == ids[::-1]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"command": []}, "command"),
        ({"command": [""]}, "command[0]"),
        ({"cpus": 0}, "cpus"),
        ({"cpus": -2}, "cpus"),
        ({"colour": "blue"}, "colour"),
        ({"shell": True, "command": ["echo", "hi"]}, "one string"),
        ({"cwd": "relative/dir"}, "cwd"),
        ({"env": {f"K{i}": "v" for i in range(300)}}, "env"),
        ({"env": {"BIG": "x" * 40_000}}, "env"),
        ({"env": {"1BAD": "x"}}, "env"),
        ({"account": "a b"}, "account"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout_s": 0}, "timeout_s"),
    ],
)
def test_bad_jobs_are_refused_and_nothing_is_stored(
    master: InProcessMaster, body: dict[str, Any], needle: str
) -> None:
    before = total(master)
    r = master.api.post("/jobs", json={"command": ["true"], **body})
    assert r.status_code == 422, r.text
    assert needle in r.text
    assert total(master) == before


def test_a_bad_job_in_a_batch_refuses_the_whole_batch(master: InProcessMaster) -> None:
    before = total(master)
    r = master.api.post("/jobs/batch", json={"jobs": [{"command": ["true"]}, {"cpus": 1}]})
    assert r.status_code == 422, r.text
    assert total(master) == before


def test_an_oversized_body_is_refused_with_413(master: InProcessMaster) -> None:
    before = total(master)
    r = master.api.post("/jobs", json={"command": ["echo", "x" * 60_000] * 30})
    assert r.status_code == 413, r.text
    assert "larger than" in r.json()["detail"]
    assert total(master) == before


def test_more_cpus_than_any_configured_worker_is_refused(master: InProcessMaster) -> None:
    before = total(master)
    r = master.api.post("/jobs", json={"command": ["true"], "cpus": 3})
    assert r.status_code == 422, r.text
    (problem,) = r.json()["detail"]
    assert "3 CPUs" in problem["msg"] and "largest has 2" in problem["msg"]
    batch = master.api.post(
        "/jobs/batch", json={"jobs": [{"command": ["a"]}, {"command": ["b"], "cpus": 9}]}
    )
    assert batch.status_code == 422 and "job 1" in batch.json()["detail"][0]["msg"]
    assert total(master) == before


def test_cancel_a_pending_job_then_again(master: InProcessMaster) -> None:
    job = submit(master)
    r = master.api.post(f"/jobs/{job['id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled" and r.json()["finished_at"]
    assert master.api.get(f"/jobs/{job['id']}").json()["state"] == "cancelled"
    again = master.api.post(f"/jobs/{job['id']}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_retry_a_pending_job_is_a_conflict(master: InProcessMaster) -> None:
    job = submit(master)
    r = master.api.post(f"/jobs/{job['id']}/retry")
    assert r.status_code == 409, r.text
    assert master.api.get(f"/jobs/{job['id']}").json()["state"] == "pending"


def test_retry_a_cancelled_job_makes_it_pending(master: InProcessMaster) -> None:
    job = submit(master)
    master.api.post(f"/jobs/{job['id']}/cancel")
    r = master.api.post(f"/jobs/{job['id']}/retry")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "pending" and r.json()["reason"] is None
    assert r.json()["finished_at"] is None
    assert master.api.get(f"/jobs/{job['id']}").json()["state"] == "pending"


def test_unknown_job_is_404(master: InProcessMaster) -> None:
    for r in (
        master.api.get("/jobs/987654321"),
        master.api.post("/jobs/987654321/cancel"),
        master.api.post("/jobs/987654321/retry"),
        master.api.get("/jobs/987654321/wait", params={"timeout_s": 0}),
    ):
        assert r.status_code == 404, r.text
        assert "987654321" in r.json()["detail"]
    assert master.api.get("/jobs/0").status_code == 422


def test_list_pages_newest_first_with_filters(master: InProcessMaster) -> None:
    acct = account()
    ids = [submit(master, account=acct, command=["echo", str(i)])["id"] for i in range(5)]
    master.api.post(f"/jobs/{ids[1]}/cancel")
    master.api.post(f"/jobs/{ids[3]}/cancel")
    page = master.api.get("/jobs", params={"account": acct, "limit": 2}).json()
    assert [j["id"] for j in page["jobs"]] == [ids[4], ids[3]]
    assert page["next_before_id"] == ids[3]
    page2 = master.api.get(
        "/jobs", params={"account": acct, "limit": 2, "before_id": page["next_before_id"]}
    ).json()
    assert [j["id"] for j in page2["jobs"]] == [ids[2], ids[1]]
    last = master.api.get(
        "/jobs", params={"account": acct, "limit": 2, "before_id": page2["next_before_id"]}
    ).json()
    assert [j["id"] for j in last["jobs"]] == [ids[0]] and last["next_before_id"] is None
    cancelled = master.api.get("/jobs", params={"account": acct, "state": "cancelled"}).json()
    assert [j["id"] for j in cancelled["jobs"]] == [ids[3], ids[1]]
    both = master.api.get(
        "/jobs", params=[("account", acct), ("state", "cancelled"), ("state", "pending")]
    ).json()
    assert len(both["jobs"]) == 5
    assert (
        master.api.get("/jobs", params={"account": acct, "worker_id": "two"}).json()["jobs"] == []
    )
    assert master.api.get("/jobs", params={"state": "sleeping"}).status_code == 422


def test_wait_returns_at_once_for_a_finished_job(master: InProcessMaster) -> None:
    job = submit(master)
    master.api.post(f"/jobs/{job['id']}/cancel")
    r = master.api.get(f"/jobs/{job['id']}/wait", params={"timeout_s": 30}, timeout=5.0)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cancelled"


def test_wait_gives_the_job_as_it_is_after_the_timeout(master: InProcessMaster) -> None:
    job = submit(master)
    r = master.api.get(f"/jobs/{job['id']}/wait", params={"timeout_s": 0.05}, timeout=5.0)
    assert r.status_code == 200 and r.json()["state"] == "pending"
