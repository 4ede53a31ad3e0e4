"""What tests do through a master's REST API, whether it runs as a process or in this one."""

import time
from pathlib import Path
from typing import Any

import httpx

from corral.master.tokens import Tokens
from corral.protocol import WORKER_HEADER
from waiting import wait_for

# How long a helper waits out a busy master, as long as the product's client does
# (corral.client.Client's busy_s).
BUSY_S = 60.0


def busy_pause(response: httpx.Response) -> float | None:
    """The pause a busy answer (503 with Retry-After: nothing was done) asks for; else None."""
    retry_after = response.headers.get("retry-after")
    if response.status_code != 503 or retry_after is None:
        return None  # a 503 without Retry-After is an answer, not "come back later"
    return max(float(retry_after), 0.1)


def ride_out_busy(api: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request, sent again after each busy answer's pause, within BUSY_S; the last answer."""
    deadline = time.monotonic() + BUSY_S
    while True:
        response = api.request(method, path, **kwargs)
        pause = busy_pause(response)
        if pause is None or time.monotonic() + pause > deadline:
            return response
        # The master asked for this pause: nothing to wait on but the clock.
        time.sleep(pause)


def expect(response: httpx.Response, status: int) -> Any:
    """The JSON body of an answer that must have ``status``; the answer in the failure."""
    request = response.request
    assert response.status_code == status, (
        f"{request.method} {request.url}: {response.status_code} {response.text}"
    )
    return response.json()


def as_worker(data_dir: Path, worker_id: str, token: str | None = None) -> dict[str, str]:
    """The headers a worker sends: its id, and its own token unless another is given."""
    token = token or Tokens(data_dir).worker_token(worker_id)
    return {"Authorization": f"Bearer {token}", WORKER_HEADER: worker_id}


class MasterApi:
    """Helpers over a master's API client; subclasses say where the master runs."""

    data_dir: Path
    url: str  # where the routes outside /api/v1 (the workers' routes) live
    api: httpx.Client  # based at /api/v1

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One API request; busy answers (503, Retry-After) are ridden out within BUSY_S."""
        return ride_out_busy(self.api, method, path, **kwargs)

    def read(self, path: str, **kwargs: Any) -> Any:
        """GET ``path`` (busy answers ridden out): its JSON body, which must come with a 200."""
        return expect(self.send("GET", path, **kwargs), 200)

    def create_worker(self, worker_id: str, **fields: Any) -> dict[str, Any]:
        """POST a worker config (local by default) and return the created body."""
        body = {"worker_id": worker_id, "deployment_type": "local", **fields}
        created: dict[str, Any] = expect(self.send("POST", "/worker-configs", json=body), 201)
        return created

    def status(self, worker_id: str) -> dict[str, Any]:
        """The worker's status body."""
        body: dict[str, Any] = self.read(f"/workers/{worker_id}/status")
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
        params = {"stream": "events", "tail": tail}
        lines: list[str] = self.read(f"/workers/{worker_id}/logs", params=params)["lines"]
        return lines


class JobsApi:
    """Job helpers over a master's API."""

    def __init__(self, master: MasterApi) -> None:
        self.master = master
        self.api = master.api

    def submit(self, command: list[str], **fields: Any) -> dict[str, Any]:
        """POST a job and return it."""
        sent = self.master.send("POST", "/jobs", json={"command": command, **fields})
        job: dict[str, Any] = expect(sent, 201)
        return job

    def submit_batch(self, specs: list[dict[str, Any]]) -> list[int]:
        """POST jobs in one batch; their ids."""
        sent = self.master.send("POST", "/jobs/batch", json={"jobs": specs})
        return [job["id"] for job in expect(sent, 201)["jobs"]]

    def get(self, job_id: int) -> dict[str, Any]:
        """One job."""
        job: dict[str, Any] = self.master.read(f"/jobs/{job_id}")
        return job

    def listed(self, **params: Any) -> list[dict[str, Any]]:
        """GET /jobs with ``params``: the jobs of the page."""
        jobs: list[dict[str, Any]] = self.master.read("/jobs", params=params)["jobs"]
        return jobs

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
        params = {"stream": stream, "tail": 1000}
        lines: list[str] = self.master.read(f"/jobs/{job_id}/logs", params=params)["lines"]
        return lines


FINISHED = ("succeeded", "failed", "timed_out", "cancelled")
