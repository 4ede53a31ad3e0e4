"""GET /metrics on a real master, read by prometheus_client's own parser, against the API."""

import os
import signal
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from corral import __version__
from master_api import JobsApi
from master_process import MasterProcess
from waiting import wait_for

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(master: MasterProcess) -> Samples:
    """Every sample of one scrape, by name and labels."""
    r = httpx.get(master.url + "/metrics", headers=master.auth())
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def one(samples: Samples, name: str, **labels: str) -> float:
    """The value of one sample."""
    return samples[(name, frozenset(labels.items()))]


def count_jobs(master: MasterProcess, state: str) -> int:
    """How many jobs the API lists in ``state``."""
    r = master.api.get("/jobs", params={"state": state, "limit": 1000})
    assert r.status_code == 200, r.text
    return len(r.json()["jobs"])


def test_metrics_need_the_token(master: MasterProcess) -> None:
    assert httpx.get(master.url + "/metrics").status_code == 401


def test_metrics_match_the_api_after_jobs_and_a_worker_kill(master: MasterProcess) -> None:
    master.create_worker("w1", cpus=1, restart_delay_ms=0)
    master.create_worker("gone", cpus=1, auto_start=False)
    first = master.wait_state("w1", "running")
    jobs = JobsApi(master)
    for command in (["/bin/true"], ["/bin/true"], ["/bin/sh", "-c", "exit 3"]):
        jobs.wait(jobs.submit(command)["id"])
    os.kill(first["pid"], signal.SIGKILL)
    master.wait_state("w1", "running", restart_count=1)
    running = jobs.submit(["/bin/sleep", "60"])
    jobs.wait(running["id"], "running")
    jobs.submit(["/bin/sleep", "60"])
    assert master.api.delete("/worker-configs/gone").status_code == 204
    # The restarted worker's first heartbeats may come before its first measurement.
    wait_for(lambda: master.status("w1")["memory_bytes"], what="w1's memory")

    samples = scrape(master)
    for state in ("pending", "assigned", "running", "succeeded", "failed", "timed_out"):
        assert one(samples, "corral_jobs", state=state) == count_jobs(master, state), state
    assert one(samples, "corral_jobs", state="succeeded") == 2
    assert one(samples, "corral_jobs", state="cancelled") == 0
    assert one(samples, "corral_jobs_submitted_total") == 5
    assert one(samples, "corral_jobs_finished_total", outcome="succeeded") == 2
    assert one(samples, "corral_jobs_finished_total", outcome="failed") == 1
    assert one(samples, "corral_jobs_finished_total", outcome="timed_out") == 0
    assert one(samples, "corral_jobs_pending_cpus") == 1
    assert one(samples, "corral_job_run_duration_seconds_count") == 3
    assert one(samples, "corral_job_queue_wait_seconds_count") == 4
    assert one(samples, "corral_job_queue_wait_seconds_bucket", le="+Inf") == 4

    status = master.status("w1")
    assert one(samples, "corral_workers", state="running") == 1
    assert one(samples, "corral_workers", state="crashed") == 0
    assert one(samples, "corral_worker_up", worker="w1") == 1
    assert one(samples, "corral_worker_desired_up", worker="w1") == 1
    assert one(samples, "corral_worker_restarts_total", worker="w1") == status["restart_count"] == 1
    assert one(samples, "corral_worker_cpus", worker="w1") == 1, "as configured"
    assert one(samples, "corral_worker_cpus_allocated", worker="w1") == 1
    assert one(samples, "corral_worker_jobs_running", worker="w1") == 1
    assert one(samples, "corral_worker_resident_memory_bytes", worker="w1") > 0
    assert one(samples, "corral_worker_cpu_seconds_total", worker="w1") >= 0
    beat = one(samples, "corral_worker_last_heartbeat_timestamp_seconds", worker="w1")
    assert abs(beat - time.time()) < 10
    assert not [key for key in samples if ("worker", "gone") in key[1]], "a deleted worker's series"
    (build,) = [dict(labels) for name, labels in samples if name == "corral_build_info"]
    assert (
        build["version"] == __version__
        and samples[("corral_build_info", frozenset(build.items()))] == 1
    )


def test_cpu_seconds_grow_while_a_job_burns_cpu(master: MasterProcess) -> None:
    master.create_worker("w1", cpus=1)
    master.wait_state("w1", "running")
    JobsApi(master).submit(["/bin/sh", "-c", "while :; do :; done"], timeout_s=30)
    wait_for(
        lambda: one(scrape(master), "corral_worker_cpu_seconds_total", worker="w1") > 0.3,
        timeout=20,
        what="CPU seconds counted from heartbeats",
    )
