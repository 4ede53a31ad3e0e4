"""What can go wrong when talking to the master, as exceptions with the master's explanation."""

import ssl
from typing import Any

import httpx


class ClientError(Exception):
    """Anything that kept a request from getting an answer it could use."""


class MasterUnreachableError(ClientError):
    """The master could not be reached (refused, timed out, connection dropped)."""


class MasterUntrustedError(ClientError):
    """The master's certificate failed verification: no request was sent."""


def transport_error(url: str, exc: Exception, doing: str = "reach") -> ClientError:
    """The client error for a failed connection: an untrusted certificate says how to fix it."""
    bad = untrusted(exc)
    if bad is None:
        return MasterUnreachableError(f"cannot {doing} the master at {url}: {exc}")
    reason = getattr(bad, "verify_message", None) or str(bad)
    return MasterUntrustedError(
        f"cannot verify the master's certificate at {url}: {reason}; nothing was sent. "
        "Give its CA bundle (--ca FILE, CORRAL_CA) or the fingerprint it prints at start "
        "(--fingerprint SHA256:..., CORRAL_FINGERPRINT)"
    )


def untrusted(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind a connection error, if that is what it was."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class ApiError(ClientError):
    """The master answered with an error status; ``detail`` is its explanation."""

    def __init__(self, status: int, detail: Any) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"{status}: {format_detail(detail)}")


def format_detail(detail: Any) -> str:
    """A one-line rendering of an error detail, including FastAPI's validation lists."""
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc") or () if p != "body")
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def raise_for_status(response: httpx.Response) -> None:
    """ApiError with the master's ``detail`` for any 4xx or 5xx answer."""
    if not response.is_error:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    raise ApiError(response.status_code, detail or response.text or response.reason_phrase)
