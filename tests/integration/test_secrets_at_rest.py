"""Secrets at rest with a real master and workers: sealed in the database, usable by their jobs."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import make_url

from corral.db import models
from corral.db.engine import normalise_url
from corral.master.data_key import data_key_path, load_ring
from master_api import JobsApi
from master_process import MasterFactory, MasterProcess
from pgserver import PgServer

CFG_SECRET = "cfg-4b9e-hush"
JOB_SECRET = "job-81d0-hush"
ECHO = 'echo "job=$JOB_SECRET cfg=$CFG_SECRET"'


def stored_bytes(request: pytest.FixtureRequest, db_url: str) -> bytes:
    """Everything the database holds: the SQLite file and its log, or a pg_dump."""
    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":
        server: PgServer = request.getfixturevalue("pg_server")
        return server.dump(str(url.database)).encode()
    files = [Path(str(url.database)), Path(f"{url.database}-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def run_job(jobs: JobsApi, command: str, **fields: Any) -> list[str]:
    """Run a shell command as a job and return its output once it succeeded."""
    job = jobs.submit([command], shell=True, **fields)
    jobs.wait(job["id"], "succeeded")
    return jobs.output(job["id"])


def rotate(master: MasterProcess) -> subprocess.CompletedProcess[str]:
    """``corral keys rotate`` on the master's data folder and database, as a user runs it."""
    argv = [sys.executable, "-m", "corral", "keys", "rotate", "--data-dir", str(master.data_dir)]
    return subprocess.run(argv, env=master.env(), capture_output=True, text=True, check=False)


def with_secrets(start_master: MasterFactory, db_url: str) -> MasterProcess:
    """A master whose worker w1 holds CFG_SECRET, and which ran one job holding JOB_SECRET."""
    master = start_master(database_url=db_url)
    master.create_worker("w1", cpus=1, secret_env={"CFG_SECRET": CFG_SECRET})
    master.wait_state("w1", "running")
    out = run_job(JobsApi(master), ECHO, secret_env={"JOB_SECRET": JOB_SECRET})
    assert out == [f"job={JOB_SECRET} cfg={CFG_SECRET}"], "both secrets reach the job"
    return master


def test_no_secret_value_reaches_the_database(
    start_master: MasterFactory, db_url: str, request: pytest.FixtureRequest
) -> None:
    master = with_secrets(start_master, db_url)
    stored = stored_bytes(request, db_url)
    assert b"CFG_SECRET" in stored and b"JOB_SECRET" in stored, "the rows are there"
    assert CFG_SECRET.encode() not in stored and JOB_SECRET.encode() not in stored
    assert CFG_SECRET not in master.log() and JOB_SECRET not in master.log()


def test_after_rotations_and_a_restart_every_secret_is_still_usable(
    start_master: MasterFactory, db_url: str, request: pytest.FixtureRequest
) -> None:
    master = with_secrets(start_master, db_url)
    first = load_ring(master.data_dir).current.key_id
    refused = rotate(master)
    assert refused.returncode == 1 and "stop the master first" in refused.stderr
    master.stop()
    for _ in range(2):
        done = rotate(master)
        assert done.returncode == 0, done.stderr
        assert "now seals 2 stored secret values; retired key" in done.stdout
    ring = load_ring(master.data_dir)
    assert len(ring.keys) == 1 and first not in data_key_path(master.data_dir).read_text()
    stored = stored_bytes(request, db_url)
    assert f"sealed:1:{first}:".encode() not in stored
    assert f"sealed:1:{ring.current.key_id}:".encode() in stored

    again = start_master(master.data_dir, database_url=db_url)
    again.wait_state("w1", "running")
    jobs = JobsApi(again)
    assert run_job(jobs, 'echo "cfg=$CFG_SECRET"') == [f"cfg={CFG_SECRET}"]
    r = again.api.post("/jobs/1/retry")
    assert r.status_code == 200, r.text
    jobs.wait(1, "succeeded", attempt=2)
    assert f"job={JOB_SECRET} cfg={CFG_SECRET}" in jobs.output(1)


def corrupt(db_url: str, table: Any, key: Any, name: str) -> None:
    """Damage one sealed value in place, as a bad disk or a stranger would."""
    column = table.c.worker_id if table is models.worker_configs else table.c.id
    engine = create_engine(normalise_url(db_url))
    with engine.begin() as conn:
        env = dict(conn.execute(select(table.c.secret_env).where(column == key)).scalar_one())
        env[name] = env[name][:-6] + ("A" if env[name][-6] != "A" else "B") + env[name][-5:]
        conn.execute(update(table).where(column == key).values(secret_env=env))
    engine.dispose()


def test_a_damaged_secret_fails_its_owner_alone(
    start_master: MasterFactory, db_url: str, tmp_path: Path
) -> None:
    master = with_secrets(start_master, db_url)
    master.create_worker(
        "bad",
        cpus=1,
        labels={"pool": "b"},
        secret_env={"K": "v"},
        auto_start=False,
        auto_restart=False,
    )
    jobs = JobsApi(master)
    waiting = jobs.submit(["true"], labels={"pool": "b"}, secret_env={"TOKEN": "t"})
    master.stop()
    corrupt(db_url, models.worker_configs, "bad", "K")
    corrupt(db_url, models.jobs, waiting["id"], "TOKEN")
    corrupt(db_url, models.jobs, 1, "JOB_SECRET")

    master = start_master(tmp_path / "data", database_url=db_url)
    jobs = JobsApi(master)
    master.wait_state("w1", "running")
    assert run_job(jobs, 'echo "cfg=$CFG_SECRET"') == [f"cfg={CFG_SECRET}"], "others work"
    failed = jobs.wait(waiting["id"], "failed", reason="spawn_failed")
    assert f"job {waiting['id']}: secret_env TOKEN cannot be opened" in failed["reason_detail"]
    assert failed["secret_env_keys"] == ["TOKEN"]

    assert master.api.post("/workers/bad/start").status_code == 200
    status = master.wait_state("bad", "crashed")
    assert "worker config bad: secret_env K cannot be opened" in status["last_error"]

    r = master.api.post("/jobs/1/retry")
    assert r.status_code == 409 and "job 1: secret_env JOB_SECRET cannot be opened" in r.text
    assert jobs.get(1)["secret_env_keys"] == ["JOB_SECRET"]
    assert "cannot be opened" in master.log() and CFG_SECRET not in master.log()
