"""A real master in a subprocess, with an HTTP client and helpers to wait on workers."""

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from waiting import wait_for

HOOKS = str(Path(__file__).resolve().parent / "worker_hooks")


def misbehave(**flags: str) -> dict[str, str]:
    """Worker env that loads the test hooks with the given CORRAL_TEST_* flags."""
    return {"PYTHONPATH": HOOKS, **{f"CORRAL_TEST_{k.upper()}": v for k, v in flags.items()}}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class MasterProcess:
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
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.output = data_dir / f"master-{self.port}.out"
        self.api = httpx.Client(base_url=self.url + "/api/v1", timeout=30.0)

    def env(self) -> dict[str, str]:
        """The master's environment: test timings as CORRAL_* variables."""
        env = dict(os.environ)
        env.update({f"CORRAL_{k.upper()}": str(v) for k, v in self.settings.items()})
        if self.database_url:
            env["CORRAL_DATABASE_URL"] = self.database_url
        return env

    def start(self) -> "MasterProcess":
        """Start the master and wait until its API answers."""
        argv = [
            sys.executable,
            "-m",
            "corral",
            self.command,
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
        ]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.output.open("ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=self.env())
        wait_for(self._ready, timeout=30, what=f"master on {self.url}")
        return self

    def _ready(self) -> bool:
        """Whether the API answers; fails fast if the master died."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"master exited {self.proc.returncode}:\n{self.log()}")
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
        """SIGTERM, then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    # Worker helpers

    def create_worker(self, worker_id: str, **fields: Any) -> dict[str, Any]:
        """POST a worker config (local by default) and return the created body."""
        body = {"worker_id": worker_id, "deployment_type": "local", **fields}
        r = self.api.post("/worker-configs", json=body)
        assert r.status_code == 201, r.text
        created: dict[str, Any] = r.json()
        return created

    def status(self, worker_id: str) -> dict[str, Any]:
        """The worker's status body."""
        r = self.api.get(f"/workers/{worker_id}/status")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_state(
        self, worker_id: str, state: str, timeout: float = 15.0, **expected: Any
    ) -> dict[str, Any]:
        """Wait until the worker is in ``state`` (and its status has the ``expected`` values)."""

        def probe() -> dict[str, Any] | None:
            st = self.status(worker_id)
            ok = st["state"] == state and all(st.get(k) == v for k, v in expected.items())
            return st if ok else None

        return wait_for(probe, timeout=timeout, what=f"{worker_id} {state} {expected}")

    def events(self, worker_id: str, tail: int = 200) -> list[str]:
        """The worker's lifecycle events, oldest first."""
        r = self.api.get(f"/workers/{worker_id}/logs", params={"stream": "events", "tail": tail})
        assert r.status_code == 200, r.text
        lines: list[str] = r.json()["lines"]
        return lines


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


class JobsApi:
    """Job helpers over a master's API."""

    def __init__(self, master: MasterProcess) -> None:
        self.api = master.api

    def submit(self, command: list[str], **fields: Any) -> dict[str, Any]:
        """POST a job and return it."""
        r = self.api.post("/jobs", json={"command": command, **fields})
        assert r.status_code == 201, r.text
        job: dict[str, Any] = r.json()
        return job

    def get(self, job_id: int) -> dict[str, Any]:
        """One job."""
        r = self.api.get(f"/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        return job

    def wait(
        self, job_id: int, *states: str, timeout: float = 20.0, **expected: Any
    ) -> dict[str, Any]:
        """Wait until the job is in one of ``states`` (finished ones by default)."""
        wanted = states or FINISHED

        def probe() -> dict[str, Any] | None:
            job = self.get(job_id)
            ok = job["state"] in wanted and all(job.get(k) == v for k, v in expected.items())
            return job if ok else None

        return wait_for(probe, timeout=timeout, what=f"job {job_id} in {wanted} {expected}")

    def output(self, job_id: int, stream: str = "stdout") -> list[str]:
        """The job's output lines."""
        r = self.api.get(f"/jobs/{job_id}/logs", params={"stream": stream, "tail": 1000})
        assert r.status_code == 200, r.text
        lines: list[str] = r.json()["lines"]
        return lines


FINISHED = ("succeeded", "failed", "timed_out", "cancelled")
