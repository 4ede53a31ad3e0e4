"""How a worker is handed its token and its jobs' secret environment: never by argv.

A job can read its worker's command line, and its environment too where the job
runs as root. So the master writes both to the worker's stdin, a pipe, as one JSON
object ``{"token": ..., "secret_env": {...}}``; the worker keeps them in memory and
adds the secret environment to each job's own. Someone starting a worker by hand
gives the token alone (or the same object) on stdin, or in a file only its owner
can read, which the worker deletes once read. CORRAL_WORKER_TOKEN in the
environment is still read, for compatibility, and taken out of the worker's
environment at once.

Standard library only: the worker imports it.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from corral.protocol import ENV_TOKEN

# A token is a few dozen bytes; the secret environment of a config at most a few MiB.
MAX_BYTES = 16 * 1024 * 1024


class HandoffError(Exception):
    """The token could not be taken; the message says why, never what was read."""


@dataclass(frozen=True)
class Handoff:
    """The worker's token and the secret variables of its jobs; neither ever shown."""

    token: str = field(repr=False)
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)


def parse(text: str) -> Handoff:
    """A token alone on its line, or a JSON object with ``token`` and ``secret_env`` (Secrets)."""
    text = text.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise HandoffError("not a valid JSON object") from None
        return _from_document(document)
    if not text or any(c.isspace() for c in text):
        raise HandoffError("expected the token alone on one line")
    return Handoff(text)


def from_stream(stream: BinaryIO) -> Handoff:
    """Read the hand-off to the end of ``stream`` (stdin)."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise HandoffError(f"more than {MAX_BYTES} bytes")
    return parse(_decode(data))


def from_file(path: str) -> Handoff:
    """Read a file only its owner may read, then delete it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise HandoffError(f"cannot open it: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise HandoffError("not a regular file")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise HandoffError("other users may read it: chmod 600 it")
        handoff = from_stream(f)
    try:
        os.unlink(path)
    except OSError as exc:
        # Left in place, the file would stay readable by jobs of the worker's own user.
        raise HandoffError(f"cannot delete it once read: {exc.strerror}") from None
    return handoff


def from_environ(environ: MutableMapping[str, str]) -> Handoff | None:
    """Take the token out of the environment, so that nothing started later inherits it."""
    text = environ.pop(ENV_TOKEN, None)
    return parse(text) if text else None


def _decode(data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise HandoffError("not UTF-8 text") from None


def _from_document(document: Any) -> Handoff:
    """Check the shape of the JSON object; its values are never quoted back."""
    if not isinstance(document, dict) or set(document) - {"token", "secret_env"}:
        raise HandoffError('expected an object with "token" and, optionally, "secret_env"')
    token = document.get("token")
    if not isinstance(token, str) or not token or any(c.isspace() for c in token):
        raise HandoffError('"token" must be a string without spaces')
    secret_env = document.get("secret_env", {})
    if not isinstance(secret_env, dict) or not all(
        _env_name(k) and isinstance(v, str) and "\x00" not in v for k, v in secret_env.items()
    ):
        raise HandoffError('"secret_env" must map variable names to strings')
    return Handoff(token, dict(secret_env))


def _env_name(name: object) -> bool:
    return isinstance(name, str) and bool(name) and "=" not in name and "\x00" not in name
