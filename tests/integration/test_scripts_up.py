"""``scripts/up`` (what ``make up`` runs): one Ctrl-C is one graceful stop."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from master_process import ANNOUNCED, process_alive
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
# It installs corral into a fresh environment first (from uv's cache, offline).
INSTALL_AND_START_S = 120.0


def local_1_running(api: httpx.Client, data_dir: Path) -> bool:
    """Whether the embedded mode's worker is up; False while the master is not."""
    token_file = data_dir / "admin.token"
    if not token_file.exists():
        return False  # written once the master's services open
    api.headers["Authorization"] = f"Bearer {token_file.read_text().strip()}"
    try:
        r = api.get("/workers/local-1/status", timeout=1.0)
    except httpx.TransportError:
        return False
    return r.status_code == 200 and r.json()["state"] == "running"


def test_one_sigint_to_the_group_stops_gracefully(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORRAL_", "VIRTUAL_ENV"))}
    # A user's shell, not the tests' environment: `uv run` puts its bin folder first on PATH.
    ours = Path(sys.prefix, "bin")
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != ours)
    # Its own environment: syncing without dev packages must not touch the one running us.
    env.update(UV_PROJECT_ENVIRONMENT=str(tmp_path / "venv"), UV_OFFLINE="1")
    env["CORRAL_BIN_DIR"] = str(tmp_path / "bin")  # instead of ~/.local/bin
    argv = [str(ROOT / "scripts" / "up"), "--data-dir", str(tmp_path / "data"), "--port", "0"]
    output = tmp_path / "up.out"
    with output.open("wb") as out:
        # Its own process group, as a terminal gives a foreground command.
        up = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    api = httpx.Client()

    def announced() -> str | None:
        said = output.read_text(errors="replace")
        assert up.poll() is None, f"scripts/up exited {up.returncode}:\n{said}"
        found = ANNOUNCED.search(said.encode())
        return found.group(1).decode() if found else None

    try:
        url = wait_for(announced, timeout=INSTALL_AND_START_S, what="the master's URL")
        api.base_url = httpx.URL(url + "/api/v1")
        wait_for(
            lambda: up.poll() is None and local_1_running(api, tmp_path / "data"),
            timeout=INSTALL_AND_START_S,
            what=f"local-1 running under scripts/up:\n{output.read_text(errors='replace')}",
        )
        # corral is on PATH from then on: linked, and the script says how to reach the link.
        link = tmp_path / "bin" / "corral"
        assert link.resolve() == (tmp_path / "venv" / "bin" / "corral").resolve()
        said = output.read_text(errors="replace")
        assert f"corral: add {tmp_path / 'bin'} to PATH to run corral from any folder" in said
        worker_pid = api.get("/workers/local-1/status").json()["pid"]
        os.killpg(up.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        assert up.wait(timeout=30) == 0, output.read_text(errors="replace")
        log = output.read_text(errors="replace")
        assert "second signal" not in log
        assert "local-1: stopping -> stopped: exited with exit code 0" in log
        assert not process_alive(worker_pid)
    finally:
        api.close()
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
