"""``corral up`` with a corral.toml: its master settings under env and flags, its workers."""

import subprocess
import sys
from pathlib import Path

import pytest

from master_process import MasterFactory, free_port
from waiting import wait_for

FILE = """
[master]
port = {port}
stop_timeout_s = 30
max_body_bytes = 4096

[workers.fw]
cpus = 1
labels = {{ from = "file" }}
secret_env = ["FW_KEY"]
"""


def test_up_reads_the_file_in_its_folder(
    start_master: MasterFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken_by_flag = free_port()
    (tmp_path / "corral.toml").write_text(FILE.format(port=taken_by_flag))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FW_KEY", "fw-secret-value")
    master = start_master(tmp_path / "data", command="up")
    applied = lambda: master.api.get("/worker-configs/fw").status_code == 200  # noqa: E731
    wait_for(applied, what="the file's worker")
    fw = master.wait_state("fw", "running")
    config = master.read("/worker-configs/fw")
    assert config["labels"] == {"from": "file"} and config["secret_env_keys"] == ["FW_KEY"]
    assert len(fw["cpu_ids"]) == 1
    # The file describes the fleet: no default worker beside it.
    assert master.api.get("/worker-configs/local-1").status_code == 404
    # The flag (--port 0: any free port) wins over the file's port.
    assert master.port != taken_by_flag
    # The file's setting applies where nothing overrides it...
    big = master.send("POST", "/jobs", json={"command": ["true"], "env": {"X": "x" * 5000}})
    assert big.status_code == 413
    # ...and CORRAL_STOP_TIMEOUT_S=5 in the environment wins over its stop_timeout_s = 30.
    environ = Path(f"/proc/{fw['pid']}/environ").read_bytes().split(b"\0")
    assert b"CORRAL_DRAIN_TIMEOUT_S=3" in environ
    assert "fw-secret-value" not in master.log()
    wait_for(lambda: "1 add, 0 change" in master.log(), what="the plan in the master's log")
    assert "corral.toml: + fw" in master.log()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[workers.gpu]\ncpus = 0\n", "corral.toml: [workers.gpu] cpus: must be an integer ≥ 1"),
        ("[master]\nbind = 1\n", "corral.toml: [master] unknown key bind: known keys are data_dir"),
        (
            '[workers.gpu]\nsecret_env = ["FW_SURELY_UNSET"]\n',
            "[workers.gpu] secret_env: FW_SURELY_UNSET not set in the environment",
        ),
    ],
)
def test_up_refuses_a_bad_file_before_starting(tmp_path: Path, text: str, said: str) -> None:
    (tmp_path / "corral.toml").write_text(text)
    run = subprocess.run(
        [sys.executable, "-m", "corral", "up", "--data-dir", str(tmp_path / "data")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and said in run.stderr, run.stderr
    assert not (tmp_path / "data").exists()
