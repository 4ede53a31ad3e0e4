"""Chaos: jobs on PostgreSQL through master SIGKILLs, worker SIGKILLs and a database outage.

Every job writes a known number of bytes, then appends its id to a file as the very
last thing it does: a job listed twice there finished twice. The report counts what
was submitted, how each job ended (by reason), what ran twice, what finished and was
failed anyway, what was lost, and the output bytes stored against those written.
"""

import argparse
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.supervision import Master

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from pgserver import PgServer, find_bindir

WORKERS = ("w1", "w2")
OUTAGE_S = 30.0
ENDED = ("succeeded", "failed", "cancelled", "timed_out")


def chaos(args: argparse.Namespace) -> dict[str, Any]:
    """Run the jobs through the faults and count what became of them."""
    count = args.jobs or 2000
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries are missing")
    pg = PgServer.create(bindir, label="chaos-")
    pg.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return _run(count, pg, Path(tmp))
    finally:
        pg.stop()


def _run(count: int, pg: PgServer, tmp: Path) -> dict[str, Any]:
    data, runs = tmp / "data", tmp / "runs.txt"
    env = {"CORRAL_DATABASE_URL": pg.url(pg.create_database())}
    master = _start(data, env)
    for worker_id in WORKERS:
        config = {"worker_id": worker_id, "cpus": 1, "restart_delay_ms": 100}
        master.api.post("/worker-configs", json={**config, "max_restart_attempts": 1000})
    script = (
        'head -c $(( CORRAL_JOB_ID % 50 * 1000 )) /dev/zero | tr "\\0" x; echo;'
        f' echo "$CORRAL_JOB_ID" >> {runs}'
    )
    ids: list[int] = []
    for _ in range(0, count, 500):
        batch = [{"command": [script], "shell": True} for _ in range(min(500, count - len(ids)))]
        ids += [
            j["id"] for j in master.api.post("/jobs/batch", json={"jobs": batch}).json()["jobs"]
        ]
    began = time.monotonic()
    faults: list[tuple[float, Callable[[Master], Master]]] = [
        (0.15, lambda m: _kill_master(m, data, env)),
        (0.25, _kill_worker),
        (0.35, lambda m: _kill_master(m, data, env)),
        (0.45, _kill_worker),
        (0.55, lambda m: _outage(m, pg)),
        (0.70, lambda m: _kill_master(m, data, env)),
    ]
    for share, fault in faults:
        _wait_ended(master, int(share * count))
        master = fault(master)
    _wait_ended(master, count)
    result = _tally(master, ids, runs, data)
    result["wall_s"] = round(time.monotonic() - began, 1)
    master.close()
    return result


def _start(data: Path, env: dict[str, str]) -> Master:
    master = Master(data, env=env)
    master.wait_ready()
    return master


def _kill_master(master: Master, data: Path, env: dict[str, str]) -> Master:
    master.proc.send_signal(signal.SIGKILL)
    master.proc.wait()
    return _start(data, env)


def _kill_worker(master: Master) -> Master:
    pid = master.status(WORKERS[0])["pid"]
    if pid:
        os.kill(pid, signal.SIGKILL)
    return master


def _outage(master: Master, pg: PgServer) -> Master:
    pg.halt()
    time.sleep(OUTAGE_S)
    pg.resume()
    return master


def _jobs(master: Master) -> list[dict[str, Any]]:
    """Every job, page by page; [] while the master cannot list them."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        try:
            answer = master.api.get("/jobs", params=params)
        except Exception:
            return []
        if answer.status_code != 200:
            return []
        page = answer.json()
        found += page["jobs"]
        if page["next_before_id"] is None:
            return found
        params["before_id"] = page["next_before_id"]


def _wait_ended(master: Master, count: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while sum(j["state"] in ENDED for j in _jobs(master)) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} jobs ended within {timeout:g} s")
        time.sleep(0.5)


def _tally(master: Master, ids: list[int], runs: Path, data: Path) -> dict[str, Any]:
    jobs = {j["id"]: j for j in _jobs(master)}
    done = Counter(int(line) for line in runs.read_text().split())
    failed = Counter(j["reason"] for j in jobs.values() if j["state"] != "succeeded")
    written = stored = short = 0
    for job_id in ids:
        want = job_id % 50 * 1000 + 1
        path = data / "jobs" / str(job_id) / "stdout.log"
        have = path.stat().st_size if path.exists() else 0
        written, stored = written + want, stored + min(have, want)
        short += have < want
    return {
        "submitted": len(ids),
        "succeeded": sum(j["state"] == "succeeded" for j in jobs.values()),
        "failed_by_reason": dict(failed),
        "requeued_attempts": sum(j["requeues"] for j in jobs.values()),
        "ran_twice": sum(n > 1 for n in done.values()),
        "finished_then_failed": sum(
            1 for i, j in jobs.items() if done[i] and j["state"] != "succeeded"
        ),
        "lost": len(set(ids) - set(jobs)) + sum(j["state"] not in ENDED for j in jobs.values()),
        "output_bytes_written": written,
        "output_bytes_stored": stored,
        "jobs_missing_output": short,
    }
