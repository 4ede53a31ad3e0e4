"""The data folder is closed to other users: 0700, every file in it 0600, repaired at start."""

import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from master_api import JobsApi
from master_process import MasterFactory
from other_user import as_other_user


@pytest.fixture
def open_place() -> Iterator[Path]:
    """A folder anyone may enter, as a home or /srv would be."""
    place = Path(tempfile.mkdtemp(prefix="corral-open-"))
    place.chmod(0o755)
    try:
        yield place
    finally:
        subprocess.run(["rm", "-rf", str(place)], check=False)


def loose(folder: Path) -> list[str]:
    """What in the folder another user could read, write or enter."""
    found = [str(folder)] if stat.S_IMODE(folder.stat().st_mode) & 0o077 else []
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            if not path.is_symlink() and stat.S_IMODE(path.lstat().st_mode) & 0o077:
                found.append(f"{path} {oct(path.lstat().st_mode)}")
    return found


def test_the_data_folder_and_all_it_holds_are_closed(
    start_master: MasterFactory, open_place: Path
) -> None:
    data = open_place / "data"
    data.mkdir(mode=0o755)
    (data / "notes.txt").write_text("left by an older release")
    (data / "notes.txt").chmod(0o644)
    master = start_master(data)
    master.create_worker("w1")
    jobs = JobsApi(master)
    job = jobs.wait(jobs.submit(["sh", "-c", "echo out; echo err >&2"])["id"])
    assert job["state"] == "succeeded"
    assert (data / "corral.db-wal").exists()
    assert loose(data) == []
    for path in (data, data / "admin.token", data / "corral.db", data / "jobs"):
        denied = as_other_user("cat" if path.is_file() else "ls", str(path))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, denied


def test_another_local_user_can_neither_read_the_token_nor_run_a_job(
    start_master: MasterFactory, open_place: Path
) -> None:
    master = start_master(open_place / "data")
    master.create_worker("w1")
    proof = open_place / "ran"
    attempt = f'{{"command": ["touch", "{proof}"]}}'
    curl = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-XPOST"]
    curl += ["-H", "content-type: application/json", "-d", attempt, master.url + "/api/v1/jobs"]
    refused = as_other_user(*curl)
    assert refused.stdout == "401", refused
    token = as_other_user("cat", str(master.data_dir / "admin.token"))
    assert token.returncode != 0 and "Permission denied" in token.stderr, token
    assert master.api.get("/jobs").json()["jobs"] == []
    assert not proof.exists()
