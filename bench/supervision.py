"""Supervision figures: restart after SIGKILL, idle master cost, cold start of corral up."""

import argparse
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.stats import summary_ms
from corral.master.tokens import admin_token_path

BENCH_ENV = {"CORRAL_HEARTBEAT_INTERVAL_S": "1.0", "CORRAL_LEASE_S": "5.0"}


class Master:
    """A master subprocess for one measurement."""

    def __init__(
        self, data_dir: Path, command: str = "master", env: dict[str, str] | None = None
    ) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        environ = {**os.environ, **BENCH_ENV, **(env or {})}
        # Given a certificate, the master serves HTTPS: its self-signed certificate is the CA.
        cert = environ.get("CORRAL_TLS_CERT")
        self.tls = ssl.create_default_context(cafile=cert) if cert else None
        url = f"{'https' if cert else 'http'}://127.0.0.1:{self.port}/api/v1"
        self.api = httpx.Client(base_url=url, timeout=30, verify=self.tls or True)
        argv = [sys.executable, "-m", "corral", command, "--data-dir", str(data_dir)]
        argv += ["--port", str(self.port)]
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 30) -> float:
        """Seconds from spawn until the API answered."""
        deadline = time.monotonic() + timeout
        token_file = admin_token_path(self.data_dir)
        while time.monotonic() < deadline:
            if token_file.exists():
                token = token_file.read_text().strip()
                self.api.headers["Authorization"] = f"Bearer {token}"
            try:
                if self.api.get("/health", timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.002)
        raise RuntimeError("master did not answer")

    def status(self, worker_id: str) -> dict[str, Any]:
        """The worker's status."""
        body: dict[str, Any] = self.api.get(f"/workers/{worker_id}/status").json()
        return body

    def wait_running(self, worker_id: str, not_instance: str | None = None) -> dict[str, Any]:
        """Poll until running (with a different instance than ``not_instance``)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            st = self.status(worker_id)
            if st["state"] == "running" and st["instance_id"] != not_instance:
                return st
            time.sleep(0.005)
        raise RuntimeError(f"{worker_id} did not come back")

    def close(self) -> None:
        """SIGTERM and wait."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _running_since(master: Master, worker_id: str) -> datetime:
    """When the master recorded the latest 'registered' transition."""
    r = master.api.get(f"/workers/{worker_id}/logs", params={"stream": "events", "tail": 5})
    lines = [ln for ln in r.json()["lines"] if "-> running" in ln]
    return datetime.fromisoformat(lines[-1].split(" ", 1)[0])


def restart_latency(args: argparse.Namespace) -> dict[str, Any]:
    """SIGKILL a running worker (restart_delay_ms=0) -> the same worker registered again."""
    with tempfile.TemporaryDirectory() as tmp:
        master = Master(Path(tmp))
        master.wait_ready()
        master.api.post(
            "/worker-configs",
            json={
                "worker_id": "w1",
                "restart_delay_ms": 0,
                "max_restart_attempts": 10_000,
            },
        )
        st = master.wait_running("w1")
        samples = []
        for _ in range(args.rounds):
            killed_at = datetime.now(UTC)
            os.kill(st["pid"], signal.SIGKILL)
            st = master.wait_running("w1", not_instance=st["instance_id"])
            samples.append((_running_since(master, "w1") - killed_at).total_seconds())
        master.close()
    return {"sigkill_to_running": summary_ms(samples)}


def idle_master(args: argparse.Namespace) -> dict[str, Any]:
    """Master CPU and memory with N local workers heartbeating every second."""
    with tempfile.TemporaryDirectory() as tmp:
        master = Master(Path(tmp))
        master.wait_ready()
        for i in range(args.workers):
            master.api.post("/worker-configs", json={"worker_id": f"w{i}"})
        for i in range(args.workers):
            master.wait_running(f"w{i}")
        proc = psutil.Process(master.proc.pid)
        before = proc.cpu_times()
        time.sleep(args.seconds)
        after = proc.cpu_times()
        cpu_s = (after.user - before.user) + (after.system - before.system)
        workers = [psutil.Process(master.status(f"w{i}")["pid"]) for i in range(args.workers)]
        result = {
            "workers": args.workers,
            "window_s": args.seconds,
            "master_cpu_percent": round(100 * cpu_s / args.seconds, 2),
            "master_rss_mib": round(proc.memory_info().rss / 2**20, 1),
            "worker_rss_mib_each": round(
                sum(w.memory_info().rss for w in workers) / len(workers) / 2**20, 1
            ),
        }
        master.close()
    return result


def cold_start(args: argparse.Namespace) -> dict[str, Any]:
    """``corral up`` in an empty data folder -> API answering, and -> local-1 running."""
    api, worker = [], []
    for _ in range(max(3, args.rounds // 4)):
        with tempfile.TemporaryDirectory() as tmp:
            master = Master(Path(tmp), command="up")
            api.append(master.wait_ready())
            master.wait_running("local-1")
            worker.append(time.monotonic() - master.started)
            master.close()
    return {"to_api_answering": summary_ms(api), "to_local_1_running": summary_ms(worker)}
