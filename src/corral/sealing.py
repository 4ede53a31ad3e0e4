"""Secrets sealed at rest: AES-256-GCM under the master's data keys, each value naming its key.

A sealed value reads ``sealed:1:<key id>:<data>``, the data being the base64 of a
random 96-bit nonce, the ciphertext and its tag. The format version, the key id and
the value's context (the row and field it belongs to) are authenticated with it: a
value moved to another row, or given another key id, does not open. A ring holds the
current key, which seals, and older keys, kept to open values until a rotation has
sealed them again under the current one.
"""

import base64
import binascii
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from corral.errors import CorralError

VERSION = "1"
PREFIX = f"sealed:{VERSION}:"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID = re.compile(r"[0-9a-f]{8}")
SEALED = re.compile(r"sealed:1:([0-9a-f]{8}):([A-Za-z0-9_-]+)")


class SealError(CorralError):
    """A sealed value cannot be opened: damaged, moved, or sealed under a key not held."""


@dataclass(frozen=True)
class DataKey:
    """One 256-bit key and its id; the key itself never shows in a repr."""

    key_id: str
    material: bytes = field(repr=False)

    @classmethod
    def generate(cls, taken: Iterable[str] = ()) -> "DataKey":
        """A fresh random key whose id differs from the ``taken`` ones."""
        used = set(taken)
        key_id = secrets.token_hex(4)
        while key_id in used:
            key_id = secrets.token_hex(4)
        return cls(key_id, AESGCM.generate_key(bit_length=KEY_BYTES * 8))


def is_sealed(value: str) -> bool:
    """Whether a stored value is in the sealed format (any key)."""
    return SEALED.fullmatch(value) is not None


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyRing:
    """Seals under the current key (the last one given), opens under any key it holds."""

    def __init__(self, keys: Sequence[DataKey]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self.keys = tuple(keys)
        self.current = self.keys[-1]
        self._ciphers = {k.key_id: AESGCM(k.material) for k in self.keys}

    def __repr__(self) -> str:
        return f"KeyRing({[k.key_id for k in self.keys]})"

    def seal(self, value: str, context: str) -> str:
        """The sealed form of ``value``, bound to ``context`` (where it is stored)."""
        key_id = self.current.key_id
        nonce = secrets.token_bytes(NONCE_BYTES)
        header = f"{PREFIX}{key_id}:"
        data = self._ciphers[key_id].encrypt(nonce, value.encode(), (header + context).encode())
        return header + _b64encode(nonce + data)

    def open(self, sealed: str, context: str) -> str:
        """The value sealed in ``sealed`` for ``context``; SealError if it does not open."""
        match = SEALED.fullmatch(sealed)
        if match is None:
            raise SealError("not a sealed value")
        key_id, data = match.groups()
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise SealError(f"sealed under key {key_id}, which is not in the data key file")
        try:
            raw = _b64decode(data)
        except (binascii.Error, ValueError):
            raise SealError(f"sealed under key {key_id} but damaged") from None
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise SealError(f"sealed under key {key_id} but damaged")
        aad = f"{PREFIX}{key_id}:{context}".encode()
        try:
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag:
            raise SealError(f"sealed under key {key_id} but damaged or moved") from None
        return plain.decode()

    def is_current(self, value: str) -> bool:
        """Whether ``value`` is sealed under the current key (nothing to do for a rotation)."""
        return value.startswith(self.current_prefix())

    def current_prefix(self) -> str:
        """How every value sealed under the current key begins."""
        return f"{PREFIX}{self.current.key_id}:"
