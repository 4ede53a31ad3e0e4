"""The client of the master's REST API: jobs and workers over one keep-alive connection."""

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from corral.client.errors import MasterUnreachableError, raise_for_status, transport_error
from corral.client.job import Job
from corral.client.reconnect import Reconnect
from corral.client.sse import events
from corral.client.trust import resolve

DEFAULT_DATA_DIR = ".corral"
# The longest single long-poll of /wait; the master may answer sooner.
LONG_POLL_S = 30.0
# Added to a long-poll's own timeout so the HTTP read does not give up first.
POLL_MARGIN_S = 10.0
BATCH_MAX = 1000
# The most lines the master returns at once: "all of them" for a job's output.
ALL_LINES = 100_000


def default_data_dir(here: Path | None = None) -> Path:
    """The nearest ``.corral`` holding a token, from here up (as git finds ``.git``)."""
    here = (here or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / DEFAULT_DATA_DIR / "admin.token").exists():
            return folder / DEFAULT_DATA_DIR
    return Path(DEFAULT_DATA_DIR)


def _read_token(data_dir: Path) -> str | None:
    """The admin token the master left in its data folder, when this user can read it."""
    try:
        return (data_dir / "admin.token").read_text().strip() or None
    except OSError:
        return None


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds a 503 asks the client to wait before the same request; None otherwise."""
    if response.status_code != 503:
        return None
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.1), 30.0)
    except ValueError:
        return 1.0


def _submit_body(
    command: Sequence[str] | str, shell: bool = False, **options: Any
) -> dict[str, Any]:
    """The POST /jobs body; options left at None take the master's defaults."""
    if isinstance(command, str):
        if not shell:
            raise TypeError("command must be a list of arguments (or pass shell=True)")
        command = [command]
    body: dict[str, Any] = {"command": list(command), "shell": shell}
    body.update({k: v for k, v in options.items() if v is not None})
    return body


class Client:
    """The master's jobs and workers API over one keep-alive HTTP connection."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        data_dir: str | Path | None = None,
        timeout: float = 30.0,
        reconnect_s: float = 60.0,
        busy_s: float = 60.0,
        ca: str | Path | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self.reconnect_s = reconnect_s
        self.busy_s = busy_s
        # Told once when a wait or a stream loses the master and starts trying again.
        self.on_lost: Callable[[str], None] | None = None
        given = data_dir or os.environ.get("CORRAL_DATA_DIR")
        folder = Path(given) if given else default_data_dir()
        self._target = target = resolve(url, str(ca) if ca else None, fingerprint, folder)
        self.url = target.url
        self._token = token or os.environ.get("CORRAL_TOKEN") or _read_token(folder)
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        self._http = httpx.Client(
            base_url=self.url + "/api/v1", headers=headers, timeout=timeout, verify=target.verify()
        )

    def __repr__(self) -> str:
        return f"Client(url={self.url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def sibling(self) -> "Client":
        """Another client of the same master, with the same token, on its own connection."""
        return Client(
            self.url,
            self._token,
            timeout=self._http.timeout.read or 30.0,
            ca=self._target.ca,
            fingerprint=self._target.fingerprint,
        )

    def close(self) -> None:
        """Close the connection."""
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API call; the decoded JSON body, or ApiError / MasterUnreachableError.

        A 503 (the master's database is away: nothing was done) is sent again after
        the pause the master asks for, within ``busy_s``.
        """
        deadline = time.monotonic() + self.busy_s
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                raise transport_error(self.url, exc) from exc
            pause = _retry_after(response)
            if pause is None or time.monotonic() + pause > deadline:
                raise_for_status(response)
                return response.json() if response.content else None
            # The master asked for this pause: nothing to wait on but the clock.
            time.sleep(pause)

    # Jobs

    def submit(
        self,
        command: Sequence[str] | str,
        *,
        cpus: int | None = None,
        shell: bool = False,
        env: Mapping[str, str] | None = None,
        secret_env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        timeout_s: float | None = None,
        max_attempts: int | None = None,
        max_requeues: int | None = None,
        retry_delay_s: float | None = None,
        priority: int | None = None,
        account: str | None = None,
        labels: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        memory_mb: int | None = None,
        run_as: str | None = None,
    ) -> Job:
        """Submit one job; with a known idempotency key, the existing job comes back.

        ``secret_env`` reaches the program like ``env`` but the master never shows it.
        ``run_as`` ("user" or "user:group") must be one a configured worker allows.
        """
        body = _submit_body(
            command,
            shell,
            cpus=cpus,
            env=dict(env) if env is not None else None,
            secret_env=dict(secret_env) if secret_env is not None else None,
            cwd=cwd,
            timeout_s=timeout_s,
            max_attempts=max_attempts,
            max_requeues=max_requeues,
            retry_delay_s=retry_delay_s,
            priority=priority,
            account=account,
            labels=dict(labels) if labels is not None else None,
            idempotency_key=idempotency_key,
            memory_mb=memory_mb,
            run_as=run_as,
        )
        return Job.from_json(self.request("POST", "/jobs", json=body))

    def submit_many(self, specs: Iterable[Mapping[str, Any]]) -> list[Job]:
        """Submit many jobs (each a dict of submit's arguments), BATCH_MAX per request."""
        bodies = [_submit_body(**spec) for spec in specs]
        jobs: list[Job] = []
        for start in range(0, len(bodies), BATCH_MAX):
            chunk = bodies[start : start + BATCH_MAX]
            answer = self.request("POST", "/jobs/batch", json={"jobs": chunk})
            jobs += [Job.from_json(j) for j in answer["jobs"]]
        return jobs

    def get(self, job_id: int) -> Job:
        """One job."""
        return Job.from_json(self.request("GET", f"/jobs/{job_id}"))

    def jobs(
        self,
        state: str | Sequence[str] | None = None,
        worker_id: str | None = None,
        account: str | None = None,
        limit: int | None = None,
        page_size: int = 100,
    ) -> Iterator[Job]:
        """Jobs newest first (in any of the given states), page by page, at most ``limit``."""
        params: dict[str, Any] = {"state": state, "worker_id": worker_id, "account": account}
        params = {k: v for k, v in params.items() if v is not None}
        remaining = limit
        while remaining is None or remaining > 0:
            size = page_size if remaining is None else min(page_size, remaining)
            page = self.request("GET", "/jobs", params={**params, "limit": size})
            for data in page["jobs"][:size]:
                yield Job.from_json(data)
            if remaining is not None:
                remaining -= len(page["jobs"])
            if page.get("next_before_id") is None or not page["jobs"]:
                return
            params["before_id"] = page["next_before_id"]

    def audit(self, limit: int = 100, actor: str | None = None) -> list[dict[str, Any]]:
        """The newest entries of the audit trail: who changed what, and the answer."""
        params: dict[str, Any] = {"limit": limit}
        if actor is not None:
            params["actor"] = actor
        entries: list[dict[str, Any]] = self.request("GET", "/audit", params=params)["entries"]
        return entries

    def attempts(self, job_id: int) -> list[dict[str, Any]]:
        """How each ended attempt of a job went, oldest first."""
        attempts: list[dict[str, Any]] = self.request("GET", f"/jobs/{job_id}/attempts")["attempts"]
        return attempts

    def cancel(self, job_id: int) -> Job:
        """Ask for the job to be cancelled (a running one is signalled); 409 if finished."""
        return Job.from_json(self.request("POST", f"/jobs/{job_id}/cancel"))

    def retry(self, job_id: int) -> Job:
        """Run a finished job again, attempts reset; 409 unless finished."""
        return Job.from_json(self.request("POST", f"/jobs/{job_id}/retry"))

    def wait(self, job_id: int, timeout: float | None = None) -> Job:
        """Block until the job is finished; TimeoutError after ``timeout`` seconds.

        A master that restarts meanwhile is waited for (up to ``reconnect_s``).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        retry = Reconnect(self.reconnect_s, self.on_lost, self.url)
        while True:
            left = LONG_POLL_S if deadline is None else deadline - time.monotonic()
            poll = max(0.0, min(LONG_POLL_S, left))
            try:
                body = self.request(
                    "GET",
                    f"/jobs/{job_id}/wait",
                    params={"timeout_s": round(poll, 3)},
                    timeout=poll + POLL_MARGIN_S,
                )
            except MasterUnreachableError:
                retry.wait_or_raise()
                continue
            retry.reset()
            job = Job.from_json(body)
            if job.finished:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job.state} after {timeout} s")

    def logs(self, job_id: int, stream: str = "stdout", tail: int = ALL_LINES) -> list[str]:
        """The last ``tail`` lines the job printed (all of them by default)."""
        params = {"stream": stream, "tail": tail}
        answer = self.request("GET", f"/jobs/{job_id}/logs", params=params)
        lines: list[str] = answer["lines"]
        return lines

    def follow(self, job_id: int, stream: str = "stdout", tail: int = ALL_LINES) -> Iterator[str]:
        """The job's lines (from the start by default) as they come, until it is finished.

        If the master restarts meanwhile, the stream goes on (for up to ``reconnect_s``).
        Following from the start, it reads the output again and skips what it gave;
        after a shorter tail, it goes on with new lines only.
        """
        params: dict[str, Any] = {"stream": stream, "tail": tail, "follow": "true"}
        given = 0
        retry = Reconnect(self.reconnect_s, self.on_lost, self.url)
        while True:
            try:
                for index, line in enumerate(self._sse(f"/jobs/{job_id}/logs", params)):
                    retry.reset()
                    if index >= given:  # what a reconnection reads again is skipped
                        given += 1
                        yield line
                return
            except MasterUnreachableError:
                retry.wait_or_raise()
                if tail != ALL_LINES:
                    params["tail"], given = 0, 0

    # The master

    def master_info(self) -> dict[str, Any]:
        """Version, pid, uptime and the unfinished jobs by state."""
        info: dict[str, Any] = self.request("GET", "/master")
        return info

    def shutdown(self) -> dict[str, Any]:
        """Ask the master to stop gracefully (its workers drain first); it answers at once."""
        info: dict[str, Any] = self.request("POST", "/master/shutdown")
        return info

    # Workers

    def workers(self) -> list[dict[str, Any]]:
        """Every worker config, by id."""
        configs: list[dict[str, Any]] = self.request("GET", "/worker-configs")
        return configs

    def worker_config(self, worker_id: str) -> dict[str, Any]:
        """One worker's config (secret names only, never their values)."""
        config: dict[str, Any] = self.request("GET", f"/worker-configs/{worker_id}")
        return config

    def add_worker(self, worker_id: str, **fields: Any) -> dict[str, Any]:
        """Create a worker config from any fields of the config API; the stored config."""
        body = {"worker_id": worker_id, **fields}
        config: dict[str, Any] = self.request("POST", "/worker-configs", json=body)
        return config

    def edit_worker(self, worker_id: str, **changes: Any) -> dict[str, Any]:
        """Change the given fields only (None clears host, port, cpus, cpu_ids, run_as)."""
        path = f"/worker-configs/{worker_id}"
        config: dict[str, Any] = self.request("PATCH", path, json=changes)
        return config

    def remove_worker(self, worker_id: str) -> None:
        """Stop the worker gracefully if it runs, then delete its config."""
        self.request("DELETE", f"/worker-configs/{worker_id}")

    def worker_status(self, worker_id: str) -> dict[str, Any]:
        """A worker's runtime state and metrics."""
        status: dict[str, Any] = self.request("GET", f"/workers/{worker_id}/status")
        return status

    def worker_action(
        self, worker_id: str, action: str, options: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Start, stop or restart a worker; the status after the action."""
        body = dict(options) if options else None
        status: dict[str, Any] = self.request("POST", f"/workers/{worker_id}/{action}", json=body)
        return status

    def worker_logs(self, worker_id: str, stream: str = "stdout", tail: int = 100) -> list[str]:
        """The last lines of a worker's stdout, stderr or lifecycle events."""
        params = {"stream": stream, "tail": tail}
        lines: list[str] = self.request("GET", f"/workers/{worker_id}/logs", params=params)["lines"]
        return lines

    def follow_worker(
        self, worker_id: str, stream: str = "stdout", tail: int = 10
    ) -> Iterator[str]:
        """A worker's output lines as they come; a master restart is ridden out (new lines)."""
        params: dict[str, Any] = {"stream": stream, "tail": tail, "follow": "true"}
        retry = Reconnect(self.reconnect_s, self.on_lost, self.url)
        while True:
            try:
                for line in self._sse(f"/workers/{worker_id}/logs", params):
                    retry.reset()
                    yield line
                return
            except MasterUnreachableError:
                retry.wait_or_raise()
                params["tail"] = 0

    def overview(self) -> dict[str, Any]:
        """Fleet-wide counts by state and totals."""
        overview: dict[str, Any] = self.request("GET", "/workers/stats/overview")
        return overview

    def _sse(self, path: str, params: Mapping[str, Any]) -> Iterator[str]:
        """The ``data`` of each server-sent event; stops at an ``end`` event or at EOF."""
        timeout = httpx.Timeout(self._http.timeout.connect, read=None)
        try:
            with self._http.stream("GET", path, params=params, timeout=timeout) as response:
                if response.is_error:
                    response.read()
                    raise_for_status(response)
                for event, data in events(response.iter_lines()):
                    if event == "end":
                        return
                    yield data
        except httpx.TransportError as exc:
            raise transport_error(self.url, exc, doing="keep") from exc
