"""``make up`` on a terminal: one Ctrl-C is one graceful stop, and make exits 0."""

import os
import pty
import select
import signal
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


class Terminal:
    """A command run on a pseudo-terminal of its own, as a user runs it in a shell."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: its session and controlling terminal are the pty's
            os.execvpe(argv[0], argv, env)
        self.said = b""
        self.status: int | None = None

    def read(self) -> str:
        """Everything printed so far."""
        while select.select([self.fd], [], [], 0)[0]:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the terminal's last user has gone
                break
            if not chunk:
                break
            self.said += chunk
        return self.said.decode(errors="replace")

    def exited(self) -> int | None:
        """The exit code once the command has ended (128 + N for signal N, as shells say)."""
        if self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                self.status = code if code >= 0 else 128 - code
        return self.status

    def ctrl_c(self) -> None:
        """What the key does: the terminal signals its foreground process group."""
        os.write(self.fd, b"\x03")

    def close(self) -> None:
        """Kill what is left and free the terminal."""
        if self.exited() is None:
            os.killpg(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def test_make_up_stops_gracefully_and_exits_0_on_one_ctrl_c(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORRAL_", "VIRTUAL_ENV"))}
    # A user's shell, not the tests' environment: `uv run` puts its bin folder first on PATH.
    ours = Path(sys.prefix, "bin")
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if Path(p) != ours)
    # Its own environment: syncing without dev packages must not touch the one running us.
    env.update(UV_PROJECT_ENVIRONMENT=str(tmp_path / "venv"), UV_OFFLINE="1")
    env["CORRAL_BIN_DIR"] = str(tmp_path / "bin")  # instead of ~/.local/bin
    env.update(CORRAL_DATA_DIR=str(tmp_path / "data"), CORRAL_PORT="0")
    up = Terminal(["make", "-C", str(ROOT), "up"], env)
    api = httpx.Client()

    def announced() -> str | None:
        said = up.read()
        assert up.exited() is None, f"make up exited {up.status}:\n{said}"
        found = ANNOUNCED.search(said.encode())
        return found.group(1).decode() if found else None

    try:
        url = wait_for(announced, timeout=INSTALL_AND_START_S, what="the master's URL")
        api.base_url = httpx.URL(url + "/api/v1")
        wait_for(
            lambda: up.exited() is None and local_1_running(api, tmp_path / "data"),
            timeout=INSTALL_AND_START_S,
            what=f"local-1 running under make up:\n{up.read()}",
        )
        # corral is on PATH from then on: linked, and the script says how to reach the link.
        link = tmp_path / "bin" / "corral"
        assert link.resolve() == (tmp_path / "venv" / "bin" / "corral").resolve()
        said = up.read()
        assert f"corral: add {tmp_path / 'bin'} to PATH to run corral from any folder" in said
        worker_pid = api.get("/workers/local-1/status").json()["pid"]
        up.ctrl_c()
        wait_for(lambda: up.exited() is not None, timeout=30, what="make up to end")
        assert up.status == 0, up.read()
        log = up.read()
        assert "second signal" not in log and "Interrupt" not in log, log
        assert "local-1: stopping -> stopped: exited with exit code 0" in log
        assert not process_alive(worker_pid)
    finally:
        api.close()
        up.close()
