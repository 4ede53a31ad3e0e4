"""What tests do through a master's REST API, whether it runs as a process or in this one."""

from pathlib import Path
from typing import Any

import httpx

from corral.master.tokens import Tokens
from corral.protocol import WORKER_HEADER
from waiting import wait_for


def as_worker(data_dir: Path, worker_id: str, token: str | None = None) -> dict[str, str]:
    """The headers a worker sends: its id, and its own token unless another is given."""
    token = token or Tokens(data_dir).worker_token(worker_id)
    return {"Authorization": f"Bearer {token}", WORKER_HEADER: worker_id}


class MasterApi:
    """Helpers over a master's API client; subclasses say where the master runs."""

    data_dir: Path
    url: str  # where the routes outside /api/v1 (the workers' routes) live
    api: httpx.Client  # based at /api/v1

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


class JobsApi:
    """Job helpers over a master's API."""

    def __init__(self, master: MasterApi) -> None:
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
