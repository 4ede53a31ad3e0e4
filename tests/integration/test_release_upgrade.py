"""A data folder made by each earlier release upgrades in place and keeps its rows."""

import shutil
from pathlib import Path

import pytest

from master_api import JobsApi
from master_process import MasterProcess

RELEASES = Path(__file__).resolve().parents[1] / "fixtures" / "releases"
FOLDERS = sorted(p for p in RELEASES.iterdir() if (p / "corral.db").is_file())


@pytest.mark.parametrize("release", FOLDERS, ids=[p.name for p in FOLDERS])
def test_release_data_folder_upgrades(release: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(release / "corral.db", data / "corral.db")
    shutil.copytree(release / "jobs", data / "jobs")
    master = MasterProcess(data).start()
    jobs = JobsApi(master)
    try:
        listed = master.read("/jobs", params={"limit": 10})["jobs"]
        states = {job["id"]: job["state"] for job in listed}
        assert states == {1: "succeeded", 2: "failed", 3: "cancelled", 4: "succeeded", 5: "pending"}
        assert jobs.get(2)["attempt"] == 2
        assert jobs.get(2)["exit_code"] == 3
        assert jobs.output(1) == ["héllo"]
        assert jobs.output(1, "stderr") == ["oops"]
        w1 = master.read("/worker-configs/w1")
        assert w1["labels"] == {"disk": "ssd"}
        assert w1["env"] == {"MODE": "fixture"}
        assert w1["secret_env_keys"] == ["API_KEY"]
        # The secret the old release kept in plain text is sealed, in every file.
        stored = b"".join(p.read_bytes() for p in data.glob("corral.db*"))
        assert b"API_KEY" in stored and b"fixture-secret" not in stored
        idle = master.read("/worker-configs/idle")
        assert (idle["auto_start"], idle["max_restart_attempts"]) == (False, 2)
        # The job left pending by the old release runs once its worker is back.
        assert master.api.post("/workers/w1/start").status_code == 200
        jobs.wait(5, "succeeded")
        assert jobs.output(5) == ["never ran"]
        # ...and still reaches the worker, whose jobs inherit it.
        job = jobs.submit(["sh", "-c", 'echo "key=$API_KEY"'])
        jobs.wait(job["id"], "succeeded")
        assert jobs.output(job["id"]) == ["key=fixture-secret"]
    finally:
        master.stop()
