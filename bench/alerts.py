"""Webhooks: from a test notification's request to its signed arrival at a loopback receiver."""

import argparse
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.stats import summary_ms
from bench.supervision import Master
from corral.master.alerts import signing

SECRET = signing.new_secret()


class Arrivals:
    """When each notification arrived, and whether its signature was right."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.bad = 0
        self.arrived = threading.Condition()

    def take(self, headers: Any, body: bytes) -> None:
        """Record one request."""
        expected = signing.signature(
            SECRET, headers["webhook-id"], int(headers["webhook-timestamp"]), body
        )
        with self.arrived:
            self.bad += headers["webhook-signature"] != expected
            self.times.append(time.perf_counter())
            self.arrived.notify_all()

    def wait(self, count: int) -> None:
        """Until ``count`` notifications arrived (10 s at most)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.times) >= count, timeout=10)


def webhook_latency(args: argparse.Namespace) -> dict[str, Any]:
    """Send ``args.rounds`` test notifications one after the other; time each to its arrival."""
    arrivals = Arrivals()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrivals.take(self.headers, self.rfile.read(int(self.headers["content-length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        master = Master(Path(tmp) / "data")
        try:
            master.wait_ready()
            hook = master.api.post("/webhooks", json={"url": url, "secret": SECRET}).json()
            took = []
            for i in range(args.rounds):
                began = time.perf_counter()
                master.api.post(f"/webhooks/{hook['id']}/test").raise_for_status()
                arrivals.wait(i + 1)
                took.append(arrivals.times[i] - began)
        finally:
            master.close()
            server.shutdown()
            server.server_close()
    return {
        "test notification, request to signed arrival": summary_ms(took),
        "bad signatures": arrivals.bad,
    }
