"""A real master in a subprocess, with an HTTP client and the helpers of MasterApi."""

import itertools
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from corral.master.tokens import admin_token_path
from master_api import MasterApi
from waiting import wait_for

HOOKS = str(Path(__file__).resolve().parent / "worker_hooks")
# What the master prints once it holds its port: how a test learns the port it picked.
ANNOUNCED = re.compile(rb"local clients: (https?://127\.0\.0\.1:(\d+))")
_outputs = itertools.count(1)


def misbehave(**flags: str) -> dict[str, str]:
    """Worker env that loads the test hooks with the given CORRAL_TEST_* flags."""
    return {"PYTHONPATH": HOOKS, **{f"CORRAL_TEST_{k.upper()}": v for k, v in flags.items()}}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (it may be taken later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def refusing_port() -> Iterator[int]:
    """A loopback port held bound but not listening: connections to it are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        yield port


class MasterProcess(MasterApi):
    """Runs ``corral master`` (or ``up``) and talks to it."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str | None = None,
        command: str = "master",
        port: int | None = None,
        **settings: Any,
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.command = command
        self.settings = {"heartbeat_interval_s": 0.2, "lease_s": 2.0, "stop_timeout_s": 5.0}
        self.settings.update(settings)
        self.port = port or 0  # 0: the master takes a free port and says which
        self.url = ""
        # A master given tls_cert serves HTTPS: its certificate, self-signed, is the CA.
        cert = self.settings.get("tls_cert")
        verify = ssl.create_default_context(cafile=str(cert)) if cert else True
        self.api = httpx.Client(timeout=30.0, verify=verify)
        self.proc: subprocess.Popen[bytes] | None = None
        self.output = data_dir / f"master-{next(_outputs)}.out"
        self._output_start = 0

    def env(self) -> dict[str, str]:
        """The master's environment: test timings as CORRAL_* variables."""
        env = dict(os.environ)
        env.update({f"CORRAL_{k.upper()}": str(v) for k, v in self.settings.items()})
        if self.database_url:
            env["CORRAL_DATABASE_URL"] = self.database_url
        return env

    def start(self) -> "MasterProcess":
        """Start the master, learn its URL, and wait until its API answers."""
        # Should the test process die (a timeout, a kill), the master goes with it.
        argv = ["setpriv", "--pdeathsig", "TERM", sys.executable, "-m", "corral", self.command]
        argv += ["--data-dir", str(self.data_dir)]
        argv += ["--port", str(self.port)]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.output.open("ab") as out:
            self._output_start = out.tell()
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env())
        try:
            found = wait_for(self._announced, timeout=30, what="the master's URL")
            self.url, self.port = found.group(1).decode(), int(found.group(2))
            self.api.base_url = httpx.URL(self.url + "/api/v1")
            wait_for(self._ready, timeout=30, what=f"master on {self.url}")
        except BaseException:
            # The caller gets no master to stop: this one must not outlive the test.
            self.stop()
            raise
        return self

    def auth(self) -> dict[str, str]:
        """The header that carries the admin token the master left in its data folder."""
        token = admin_token_path(self.data_dir).read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    def _said(self) -> bytes:
        """What this start of the master printed so far."""
        with self.output.open("rb") as out:
            out.seek(self._output_start)
            return out.read()

    def _announced(self) -> re.Match[bytes] | None:
        """The line giving the master's URL; fails fast if the master died."""
        self._check_alive()
        return ANNOUNCED.search(self._said())

    def _check_alive(self) -> None:
        """Fail with the master's output if it has exited."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            said = self._said().decode(errors="replace")
            raise AssertionError(f"master exited {self.proc.returncode}:\n{said}")

    def _ready(self) -> bool:
        """Whether the API answers; fails fast if the master died."""
        self._check_alive()
        if not admin_token_path(self.data_dir).exists():
            return False  # written once the master's services open
        self.api.headers.update(self.auth())
        try:
            return self.api.get("/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        """Everything the master printed so far."""
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the master process."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the master to exit and return its code."""
        assert self.proc is not None
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; the API client is closed."""
        self.api.close()
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def process_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie (PID 1 here reaps orphans late)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


MasterFactory = Callable[..., MasterProcess]


@contextmanager
def master_with_worker(
    data_dir: Path, worker_id: str = "w1", cpus: int = 2
) -> Iterator[MasterProcess]:
    """A started master with one local worker running; stopped on the way out."""
    master = MasterProcess(data_dir).start()
    try:
        master.create_worker(worker_id, cpus=cpus)
        master.wait_state(worker_id, "running")
        yield master
    finally:
        master.stop()
