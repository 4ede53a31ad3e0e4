"""Map corral's errors and validation failures to clear JSON answers."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from corral.errors import (
    ConflictError,
    CorralError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from corral.master.supervisor import StaleInstanceError
from corral.protocol import STALE_INSTANCE


def _validation_detail(errors: list[Any]) -> list[dict[str, Any]]:
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
    return 422


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with where and what, never the value."""
        return JSONResponse({"detail": _validation_detail(list(exc.errors()))}, status_code=422)

    @app.exception_handler(InvalidInputError)
    async def invalid_input(_: Request, exc: InvalidInputError) -> JSONResponse:
        """422 for input the schema could not judge alone."""
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(NotFoundError)
    async def not_found(_: Request, exc: NotFoundError) -> JSONResponse:
        """404 naming what is missing."""
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StaleInstanceError)
    async def stale(_: Request, exc: StaleInstanceError) -> JSONResponse:
        """409 with a code the worker acts on: register again."""
        return JSONResponse({"detail": str(exc), "code": STALE_INSTANCE}, status_code=409)

    @app.exception_handler(ForbiddenError)
    async def forbidden(_: Request, exc: ForbiddenError) -> JSONResponse:
        """403: refused for good; a worker stops retrying."""
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(ConflictError)
    async def conflict(_: Request, exc: ConflictError) -> JSONResponse:
        """409: the request clashes with the current state."""
        return JSONResponse({"detail": str(exc)}, status_code=409)
