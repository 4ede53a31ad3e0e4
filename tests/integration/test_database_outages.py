"""The database is not the heartbeat: an outage, a lock, a full disk or a silent host
kills no job, loses no worker, fails no job, loses no output, and duplicates nothing."""

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from master_api import JobsApi
from master_process import MasterFactory, MasterProcess
from pgserver import PgServer
from tcp_proxy import TcpProxy
from waiting import wait_for

JOBS = 200
SCRIPT = 'echo "job $CORRAL_JOB_ID"; sleep 0.1'


def degraded(master: MasterProcess) -> dict[str, object] | None:
    """The master's health while its database is away, else None."""
    body: dict[str, object] = master.read("/health", timeout=5)
    return body if body["status"] == "degraded" else None


def finished_count(master: MasterProcess) -> int:
    """How many jobs have finished, from the master's memory or its database."""
    try:
        page = master.api.get("/jobs", params={"limit": 1000}, timeout=5)
    except httpx.TransportError:
        return 0
    if page.status_code != 200:
        return 0
    return sum(j["state"] in ("succeeded", "failed") for j in page.json()["jobs"])


def check_promises_during_outage(master: MasterProcess) -> None:
    """While the database is away: 503 at once for writes, the worker stays, reads work."""
    wait_for(lambda: degraded(master), timeout=15, what="health saying degraded")
    began = time.monotonic()
    refused = master.api.post("/jobs", json={"command": ["true"]}, timeout=5)
    assert refused.status_code == 503, refused.text
    assert time.monotonic() - began < 1.0
    assert int(refused.headers["retry-after"]) >= 1
    time.sleep(master.settings["lease_s"] * 1.5)  # past a lease: liveness must not depend on it
    assert master.status("w1")["state"] == "running"


def run_through(master: MasterProcess, fault: Callable[[], None], heal: Callable[[], None]) -> None:
    """200 jobs; the fault strikes once some have finished; every promise holds after."""
    master.create_worker("w1", cpus=2)
    master.wait_state("w1", "running")
    jobs = JobsApi(master)
    body = {"jobs": [{"command": [SCRIPT], "shell": True} for _ in range(JOBS)]}
    submitted = master.api.post("/jobs/batch", json=body)
    assert submitted.status_code == 201, submitted.text
    ids = [j["id"] for j in submitted.json()["jobs"]]
    wait_for(lambda: finished_count(master) >= 40, timeout=60, what="40 jobs done")
    fault()
    try:
        check_promises_during_outage(master)
    finally:
        heal()
    wait_for(lambda: finished_count(master) == JOBS, timeout=120, what="every job done")
    listed = master.read("/jobs", params={"limit": 1000})["jobs"]
    assert sorted(j["id"] for j in listed) == sorted(ids), "a refused submit created a job"
    for job in listed:
        assert (job["state"], job["attempt"], job["requeues"]) == ("succeeded", 1, 0), job
        out = master.data_dir / "jobs" / str(job["id"]) / "stdout.log"
        assert out.read_text() == f"job {job['id']}\n"
    assert jobs.get(ids[0])["state"] == "succeeded"
    health = master.read("/health")
    assert health["status"] == "ok", health


@pytest.mark.postgres
@pytest.mark.timeout(300)  # a minute of outage on purpose, with 200 jobs around it
def test_postgres_down_for_a_minute(
    start_master: MasterFactory, own_pg: PgServer, tmp_path: Path
) -> None:
    master = start_master(database_url=own_pg.url(own_pg.create_database()))
    began: list[float] = []

    def heal() -> None:
        time.sleep(max(0.0, 60 - (time.monotonic() - began[0])))
        own_pg.resume()

    def halt() -> None:
        began.append(time.monotonic())
        own_pg.halt()

    run_through(master, halt, heal)


@pytest.mark.postgres
def test_a_database_host_that_stops_answering(
    start_master: MasterFactory, own_pg: PgServer
) -> None:
    proxy = TcpProxy(own_pg.port)
    url = own_pg.url(own_pg.create_database()).replace(f":{own_pg.port}/", f":{proxy.port}/")
    master = start_master(database_url=url)
    try:
        # Longer than the statement watchdog's limit: the master must cut the silent link.
        def heal() -> None:
            time.sleep(15)
            proxy.resume()

        run_through(master, proxy.blackhole, heal)
    finally:
        proxy.close()


def test_sqlite_locked_by_another_process(start_master: MasterFactory, tmp_path: Path) -> None:
    master = start_master(tmp_path / "data")
    db = tmp_path / "data" / "corral.db"
    holder: list[subprocess.Popen[str]] = []
    hold = (
        "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
        " c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(25);"
        " c.execute('COMMIT')"
    )

    def lock() -> None:
        proc = subprocess.Popen(
            [sys.executable, "-c", hold, str(db)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        with proc.stdout:  # it prints nothing more
            assert proc.stdout.readline().strip() == "locked"
        holder.append(proc)

    def unlock() -> None:
        assert holder[0].wait(timeout=60) == 0

    run_through(master, lock, unlock)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone() == (JOBS,)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs of this test's own, for a data folder that fills up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk(start_master: MasterFactory, small_disk: Path) -> None:
    master = start_master(small_disk / "data")
    filler = small_disk / "filler"

    def fill() -> None:
        with open(filler, "wb") as f:
            block = b"\0" * (1 << 20)
            try:
                while True:
                    f.write(block)
                    f.flush()
            except OSError:
                pass
        # The last few bytes too: no write of any size may succeed.
        with open(small_disk / "crumbs", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 512)
            except OSError:
                pass
        assert os.statvfs(small_disk).f_bavail == 0

    def free() -> None:
        time.sleep(5)
        filler.unlink()
        (small_disk / "crumbs").unlink()

    run_through(master, fill, free)
