"""Where the master is and how its HTTPS certificate is trusted, for the client and the CLI.

Given options first, then CORRAL_URL, CORRAL_CA and CORRAL_FINGERPRINT, then what a
local master serving HTTPS left in its data folder (its URL and its certificate's pin).
"""

import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from corral.client.errors import ClientError
from corral.tls_trust import client_context

DEFAULT_URL = "http://127.0.0.1:8700"
# Written by a master serving HTTPS: {"url": ..., "fingerprint": ...}.
LOCAL_FILE = "client-tls.json"


class TrustError(ClientError):
    """The CA bundle or the fingerprint given cannot be used."""


@dataclass(frozen=True)
class Target:
    """The master's base URL and how its certificate is trusted (neither: the system's CAs).

    The system's, not certifi's: a private CA installed on the machine is trusted.
    """

    url: str
    ca: str | None = None
    fingerprint: str | None = None

    def verify(self) -> ssl.SSLContext | bool:
        """What httpx verifies the master's certificate with; TrustError for a bad CA or pin."""
        if not self.url.startswith("https://"):
            return True
        try:
            return client_context(self.ca, self.fingerprint)
        except ValueError as exc:
            raise TrustError(str(exc)) from exc
        except OSError as exc:
            raise TrustError(f"CA bundle {self.ca}: {exc}") from exc


def _local(folder: Path) -> dict[str, str]:
    """What a local HTTPS master left for its clients; empty when it left nothing."""
    try:
        found = json.loads((folder / LOCAL_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(v, str)}


def resolve(url: str | None, ca: str | None, fingerprint: str | None, folder: Path) -> Target:
    """The master to talk to and how to trust it."""
    local = _local(folder)
    chosen = (url or os.environ.get("CORRAL_URL") or local.get("url") or DEFAULT_URL).rstrip("/")
    chosen = chosen.removesuffix("/api/v1")
    ca = ca or os.environ.get("CORRAL_CA") or None
    fingerprint = fingerprint or os.environ.get("CORRAL_FINGERPRINT") or None
    if ca is None and fingerprint is None and local.get("url") == chosen:
        fingerprint = local.get("fingerprint")
    return Target(chosen, ca, fingerprint)
