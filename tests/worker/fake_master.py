"""A minimal stand-in for the master's agent routes, for protocol tests only.

It records every request and keeps the rules the worker depends on: a
heartbeat or exchange from an instance that is not the worker's current one
gets a 409 ``stale_instance``; an exchange without events parks until a test
queues work for it (or its wait ends); reports about an attempt the test
disowned are answered with that attempt in ``stale``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from corral.protocol import (
    DEREGISTER_PATH,
    EXCHANGE_PATH,
    HEARTBEAT_PATH,
    REGISTER_PATH,
    STALE_INSTANCE,
    Assignment,
    AttemptRef,
    JobEvent,
)

TOKEN = "test-token-5f3a9c"


class _Server(ThreadingHTTPServer):
    """The HTTP server, quiet about a worker that hung up: workers are killed mid-request."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Print what went wrong, unless the peer went away."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def assignment(
    job_id: int,
    command: list[str],
    *,
    attempt: int = 1,
    cpus: int = 1,
    shell: bool = False,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
    timeout_s: float | None = None,
    account: str | None = None,
) -> Assignment:
    """An assignment with test defaults."""
    return {
        "job_id": job_id,
        "attempt": attempt,
        "command": command,
        "shell": shell,
        "env": env or {},
        "cwd": cwd,
        "cpus": cpus,
        "timeout_s": timeout_s,
        "account": account,
    }


class Recorded(NamedTuple):
    """One request as the fake master saw it."""

    path: str
    body: dict[str, Any]
    authorization: str | None
    client_port: int
    at: float


class FakeMaster:
    """Agent routes on 127.0.0.1; bound at once, listening only after ``start()``.

    A bound socket that does not listen refuses connections, so a worker can be
    started against a master that comes up later on a port known in advance.
    """

    def __init__(
        self,
        *,
        token: str = TOKEN,
        heartbeat_interval_s: float = 0.05,
        lease_s: float = 1.0,
        stale_style: str = "detail",
    ) -> None:
        self.token = token
        self.heartbeat_interval_s = heartbeat_interval_s
        self.lease_s = lease_s
        self.stale_style = stale_style
        self.unknown_workers = False  # answer 404 to everything
        self.close_connections = False  # answer with Connection: close
        self.hold: set[str] = set()  # paths whose requests wait until released
        self.drop_requests = False  # hang up without answering, like a crashing master
        self.release = threading.Event()
        self.current: dict[str, str] = {}  # worker id -> current instance id
        self.requests: list[Recorded] = []
        self.connections: set[socket.socket] = set()
        self.capacity: int | None = None  # the "cpus" of the register answer, when set
        self.events: list[JobEvent] = []
        self.disowned: set[tuple[int, int]] = set()
        self._assignments: list[Assignment] = []
        self._cancels: list[AttemptRef] = []
        self._stale: list[AttemptRef] = []
        self._stopping = False
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", 0), _handler_for(self), bind_and_activate=False)
        self._server.daemon_threads = True
        self._server.server_bind()
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def start(self) -> FakeMaster:
        """Listen and serve in a background thread."""
        self._server.server_activate()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections as a dead process would, release held ones."""
        self.release.set()
        with self._work:
            self._stopping = True
            self._work.notify_all()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
        with self._lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def forget(self, worker_id: str) -> None:
        """Drop the worker's current instance, as a restarted master would."""
        with self._lock:
            self.current.pop(worker_id, None)

    def to(self, path: str) -> list[Recorded]:
        """The requests received on ``path`` so far."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def assign(self, *assignments: Assignment) -> None:
        """Queue attempts for the worker; a parked poll takes them at once."""
        with self._work:
            self._assignments.extend(assignments)
            self._work.notify_all()

    def cancel(self, job_id: int, attempt: int = 1) -> None:
        """Queue a cancel of an attempt."""
        with self._work:
            self._cancels.append({"job_id": job_id, "attempt": attempt})
            self._work.notify_all()

    def disown(self, job_id: int, attempt: int = 1) -> None:
        """Stop owning an attempt: tell the worker now, and answer its reports with it."""
        with self._work:
            self.disowned.add((job_id, attempt))
            self._stale.append({"job_id": job_id, "attempt": attempt})
            self._work.notify_all()

    def job_events(self, job_id: int, kind: str | None = None) -> list[JobEvent]:
        """The events received about a job, of one type if given."""
        with self._lock:
            return [
                e
                for e in self.events
                if e["job_id"] == job_id and (kind is None or e["type"] == kind)
            ]

    def finished(self, job_id: int) -> JobEvent | None:
        """The job's finished event, once received."""
        found = self.job_events(job_id, "finished")
        assert len(found) <= 1, f"job {job_id} finished more than once: {found}"
        return found[0] if found else None

    def started(self, job_id: int) -> JobEvent | None:
        """The job's started event, once received."""
        found = self.job_events(job_id, "started")
        return found[0] if found else None

    def output(self, job_id: int, stream: str = "stdout") -> str:
        """Everything a job wrote on a stream, as received so far."""
        return "".join(
            e["data"] for e in self.job_events(job_id, "output") if e["stream"] == stream
        )

    def exchanges(self) -> list[Recorded]:
        return self.to(EXCHANGE_PATH)

    def registrations(self) -> list[Recorded]:
        return self.to(REGISTER_PATH)

    def heartbeats(self, instance_id: str | None = None) -> list[Recorded]:
        beats = self.to(HEARTBEAT_PATH)
        return [b for b in beats if instance_id is None or b.body["instance_id"] == instance_id]

    def deregistrations(self) -> list[Recorded]:
        return self.to(DEREGISTER_PATH)

    def handle(self, request: Recorded) -> tuple[int, object] | None:
        """The status and JSON body the master answers to ``request``; None: hang up."""
        with self._lock:
            self.requests.append(request)
        if self.drop_requests:
            return None
        if request.authorization != f"Bearer {self.token}":
            return 401, {"detail": "invalid token"}
        if self.unknown_workers:
            return 404, {"detail": "unknown worker"}
        worker_id = request.body.get("worker_id", "")
        instance_id = request.body.get("instance_id", "")
        if request.path in self.hold:
            self.release.wait(10)
        if request.path == REGISTER_PATH:
            with self._lock:
                self.current[worker_id] = instance_id
            answer = {"heartbeat_interval_s": self.heartbeat_interval_s, "lease_s": self.lease_s}
            return 200, {**answer, "cpus": self.capacity}
        if request.path in (HEARTBEAT_PATH, EXCHANGE_PATH):
            if self.current.get(worker_id) != instance_id:
                return 409, self._stale_body(instance_id)
            if request.path == EXCHANGE_PATH:
                return self._exchange(request.body)
            return 200, {}
        if request.path == DEREGISTER_PATH:
            return 200, {}
        return 404, {"detail": "no such route"}

    def _exchange(self, body: dict[str, Any]) -> tuple[int, object] | None:
        """Record the events; answer with queued work, parking a poll until there is some."""
        events: list[JobEvent] = body["events"]
        with self._work:
            self.events.extend(events)
            stale = _refs({(e["job_id"], e["attempt"]) for e in events} & self.disowned)
            if not events and body["wait_s"] > 0:
                self._work.wait_for(self._has_work, body["wait_s"])
            if self.drop_requests:
                return None
            # A poll parked by an instance that has since been replaced gets no work.
            if self.current.get(body["worker_id"]) != body["instance_id"]:
                return 409, self._stale_body(body["instance_id"])
            answer = {
                "assignments": self._assignments,
                "cancels": self._cancels,
                "stale": self._stale + stale,
            }
            self._assignments, self._cancels, self._stale = [], [], []
        return 200, answer

    def _has_work(self) -> bool:
        return bool(
            self._assignments
            or self._cancels
            or self._stale
            or self._stopping
            or self.drop_requests
        )

    def _stale_body(self, instance_id: str) -> object:
        message = f"instance {instance_id} is not current"
        if self.stale_style == "detail":
            return {"detail": {"code": STALE_INSTANCE, "message": message}}
        return {"detail": message, "code": STALE_INSTANCE}


def _refs(keys: Iterable[tuple[int, int]]) -> list[AttemptRef]:
    return [{"job_id": job_id, "attempt": attempt} for job_id, attempt in sorted(keys)]


def _handler_for(master: FakeMaster) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``master``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real master

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in two writes: without this, Nagle's algorithm
            # and delayed ACKs hold every answer back by 40 ms, like no real server.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with master._lock:
                master.connections.add(self.connection)

        def finish(self) -> None:
            with master._lock:
                master.connections.discard(self.connection)
            super().finish()

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            request = Recorded(
                self.path,
                body,
                self.headers.get("Authorization"),
                self.client_address[1],
                time.monotonic(),
            )
            answer_to = master.handle(request)
            if answer_to is None:
                self.close_connection = True
                return
            status, answer = answer_to
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if master.close_connections:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            with contextlib.suppress(OSError):  # the worker may be gone already
                self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output quiet

    return Handler
