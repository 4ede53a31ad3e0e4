"""A TLS server on loopback that answers nothing and records every byte it is sent."""

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from corral.self_signed import write_pair


@dataclass
class Pair:
    """A key and its self-signed certificate for 127.0.0.1, and the certificate's pin."""

    cert: Path
    key: Path
    fingerprint: str


def make_pair(folder: Path) -> Pair:
    """A fresh pair in ``folder`` (made with the cryptography package)."""
    cert, key, fingerprint = write_pair(folder, ["localhost"], ["127.0.0.1"])
    return Pair(cert, key, fingerprint)


@dataclass
class Recorder:
    """What the clients of the server did: handshakes completed, bytes received."""

    port: int
    handshakes: int = 0
    received: bytearray = field(default_factory=bytearray)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def data(self) -> bytes:
        with self.lock:
            return bytes(self.received)


def _serve(listener: socket.socket, context: ssl.SSLContext, recorder: Recorder) -> None:
    """Accept until the listener closes; each client's bytes are recorded."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_record, args=(conn, context, recorder), daemon=True).start()


def _record(conn: socket.socket, context: ssl.SSLContext, recorder: Recorder) -> None:
    """Complete the handshake if the client does, then keep what it sends until it leaves."""
    conn.settimeout(10)
    try:
        with context.wrap_socket(conn, server_side=True) as tls:
            with recorder.lock:
                recorder.handshakes += 1
            while chunk := tls.recv(65536):
                with recorder.lock:
                    recorder.received += chunk
    except (OSError, ssl.SSLError):
        pass  # a client that refuses the certificate ends the handshake: that is the point


@contextmanager
def recording_server(pair: Pair) -> Iterator[Recorder]:
    """Serve TLS with ``pair`` on a free loopback port until the block ends."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert, pair.key)
    listener = socket.create_server(("127.0.0.1", 0))
    recorder = Recorder(listener.getsockname()[1])
    thread = threading.Thread(target=_serve, args=(listener, context, recorder), daemon=True)
    thread.start()
    try:
        yield recorder
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)
