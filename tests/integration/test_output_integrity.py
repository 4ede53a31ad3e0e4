"""What a job writes is what the master stores, byte for byte, however much and however odd."""

import hashlib
from pathlib import Path

import pytest

from master_api import JobsApi
from master_process import MasterFactory, MasterProcess


def stored(master: MasterProcess, job_id: int, stream: str = "stdout") -> bytes:
    """The job's output as the master wrote it to its data folder."""
    path = master.data_dir / "jobs" / str(job_id) / f"{stream}.log"
    return path.read_bytes() if path.exists() else b""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def seq(n: int) -> bytes:
    return "".join(f"{i}\n" for i in range(1, n + 1)).encode()


@pytest.fixture
def master(start_master: MasterFactory) -> MasterProcess:
    master = start_master()
    master.create_worker("w1", cpus=2)
    master.wait_state("w1", "running")
    return master


# Characters JSON must escape, a NUL, a terminal escape, a carriage return, UTF-8.
ODD = '\u00e9\t"\\\x00\x1b[0m\r\n'
PROGRAMS = {
    "emoji": (
        ["python3", "-c", "print('\\U0001F600' * 200000)"],
        ("\U0001f600" * 200000 + "\n").encode(),
    ),
    "newlines": (
        ["python3", "-c", "import sys; sys.stdout.write('x\\n' * 600000)"],
        b"x\n" * 600000,
    ),
    "escapes": (
        ["python3", "-c", f"import sys; sys.stdout.write({ODD!r} * 50000)"],
        (ODD * 50000).encode(),
    ),
    "seq-800k": (["seq", "1", "800000"], seq(800000)),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_hostile_output_is_stored_exactly(master: MasterProcess, name: str) -> None:
    command, expected = PROGRAMS[name]
    jobs = JobsApi(master)
    job = jobs.wait(jobs.submit(command)["id"], timeout=60)
    assert job["state"] == "succeeded", job
    assert job["pid"] and job["started_at"], job
    got = stored(master, job["id"])
    assert len(got) == len(expected)
    assert digest(got) == digest(expected)


def test_three_million_lines_arrive_whole(master: MasterProcess) -> None:
    jobs = JobsApi(master)
    job = jobs.wait(jobs.submit(["seq", "1", "3000000"])["id"], timeout=120)
    assert job["state"] == "succeeded"
    assert digest(stored(master, job["id"])) == digest(seq(3000000))


def test_many_chatty_jobs_at_once_keep_every_byte_and_state(master: MasterProcess) -> None:
    jobs = JobsApi(master)
    ids = [jobs.submit(["seq", "1", "150000"])["id"] for _ in range(6)]
    for job_id in ids:
        job = jobs.wait(job_id, timeout=120)
        assert job["state"] == "succeeded" and job["attempt"] == 1, job
        assert job["pid"] and job["started_at"] and job["finished_at"], job
        assert digest(stored(master, job_id)) == digest(seq(150000))


def test_output_past_the_cap_is_cut_and_says_how_much(
    start_master: MasterFactory, tmp_path: Path
) -> None:
    master = start_master(job_output_max_bytes=100_000)
    master.create_worker("w1")
    jobs = JobsApi(master)
    job = jobs.wait(jobs.submit(["seq", "1", "100000"])["id"], timeout=60)
    assert job["state"] == "succeeded"
    full = seq(100000)
    got = stored(master, job["id"])
    assert got.startswith(full[:100_000])
    left_out = len(full) - 100_000
    marker = f"[corral: {left_out} bytes of stdout not kept: past the cap of "
    assert got[100_000:].decode().strip().startswith(marker), got[100_000:]
