"""Jobs figures beside the bare loop: throughput, dispatch latency, recovery after a worker dies.

Each suite starts a real master on a free port with a fresh data folder and one local worker
with 2 CPUs, and talks to it over a single keep-alive connection.
"""

import argparse
import http.client
import json
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from bench import bare
from bench.stats import summary_ms
from bench.supervision import Master

WORKER = "w1"
CPUS = 2
# Long-poll of /jobs/{id}/wait: most calls return at once, the master caps it at 60 s.
WAIT_S = 30.0


@contextmanager
def master_with_worker(env: dict[str, str] | None = None) -> Iterator[Master]:
    """A fresh master and one running local worker of CPUS CPUs that restarts at once."""
    with tempfile.TemporaryDirectory() as tmp:
        master = Master(Path(tmp), env=env)
        try:
            master.wait_ready()
            body = {"worker_id": WORKER, "cpus": CPUS, "restart_delay_ms": 0}
            r = master.api.post("/worker-configs", json=body | {"max_restart_attempts": 10_000})
            r.raise_for_status()
            master.wait_running(WORKER)
            yield master
        finally:
            master.close()


def submit(master: Master, command: list[str], **options: Any) -> dict[str, Any]:
    """POST /jobs and return the job."""
    r = master.api.post("/jobs", json={"command": command, **options})
    if r.status_code != 201:
        raise RuntimeError(f"submit answered {r.status_code}: {r.text}")
    job: dict[str, Any] = r.json()
    return job


def wait_finished(master: Master, job_id: int) -> dict[str, Any]:
    """Long-poll until the job is finished; fail if it did not succeed."""
    while True:
        r = master.api.get(
            f"/jobs/{job_id}/wait", params={"timeout_s": WAIT_S}, timeout=WAIT_S + 10
        )
        job: dict[str, Any] = r.json()
        if job["state"] in ("pending", "assigned", "running"):
            continue
        if job["state"] != "succeeded":
            raise RuntimeError(f"job {job_id} ended {job['state']}: {job.get('reason')}")
        return job


class Poster:
    """POSTs JSON on one keep-alive connection with the standard library's client.

    The submitting loop shares the machine's two cores with the master, the worker
    and the jobs; a heavier client would be measured as much as corral.
    """

    def __init__(self, master: Master) -> None:
        self._conn = (
            http.client.HTTPSConnection("127.0.0.1", master.port, timeout=30, context=master.tls)
            if master.tls
            else http.client.HTTPConnection("127.0.0.1", master.port, timeout=30)
        )
        self._headers = {"content-type": "application/json"}
        if "authorization" in master.api.headers:
            self._headers["authorization"] = master.api.headers["authorization"]

    def post(self, path: str, body: object) -> Any:
        """POST ``body`` to ``/api/v1`` + ``path``; the decoded answer, or RuntimeError."""
        payload = json.dumps(body).encode()
        self._conn.request("POST", "/api/v1" + path, payload, self._headers)
        response = self._conn.getresponse()
        answer = json.loads(response.read())
        if response.status not in (200, 201):
            raise RuntimeError(f"POST {path} answered {response.status}: {answer}")
        return answer

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def one_by_one(master: Master, n: int) -> tuple[float, float]:
    """(jobs/s from first submit to last completion, submit-only jobs/s): POST /jobs each."""
    poster = Poster(master)
    started = time.time()
    ids = [poster.post("/jobs", {"command": bare.TRUE})["id"] for _ in range(n)]
    submitted = time.time()
    poster.close()
    return n / (last_finish(master, ids) - started), n / (submitted - started)


def batched(master: Master, n: int, size: int = 100) -> float:
    """Jobs/s from first submit to last completion, submitting ``size`` per POST /jobs/batch."""
    poster = Poster(master)
    started = time.time()
    ids: list[int] = []
    for first in range(0, n, size):
        body = {"jobs": [{"command": bare.TRUE}] * min(size, n - first)}
        ids += [j["id"] for j in poster.post("/jobs/batch", body)["jobs"]]
    poster.close()
    return n / (last_finish(master, ids) - started)


def last_finish(master: Master, ids: list[int]) -> float:
    """When the last of the jobs finished (unix time), as the master recorded it.

    Waits without loading the master: a long-poll on the last job, then a few pages of
    the job list. Checking each job one by one would be measured as well.
    """
    wanted = set(ids)
    while True:
        wait_finished(master, ids[-1])
        finished = finished_jobs(master, wanted)
        if len(finished) == len(wanted):
            break
    failed = [j for j in finished if j["state"] != "succeeded"]
    if failed:
        raise RuntimeError(f"{len(failed)} jobs did not succeed, e.g. {failed[0]}")
    return max(datetime.fromisoformat(j["finished_at"]).timestamp() for j in finished)


def finished_jobs(master: Master, wanted: set[int]) -> list[dict[str, Any]]:
    """The finished ones among ``wanted``, read a page of 1000 at a time."""
    found: list[dict[str, Any]] = []
    before: int | None = max(wanted) + 1
    while before is not None and before > min(wanted):
        params = {"limit": 1000, "before_id": before}
        page = master.api.get("/jobs", params=params).json()
        found += [j for j in page["jobs"] if j["id"] in wanted and j["finished_at"]]
        before = page["next_before_id"]
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time a process has used itself (user + system), not counting its children."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """N ``true`` jobs of 1 CPU on one worker of 2 CPUs, against the bare loop 2 at a time."""
    n = args.jobs or 1000
    single, submit_only, batch, floor, master_cpu, worker_cpu = [], [], [], [], [], []
    with master_with_worker() as master:
        pids = (master.proc.pid, master.status(WORKER)["pid"])
        for _ in range(args.rounds):
            before = [cpu_seconds(pid) for pid in pids]
            total, submit_rate = one_by_one(master, n)
            after = [cpu_seconds(pid) for pid in pids]
            master_cpu.append((after[0] - before[0]) / n)
            worker_cpu.append((after[1] - before[1]) / n)
            single.append(total)
            submit_only.append(submit_rate)
            batch.append(batched(master, n))
            floor.append(bare.throughput(n, CPUS))
    med = statistics.median
    return {
        "jobs": n,
        "rounds": args.rounds,
        "bare_jobs_per_s": round(med(floor)),
        "one_by_one_jobs_per_s": round(med(single)),
        "one_by_one_vs_bare": round(med(single) / med(floor), 3),
        "one_by_one_submit_per_s": round(med(submit_only)),
        "batch_100_jobs_per_s": round(med(batch)),
        "batch_100_vs_bare": round(med(batch) / med(floor), 3),
        "master_cpu_ms_per_job": round(med(master_cpu) * 1000, 2),
        "worker_cpu_ms_per_job": round(med(worker_cpu) * 1000, 2),
    }


def start_latency(master: Master, poster: Poster) -> float:
    """Seconds from just before the submit to the job program's own start, on an idle worker."""
    before = time.time_ns()
    job_id = poster.post("/jobs", {"command": bare.START_TIME})["id"]
    wait_finished(master, job_id)
    r = master.api.get(f"/jobs/{job_id}/logs", params={"stream": "stdout", "tail": 1})
    return (int(r.json()["lines"][0]) - before) / 1e9


def latency(args: argparse.Namespace) -> dict[str, Any]:
    """Sequential jobs printing their start time: submit -> program running, beside bare."""
    n = (args.jobs or 200) * args.rounds
    with master_with_worker() as master:
        poster = Poster(master)
        corral = [start_latency(master, poster) for _ in range(n)]
        poster.close()
    floor = bare.start_latencies(n)
    return {
        "corral_submit_to_start": summary_ms(corral),
        "bare_spawn_to_start": summary_ms(floor),
        "p50_overhead_ms": round((statistics.median(corral) - statistics.median(floor)) * 1000, 1),
    }


def auth_cost(args: argparse.Namespace) -> dict[str, Any]:
    """One master asking for the token, one serving without: jobs/s and dispatch, interleaved."""
    with (
        master_with_worker() as secured,
        master_with_worker({"CORRAL_INSECURE_NO_AUTH": "true"}) as open_,
    ):
        return compared({"token": secured, "without": open_}, args)


def compared(masters: dict[str, Master], args: argparse.Namespace) -> dict[str, Any]:
    """Jobs/s and submit-to-start of two masters, run in turns; the first against the second."""
    n = args.jobs or 1000
    rates: dict[str, list[float]] = {name: [] for name in masters}
    starts: dict[str, list[float]] = {name: [] for name in masters}
    first, second = masters
    for round_ in range(args.rounds):
        # Alternate which goes first: the machine's state drifts within a round.
        for name in (first, second) if round_ % 2 == 0 else (second, first):
            rates[name].append(one_by_one(masters[name], n)[0])
            poster = Poster(masters[name])
            starts[name] += [start_latency(masters[name], poster) for _ in range(50)]
            poster.close()
    med = statistics.median
    return {
        "jobs": n,
        "rounds": args.rounds,
        f"with_{first}_jobs_per_s": round(med(rates[first])),
        f"{second}_jobs_per_s": round(med(rates[second])),
        f"{first}_vs_{second}": round(med(rates[first]) / med(rates[second]), 3),
        f"with_{first}_submit_to_start": summary_ms(starts[first]),
        f"{second}_submit_to_start": summary_ms(starts[second]),
        "p50_cost_ms": round((med(starts[first]) - med(starts[second])) * 1000, 2),
    }


def job_state(master: Master, job_id: int) -> dict[str, Any]:
    """GET /jobs/{id}."""
    job: dict[str, Any] = master.api.get(f"/jobs/{job_id}").json()
    return job


def poll_until(master: Master, job_id: int, state: str, attempt: int) -> dict[str, Any]:
    """Poll the job tightly until it is in ``state`` at ``attempt``."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = job_state(master, job_id)
        if job["state"] == state and job["attempt"] == attempt:
            return job
        time.sleep(0.001)
    raise RuntimeError(f"job {job_id} not {state} at attempt {attempt}: {job}")


def recover_once(master: Master) -> tuple[float, float]:
    """SIGKILL the worker under a running job; seconds until it runs again (polled, recorded)."""
    job_id = submit(master, ["sleep", "30"], max_attempts=2)["id"]
    poll_until(master, job_id, "running", 1)
    pid = master.wait_running(WORKER)["pid"]
    killed_wall, killed = time.time(), time.monotonic()
    os.kill(pid, signal.SIGKILL)
    job = poll_until(master, job_id, "running", 2)
    seen = time.monotonic() - killed
    restarted = datetime.fromisoformat(job["started_at"]).timestamp() - killed_wall
    master.api.post(f"/jobs/{job_id}/cancel").raise_for_status()
    master.api.get(f"/jobs/{job_id}/wait", params={"timeout_s": WAIT_S}, timeout=WAIT_S + 10)
    return seen, restarted


def recovery(args: argparse.Namespace) -> dict[str, Any]:
    """A running job whose worker is SIGKILLed: time until its second attempt runs."""
    seen, started = [], []
    with master_with_worker() as master:
        for _ in range(args.rounds):
            polled, recorded = recover_once(master)
            seen.append(polled)
            started.append(recorded)
    return {
        "sigkill_to_running_again": summary_ms(seen),
        "sigkill_to_started_at": summary_ms(started),
    }
