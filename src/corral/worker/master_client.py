"""A small JSON-over-HTTP client for the agent routes, on the stdlib only.

Each thread keeps one keep-alive connection, so the heartbeat loop and a future
job long-poll never wait on each other. The bearer token goes in a header and
nowhere else: not in errors, not in the repr, not in logs.
"""

from __future__ import annotations

import http.client
import json
import ssl
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from corral import __version__
from corral.protocol import WORKER_HEADER

JsonObject = dict[str, Any]

# A reused keep-alive connection that the server closed while idle fails like
# this on first use; the request never reached the application, so resend once.
_STALE_CONNECTION_ERRORS = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
)


class MasterError(Exception):
    """Any failure to get a successful answer from the master."""


class MasterUnreachable(MasterError):
    """No usable answer: network error, timeout, or a 5xx while the master is busy."""


class MasterUntrusted(MasterError):
    """The master's certificate failed verification: nothing, not the token, was sent."""

    def __init__(self, url: str, exc: ssl.SSLError) -> None:
        reason = getattr(exc, "verify_message", None) or str(exc)
        super().__init__(
            f"cannot verify the master's certificate at {url}: {reason}; the token was not "
            "sent. Give the master's CA bundle (--master-ca FILE) or the fingerprint it "
            "prints at start (--master-fingerprint SHA256:...)"
        )


class MasterBusy(MasterUnreachable):
    """503: the master is up but cannot take the request now, and took nothing of it."""

    def __init__(self, path: str, retry_after_s: float) -> None:
        super().__init__(f"{path}: HTTP 503, busy (retry after {retry_after_s:g} s)")
        self.retry_after_s = retry_after_s


class MasterRejected(MasterError):
    """The master answered with an error status."""

    def __init__(self, status: int, body: object, path: str) -> None:
        self.status = status
        self.body = body
        self.path = path
        self.code = error_code(body)
        detail = body.get("detail") if isinstance(body, dict) else body
        text = f"{path}: HTTP {status}" + (f" [{self.code}]" if self.code else "")
        super().__init__(text + (f": {str(detail)[:300]}" if detail else ""))


class Unauthorized(MasterRejected):
    """401 or 403: the token is wrong or no longer valid for this worker."""


class NotFound(MasterRejected):
    """404: the master does not know this worker (or route)."""


class Conflict(MasterRejected):
    """409: the request conflicts with the master's state, e.g. a stale instance."""


def error_code(body: object) -> str | None:
    """The ``code`` of an error body, ``{"code": ...}`` or ``{"detail": {"code": ...}}``."""
    if not isinstance(body, dict):
        return None
    detail = body.get("detail")
    source = detail if isinstance(detail, dict) else body
    code = source.get("code")
    return code if isinstance(code, str) else None


def _rejection(status: int, body: object, path: str, retry_after: str | None) -> MasterError:
    """The typed error for an error status."""
    if status == 503:
        try:
            return MasterBusy(path, max(0.1, float(retry_after or 1)))
        except ValueError:
            return MasterBusy(path, 1.0)
    if status in (401, 403):
        return Unauthorized(status, body, path)
    if status == 404:
        return NotFound(status, body, path)
    if status == 409:
        return Conflict(status, body, path)
    if status >= 500:
        return MasterUnreachable(f"{path}: HTTP {status}")
    return MasterRejected(status, body, path)


class MasterClient:
    """POSTs JSON to the master with bearer auth; one keep-alive connection per thread."""

    def __init__(
        self,
        base_url: str,
        token: str,
        worker_id: str,
        *,
        timeout: float = 5.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"master URL must be http(s)://host[:port][/prefix]: {base_url!r}")
        self.base_url = base_url
        self.timeout = timeout
        self._scheme = parts.scheme
        # Verifies the master (CA, pin) before the first byte of a request goes out.
        self._tls = tls
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            WORKER_HEADER: worker_id,
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"corral-worker/{__version__}",
        }
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"MasterClient({self.base_url!r})"

    def post(
        self, path: str, body: Mapping[str, object], *, timeout: float | None = None
    ) -> JsonObject:
        """POST ``body`` as JSON to ``path``; return the JSON answer (``{}`` if empty)."""
        # Compact UTF-8, as the outbox sizes its batches: an emoji is 4 bytes, not 12.
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        for attempt in range(2):
            conn, reused = self._connection(self.timeout if timeout is None else timeout)
            try:
                conn.request("POST", self._prefix + path, payload, self._headers)
                response = conn.getresponse()
                data = response.read()
            except _STALE_CONNECTION_ERRORS as exc:
                self.close()
                if reused and attempt == 0:
                    continue
                raise MasterUnreachable(f"{path}: {exc!r}") from exc
            except ssl.SSLCertVerificationError as exc:
                self.close()
                raise MasterUntrusted(self.base_url, exc) from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise MasterUnreachable(f"{path}: {exc!r}") from exc
            if response.will_close:
                self.close()
            return self._answer(path, response.status, data, response.getheader("Retry-After"))
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(
        self, path: str, status: int, data: bytes, retry_after: str | None = None
    ) -> JsonObject:
        """Decode a response body, raising the typed error for an error status."""
        try:
            body: object = json.loads(data) if data else {}
        except ValueError:
            body = data[:200].decode(errors="replace")
        if status >= 400:
            raise _rejection(status, body, path, retry_after)
        # A route that returns nothing may answer ``null``: no fields to read.
        return body if isinstance(body, dict) else {}

    def _connection(self, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection and whether it was used before."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._scheme == "https":
                conn = http.client.HTTPSConnection(self._netloc, timeout=timeout, context=self._tls)
            else:
                conn = http.client.HTTPConnection(self._netloc, timeout=timeout)
            self._local.conn = conn
        conn.timeout = timeout
        reused = conn.sock is not None
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn, reused

    def close(self) -> None:
        """Drop this thread's connection; the next request opens a new one."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()
