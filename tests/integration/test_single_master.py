"""One master per data folder and per database: a second one refuses and touches nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from master_process import MasterFactory, MasterProcess, process_alive

# A refusal comes before migrations, workers or the web server: well under this.
REFUSAL_S = 15.0


def start_second(
    data_dir: Path, database_url: str | None = None, port: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``corral up`` expecting a prompt refusal (a master that serves times out)."""
    env = {k: v for k, v in os.environ.items() if k != "CORRAL_DATABASE_URL"}
    if database_url:
        env["CORRAL_DATABASE_URL"] = database_url
    argv = [sys.executable, "-m", "corral", "up", "--data-dir", str(data_dir)]
    argv += ["--port", str(port or 0)]  # 0: any free port, as a refusal comes first
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=REFUSAL_S)


def running_up(start_master: MasterFactory, data_dir: Path, url: str | None) -> MasterProcess:
    """A first ``corral up`` with local-1 running."""
    first = start_master(data_dir, database_url=url, command="up")
    first.wait_state("local-1", "running")
    return first


def assert_untouched(first: MasterProcess, worker_pid: int, events: list[str]) -> None:
    """The first master still serves, with the same worker and no new event."""
    assert process_alive(worker_pid)
    st = first.status("local-1")
    assert (st["state"], st["pid"]) == ("running", worker_pid)
    assert first.events("local-1") == events


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_second_master_on_the_same_data_folder_refuses(
    start_master: MasterFactory, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgres" else None
    first = running_up(start_master, tmp_path / "data", url)
    pid = first.status("local-1")["pid"]
    events = first.events("local-1")
    done = start_second(tmp_path / "data", url)
    assert done.returncode != 0, done.stdout + done.stderr
    message = done.stderr
    assert "another corral master" in message and str(tmp_path / "data") in message
    assert first.proc is not None and f"pid {first.proc.pid}" in message
    assert first.url in message
    assert_untouched(first, pid, events)
    assert f"pid {first.proc.pid}" in (tmp_path / "data" / "master.lock").read_text()


@pytest.mark.postgres
def test_a_second_master_on_the_same_database_refuses(
    pg_url: str, start_master: MasterFactory, tmp_path: Path
) -> None:
    first = running_up(start_master, tmp_path / "one", pg_url)
    pid = first.status("local-1")["pid"]
    events = first.events("local-1")
    done = start_second(tmp_path / "two", pg_url)
    assert done.returncode != 0, done.stdout + done.stderr
    message = done.stderr
    assert "another corral master" in message and "database" in message
    assert first.proc is not None and f"pid {first.proc.pid}" in message
    assert first.url in message
    assert_untouched(first, pid, events)
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["master.lock"]


def test_a_taken_port_is_refused_before_anything_starts(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    first = running_up(start_master, tmp_path / "one", None)
    done = start_second(tmp_path / "two", port=first.port)
    assert done.returncode != 0, done.stdout + done.stderr
    assert f"127.0.0.1:{first.port}" in done.stderr and "in use" in done.stderr
    # No database, no worker: the port was checked first.
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["master.lock"]


def test_the_data_folder_is_free_again_once_the_master_is_gone(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    first = running_up(start_master, tmp_path / "data", None)
    first.stop()
    second = running_up(start_master, tmp_path / "data", None)
    lock = (tmp_path / "data" / "master.lock").read_text()
    assert second.proc is not None and str(second.proc.pid) in lock and second.url in lock
