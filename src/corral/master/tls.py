"""The master's TLS: its certificate and key checked before it starts, and what local clients need.

A master serving HTTPS leaves ``DATA/client-tls.json`` (its URL and the fingerprint of its
certificate) so that the CLI and the Python client on this machine trust it with no flag.
"""

import json
import logging
import os
import ssl
import stat
from functools import cache
from pathlib import Path

from corral.errors import MasterStartError
from corral.settings import MasterSettings, is_loopback
from corral.tls_trust import pem_fingerprint

log = logging.getLogger("corral.master")
CLIENT_FILE = "client-tls.json"


def check_files(settings: MasterSettings) -> str | None:
    """The certificate's fingerprint when TLS is on; MasterStartError says what is wrong.

    Without TLS off loopback, warns once that tokens would cross the network in clear.
    """
    if settings.tls_cert is None or settings.tls_key is None:
        if not is_loopback(settings.host):
            log.warning(
                "serving plain HTTP on %s: tokens and job data cross the network in clear; "
                "serve HTTPS with --tls-cert FILE --tls-key FILE "
                "(`corral tls self-signed --host NAME --out DIR` makes a pair)",
                settings.listen_address,
            )
        return None
    cert, key = settings.tls_cert, settings.tls_key
    for what, path in (("certificate", cert), ("key", key)):
        _readable(what, path)
    mode = stat.S_IMODE(key.stat().st_mode)
    if mode & 0o077:
        raise MasterStartError(
            f"TLS key {key} is open to other users (mode {mode:04o}): run `chmod 600 {key}`"
        )
    try:
        # An encrypted key gets an empty password, and fails, instead of a prompt.
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=b"")
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise MasterStartError(f"TLS key {key} is not the key of certificate {cert}") from exc
        raise MasterStartError(
            f"TLS certificate {cert} and key {key} cannot be loaded ({exc.reason or exc}): "
            "the certificate must be PEM, the key its PEM private key, not encrypted"
        ) from exc
    try:
        return served_fingerprint(cert)
    except ValueError as exc:
        raise MasterStartError(f"TLS certificate: {exc}") from exc


@cache
def served_fingerprint(cert: Path) -> str:
    """The pin of the certificate read at start: a file renewed since is not served yet."""
    return pem_fingerprint(cert)


def _readable(what: str, path: Path) -> None:
    """Refuse a missing or unreadable file, naming it."""
    try:
        with path.open("rb") as f:
            f.read(1)
    except FileNotFoundError:
        raise MasterStartError(f"TLS {what} file {path} does not exist") from None
    except OSError as exc:
        raise MasterStartError(f"TLS {what} file {path} cannot be read: {exc.strerror}") from None


def write_client_file(settings: MasterSettings, fingerprint: str | None) -> None:
    """Tell local clients how to reach and trust this master; none is left without TLS."""
    path = settings.data_dir / CLIENT_FILE
    if fingerprint is None:
        path.unlink(missing_ok=True)
        return
    body = json.dumps({"url": settings.url, "fingerprint": fingerprint}) + "\n"
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(body)
    aside.replace(path)
