"""Validation of identifiers that end up in paths, URLs and process arguments."""

import re

from corral.errors import InvalidInputError

# A slug: safe as a file name, a URL segment, a container name and a label value.
WORKER_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9_-]{0,62})$"
_WORKER_ID_RE = re.compile(WORKER_ID_PATTERN)
WORKER_ID_RULE = "1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit"


def check_worker_id(worker_id: str) -> str:
    """Return ``worker_id`` if it is a valid slug, else raise InvalidInputError."""
    if not _WORKER_ID_RE.fullmatch(worker_id):
        raise InvalidInputError(f"invalid worker id {worker_id!r}: use {WORKER_ID_RULE}")
    return worker_id
