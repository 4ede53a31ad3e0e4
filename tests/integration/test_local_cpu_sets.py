"""Local workers on one host get disjoint CPU sets, or the ones their config names."""

import os

import pytest
from click.testing import CliRunner

from corral.cli import main
from master_api import JobsApi
from master_process import MasterProcess

HOST = sorted(os.sched_getaffinity(0))
pytestmark = pytest.mark.skipif(len(HOST) < 2, reason="needs a host with 2 CPUs or more")
AFFINITY = ["python3", "-c", "import os; print(sorted(os.sched_getaffinity(0)))"]


def cpus_seen(master: MasterProcess) -> tuple[dict[str, str], dict[str, int], int]:
    """CPUs of each running worker as `corral workers`, `workers status` and the overview say."""
    env = {"CORRAL_DATA_DIR": str(master.data_dir), "CORRAL_TOKEN": None}
    table = CliRunner(env=env).invoke(main, ["--url", master.url, "workers"]).stdout
    rows = {r.split("\t")[0]: r.split("\t")[3] for r in table.splitlines() if "\trunning\t" in r}
    statuses = {w: master.status(w) for w in rows}
    overview = master.read("/workers/stats/overview")
    return rows, {w: len(s["cpu_ids"]) for w, s in statuses.items()}, overview["cpus"]


def test_two_one_cpu_workers_get_one_cpu_each(master: MasterProcess) -> None:
    master.create_worker("one", cpus=1, labels={"w": "one"})
    master.create_worker("two", cpus=1, labels={"w": "two"})
    first = master.wait_state("one", "running")["cpu_ids"]
    second = master.wait_state("two", "running")["cpu_ids"]
    assert len(first) == len(second) == 1 and first != second
    jobs = JobsApi(master)
    job = jobs.submit(AFFINITY, labels={"w": "two"})
    assert jobs.wait(job["id"], "succeeded")["state"] == "succeeded"
    assert jobs.output(job["id"]) == [str(second)]

    # A stopped worker's CPU goes to the next one to start.
    master.send("POST", "/workers/one/stop")
    master.wait_state("one", "stopped")
    master.create_worker("three", cpus=1)
    assert master.wait_state("three", "running")["cpu_ids"] == first


def test_a_config_may_name_its_cpus(master: MasterProcess) -> None:
    master.create_worker("pinned", cpu_ids=[HOST[1]], labels={"w": "pinned"})
    assert master.wait_state("pinned", "running")["cpu_ids"] == [HOST[1]]
    jobs = JobsApi(master)
    job = jobs.submit(AFFINITY, labels={"w": "pinned"})
    assert jobs.wait(job["id"], "succeeded")["state"] == "succeeded"
    assert jobs.output(job["id"]) == [str([HOST[1]])]


def test_cpus_the_host_lacks_are_refused_with_its_count(master: MasterProcess) -> None:
    count = len(HOST)
    too_many = master.send("POST", "/worker-configs", json={"worker_id": "big", "cpus": count + 1})
    assert too_many.status_code == 422
    assert f"this host has {count} CPUs" in too_many.text and f"not {count + 1}" in too_many.text
    unknown = master.send(
        "POST", "/worker-configs", json={"worker_id": "big", "cpu_ids": [HOST[-1] + 1]}
    )
    assert unknown.status_code == 422 and f"no CPU {HOST[-1] + 1}" in unknown.text
    master.create_worker("small", cpus=1, auto_start=False)
    patched = master.send("PATCH", "/worker-configs/small", json={"cpus": count + 1})
    assert patched.status_code == 422 and master.read("/worker-configs/small")["cpus"] == 1
    # Nothing refused was stored.
    assert master.read("/worker-configs") == [master.read("/worker-configs/small")]


def test_after_a_patch_every_view_reports_the_same_cpus(master: MasterProcess) -> None:
    master.create_worker("grow", cpus=1)
    master.wait_state("grow", "running")
    assert cpus_seen(master) == ({"grow": "0/1"}, {"grow": 1}, 1)
    master.send("PATCH", "/worker-configs/grow", json={"cpus": 2})
    # The running instance keeps its CPUs until its next start, and every view says so.
    assert cpus_seen(master) == ({"grow": "0/1"}, {"grow": 1}, 1)
    master.send("POST", "/workers/grow/restart")
    master.wait_state("grow", "running", cpu_ids=HOST[:2])
    assert cpus_seen(master) == ({"grow": "0/2"}, {"grow": 2}, 2)
