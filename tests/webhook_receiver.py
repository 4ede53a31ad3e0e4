"""A webhook receiver on 127.0.0.1 that checks each request's Standard Webhooks signature."""

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SECRET = "whsec_" + base64.b64encode(b"corral-receiver-test-key-32bytes").decode()


@dataclass
class Received:
    """One request: its webhook headers, its JSON body, whether its signature verified."""

    message_id: str
    timestamp: int
    signed: bool
    body: dict[str, Any]
    answered: int


def verified(secret: str, message_id: str, timestamp: str, body: bytes, header: str) -> bool:
    """Whether one of the header's signatures is HMAC-SHA256 of id.timestamp.body."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    wanted = "v1," + base64.b64encode(digest).decode()
    return any(hmac.compare_digest(wanted, sig) for sig in header.split())


@dataclass
class Receiver:
    """What it received, and the statuses it answers next (then 200)."""

    url: str = ""
    secret: str = SECRET
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, headers: Any, raw: bytes) -> int:
        """Record one request; the status to answer it with."""
        with self.lock:
            status = self.answers.pop(0) if self.answers else 200
            ok = verified(
                self.secret,
                headers["webhook-id"],
                headers["webhook-timestamp"],
                raw,
                headers["webhook-signature"],
            )
            self.received.append(
                Received(
                    headers["webhook-id"],
                    int(headers["webhook-timestamp"]),
                    ok,
                    json.loads(raw),
                    status,
                )
            )
            return status

    def with_status(self, status: str) -> list[Received]:
        """The requests whose body had this status ("firing", "resolved")."""
        with self.lock:
            return [r for r in self.received if r.body["status"] == status]


@contextmanager
def receiving(answers: list[int] | None = None, port: int = 0) -> Iterator[Receiver]:
    """A receiver serving on 127.0.0.1 until the block ends."""
    receiver = Receiver(answers=list(answers or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["content-length"]))
            self.send_response(receiver.take(self.headers, raw))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads what it received."""

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
