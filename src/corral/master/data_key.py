"""The data key file, ``DATA/data.key``: the keys that seal the secrets stored in the database.

One line per key, ``<key id> <key>``, the last one sealing. It is created at the first
start (mode 0600) and only ever replaced whole, through a renamed temporary file, so a
crash leaves the old file or the new one. It is kept apart from ``secret.key``: the
workers' tokens derive from that one, and a new data key must not change them.
"""

import base64
import binascii
import contextlib
import logging
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from corral.errors import MasterStartError
from corral.sealing import KEY_BYTES, KEY_ID, DataKey, KeyRing

log = logging.getLogger("corral.master")
DATA_KEY = "data.key"
HEADER = (
    "# corral data key: it seals the secrets stored in the database. Back it up with the\n"
    "# database: without it they cannot be read. One key per line; the last one seals.\n"
)


class DataKeyError(MasterStartError):
    """The data key file cannot be read; the message says why, never what it holds."""


def data_key_path(data_dir: Path) -> Path:
    """Where the data key file lives."""
    return data_dir / DATA_KEY


def _parse(path: Path, text: str) -> list[DataKey]:
    """The keys of the file, oldest first; DataKeyError if it is not as this module writes it."""
    keys: list[DataKey] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split()
        where = f"{path} line {number}"
        if len(parts) != 2 or KEY_ID.fullmatch(parts[0]) is None:
            raise DataKeyError(f"{where}: expected '<8 hex digits> <key>'")
        try:
            material = base64.urlsafe_b64decode(parts[1])
        except (binascii.Error, ValueError):
            raise DataKeyError(f"{where}: the key is not base64") from None
        if len(material) != KEY_BYTES:
            raise DataKeyError(f"{where}: the key is not {KEY_BYTES} bytes long")
        if any(k.key_id == parts[0] for k in keys):
            raise DataKeyError(f"{where}: key {parts[0]} appears twice")
        keys.append(DataKey(parts[0], material))
    if not keys:
        raise DataKeyError(f"{path} holds no key")
    return keys


def _text(keys: Sequence[DataKey]) -> str:
    lines = [f"{k.key_id} {base64.urlsafe_b64encode(k.material).decode()}\n" for k in keys]
    return HEADER + "".join(lines)


def _write_new(path: Path, keys: Sequence[DataKey]) -> Path:
    """A synced temporary file beside ``path`` holding ``keys`` (mode 0600)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(_text(keys))
        f.flush()
        os.fsync(f.fileno())
    return tmp


def _sync_folder(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_ring(data_dir: Path, keys: Sequence[DataKey]) -> KeyRing:
    """Replace the file with ``keys`` (the last one seals), atomically; return their ring."""
    path = data_key_path(data_dir)
    tmp = _write_new(path, keys)
    os.replace(tmp, path)
    _sync_folder(data_dir)
    return KeyRing(keys)


def _create(data_dir: Path) -> None:
    """Create the file with one fresh key, unless another process just did."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_key_path(data_dir)
    tmp = _write_new(path, [DataKey.generate()])
    try:
        os.link(tmp, path)  # unlike a rename, never replaces a file made meanwhile
        _sync_folder(data_dir)
        log.info("created the data key %s", path)
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def load_ring(data_dir: Path) -> KeyRing:
    """The data keys, from the file; the file is created with one key at the first start."""
    path = data_key_path(data_dir)
    if not path.exists():
        _create(data_dir)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DataKeyError(f"cannot read {path}: {exc.strerror}") from None
    return KeyRing(_parse(path, text))
