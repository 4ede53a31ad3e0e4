"""Map corral's errors and validation failures to clear JSON answers."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from corral.errors import (
    ConflictError,
    CorralError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
)
from corral.master.workers.supervisor import StaleInstanceError
from corral.protocol import STALE_INSTANCE, UNAVAILABLE


def validation_detail(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic errors without the offending input: it may carry secrets."""
    return [{"loc": e.get("loc"), "msg": e.get("msg"), "type": e.get("type")} for e in errors]


def status_of(exc: CorralError) -> int:
    """The HTTP status an error maps to."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, ForbiddenError):
        return 403
    if isinstance(exc, UnavailableError):
        return 503
    return 422


def error_headers(exc: CorralError) -> dict[str, str]:
    """Retry-After on a 503: how soon the same request may succeed."""
    if isinstance(exc, UnavailableError):
        return {"Retry-After": str(max(1, round(exc.retry_after_s)))}
    return {}


def error_body(exc: CorralError) -> dict[str, Any]:
    """The JSON answer for an error; a stale instance carries the code workers act on."""
    if isinstance(exc, StaleInstanceError):
        return {"detail": str(exc), "code": STALE_INSTANCE}
    if isinstance(exc, UnavailableError):
        return {"detail": str(exc), "code": UNAVAILABLE}
    return {"detail": str(exc)}


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with where and what, never the value."""
        return JSONResponse({"detail": validation_detail(list(exc.errors()))}, status_code=422)

    @app.exception_handler(CorralError)
    async def refused(_: Request, exc: CorralError) -> JSONResponse:
        """404, 409, 403, 422 or 503, with a message that says why."""
        return JSONResponse(error_body(exc), status_of(exc), error_headers(exc))
