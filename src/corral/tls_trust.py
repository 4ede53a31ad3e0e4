"""Trusting a master over TLS: a CA bundle, or a pin of its certificate.

On the standard library only: the worker uses it and must stay free of third-party
packages. A pin is checked right after the handshake, inside it as the caller sees
it, so not one byte of a request (and so no token) reaches a master that fails it.
"""

import hashlib
import hmac
import re
import ssl
from pathlib import Path

PREFIX = "SHA256:"
_HEX = re.compile(r"^[0-9A-Fa-f]{64}$")
_PEM_CERT = re.compile(
    r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL | re.ASCII
)


class UntrustedMaster(ssl.SSLCertVerificationError):
    """The master's certificate is not the pinned one."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.verify_message = message

    def __str__(self) -> str:
        return self.verify_message


def fingerprint(der: bytes) -> str:
    """``SHA256:AB:CD:...`` of a DER certificate, as ``openssl x509 -fingerprint -sha256``."""
    return fingerprint_of_digest(hashlib.sha256(der).digest())


def parse_fingerprint(text: str) -> bytes:
    """The SHA-256 digest a fingerprint names; ValueError says the expected form."""
    body = text.strip()
    if body[: len(PREFIX)].upper() == PREFIX:
        body = body[len(PREFIX) :]
    body = body.replace(":", "")
    if not _HEX.match(body):
        raise ValueError(
            f"fingerprint must look like {PREFIX}AB:CD:... (64 hex digits), not {text!r}"
        )
    return bytes.fromhex(body)


def pem_fingerprint(path: Path) -> str:
    """The fingerprint of the first certificate (the leaf) of a PEM file."""
    found = _PEM_CERT.search(path.read_text(encoding="ascii", errors="replace"))
    if found is None:
        raise ValueError(f"{path}: no PEM certificate in it")
    return fingerprint(ssl.PEM_cert_to_DER_cert(found.group(0)))


def _check_pin(der: bytes | None, pin: bytes) -> None:
    """Refuse a peer whose leaf certificate is not the pinned one."""
    seen = hashlib.sha256(der or b"").digest()
    if not hmac.compare_digest(seen, pin):
        raise UntrustedMaster(
            f"certificate fingerprint {fingerprint(der or b'')} is not the pinned "
            f"{fingerprint_of_digest(pin)}"
        )


def fingerprint_of_digest(digest: bytes) -> str:
    """A digest written the way ``fingerprint`` writes it."""
    hexed = digest.hex().upper()
    return PREFIX + ":".join(hexed[i : i + 2] for i in range(0, len(hexed), 2))


class _PinnedSocket(ssl.SSLSocket):
    """A blocking TLS socket that checks the pin as the last step of its handshake."""

    def do_handshake(self, block: bool = False) -> None:
        super().do_handshake(block)
        _check_pin(self.getpeercert(binary_form=True), _pin_of(self.context))


class _PinnedObject(ssl.SSLObject):
    """The same check for asyncio's TLS, which drives an SSLObject."""

    def do_handshake(self) -> None:
        super().do_handshake()
        _check_pin(self.getpeercert(binary_form=True), _pin_of(self.context))


class PinnedContext(ssl.SSLContext):
    """A client context whose connections accept only the pinned leaf certificate."""

    sslsocket_class = _PinnedSocket
    sslobject_class = _PinnedObject
    pin: bytes


def _pin_of(context: ssl.SSLContext) -> bytes:
    """The pin of a PinnedContext (its sockets are made by no other context)."""
    assert isinstance(context, PinnedContext)
    return context.pin


def client_context(ca: str | Path | None = None, pin: str | None = None) -> ssl.SSLContext:
    """A TLS client context: the CA bundle given (else the system's), and the pin if any.

    With a pin and no CA, the pin alone is the trust: the way to trust a self-signed
    certificate. Raises ValueError for a malformed pin, OSError or SSLError for a bad CA file.
    """
    if pin is None:
        return ssl.create_default_context(cafile=str(ca) if ca is not None else None)
    context = PinnedContext(ssl.PROTOCOL_TLS_CLIENT)
    context.pin = parse_fingerprint(pin)
    if ca is not None:
        context.load_verify_locations(cafile=str(ca))
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
