"""Fingerprints and pins: their forms, and the pin held on blocking and asyncio connections."""

import asyncio
import hashlib
import socket
import ssl
from pathlib import Path

import pytest

from corral.tls_trust import UntrustedMaster, client_context, parse_fingerprint, pem_fingerprint
from tls_recorder import make_pair, recording_server
from waiting import wait_for

DIGEST = bytes(range(32))
COLONS = ":".join(f"{b:02X}" for b in DIGEST)


@pytest.mark.parametrize(
    "text", ["SHA256:" + COLONS, "sha256:" + COLONS.lower(), COLONS, DIGEST.hex(), f" {COLONS} "]
)
def test_a_fingerprint_is_read_in_any_usual_form(text: str) -> None:
    assert parse_fingerprint(text) == DIGEST


@pytest.mark.parametrize(
    "text", ["", "SHA256:", "SHA256:" + COLONS[:-3], "SHA1:" + COLONS, "zz" * 32]
)
def test_a_malformed_fingerprint_is_refused_with_the_form_expected(text: str) -> None:
    with pytest.raises(ValueError, match="64 hex digits"):
        parse_fingerprint(text)


def test_the_fingerprint_is_the_one_openssl_prints(tmp_path: Path) -> None:
    pair = make_pair(tmp_path)
    assert pem_fingerprint(pair.cert) == pair.fingerprint
    der = ssl.PEM_cert_to_DER_cert(pair.cert.read_text())
    assert pair.fingerprint.removeprefix("SHA256:").replace(":", "") == (
        hashlib.sha256(der).hexdigest().upper()
    )


def test_the_pin_holds_on_blocking_sockets_before_anything_is_sent(tmp_path: Path) -> None:
    pair, other = make_pair(tmp_path / "a"), make_pair(tmp_path / "b")
    with recording_server(pair) as recorder:
        wrong = client_context(pin=other.fingerprint)
        with (
            socket.create_connection(("127.0.0.1", recorder.port)) as raw,
            pytest.raises(UntrustedMaster, match="is not the pinned"),
        ):
            wrong.wrap_socket(raw, server_hostname="127.0.0.1")
        right = client_context(pin=pair.fingerprint)
        with (
            socket.create_connection(("127.0.0.1", recorder.port)) as raw,
            right.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(b"hello")
        # Only what the trusted connection sent arrived.
        wait_for(lambda: recorder.data() == b"hello", what="the trusted connection's bytes")


def test_the_pin_holds_on_asyncio_connections(tmp_path: Path) -> None:
    pair, other = make_pair(tmp_path / "a"), make_pair(tmp_path / "b")

    async def connect(pin: str, port: int) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context(pin=pin))
        writer.write(b"sent")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    with recording_server(pair) as recorder:
        with pytest.raises(UntrustedMaster):
            asyncio.run(connect(other.fingerprint, recorder.port))
        assert recorder.data() == b""
        asyncio.run(connect(pair.fingerprint, recorder.port))
        wait_for(lambda: recorder.data() == b"sent", what="the trusted connection's bytes")
