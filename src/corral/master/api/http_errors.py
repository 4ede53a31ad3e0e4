"""Map corral's errors and validation failures to answers of the one error shape."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from corral.errors import (
    ConflictError,
    CorralError,
    ForbiddenError,
    NotFoundError,
    UnavailableError,
)
from corral.master.api.error_answers import error, invalid
from corral.master.workers.supervisor import StaleInstanceError
from corral.protocol import STALE_INSTANCE

METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


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
    status = status_of(exc)
    if status == 422:
        # A refusal the schema could not express: about the request as a whole.
        return invalid([{"loc": [], "msg": str(exc), "type": "invalid_input"}])
    if isinstance(exc, StaleInstanceError):
        return error(status, str(exc), STALE_INSTANCE)
    return error(status, str(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        """422 with where and what, never the value."""
        return JSONResponse(invalid(list(exc.errors())), status_code=422)

    @app.exception_handler(CorralError)
    async def refused(_: Request, exc: CorralError) -> JSONResponse:
        """404, 409, 403, 422 or 503, with a message that says why."""
        return JSONResponse(error_body(exc), status_of(exc), error_headers(exc))

    @app.exception_handler(Exception)
    async def failed(_: Request, exc: Exception) -> JSONResponse:
        """500 in the same shape; the traceback goes to the master's log, not to the client."""
        return JSONResponse(error(500, "internal error: see the master's log"), 500)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """401, 404 of unknown routes, 405, 400 of unreadable bodies: the same shape."""
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = allowed_methods(request)
        return JSONResponse(error(exc.status_code, str(exc.detail)), exc.status_code, headers)


def allowed_methods(request: Request) -> str:
    """Every method served at the request's path: Starlette names only its first route's."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    )
