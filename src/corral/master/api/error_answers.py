"""The one shape of every error answer, and its declaration in the OpenAPI document.

Every error is ``{"detail": ..., "code": ...}``: ``code`` is a word programs can act
on, ``detail`` says why in words, except in a 422 where it lists each problem of
the request (where, what, and its kind; never the value sent, which may be a secret).
"""

from typing import Any, Literal

from pydantic import BaseModel

from corral.domain.ids import WORKER_ID_PATTERN, WORKER_ID_RULE

ErrorCode = Literal[
    "bad_request",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "stale_instance",  # protocol.STALE_INSTANCE: the worker registers again
    "too_large",
    "too_many_attempts",
    "unavailable",  # protocol.UNAVAILABLE: nothing was taken, send it again later
    "error",
]
CODES: dict[int, ErrorCode] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "too_many_attempts",
    503: "unavailable",
}
WHEN = {
    400: "The body could not be read (not UTF-8, or a number too long to parse).",
    401: "The token is missing or wrong.",
    403: "Not allowed: a worker speaking for another, or a cross-origin change by a session.",
    404: "No such job or worker.",
    409: "The request clashes with the current state; `stale_instance` for a replaced worker.",
    413: "The body is larger than the master's limit (`max_body_bytes`).",
    422: "The request is invalid; `detail` lists every problem.",
    429: "Too many failed attempts from this address: try again after Retry-After.",
    503: "The database cannot answer in time: nothing was done; try again after Retry-After.",
}


class ErrorOut(BaseModel):
    """An error answer: what went wrong in words, and a code."""

    detail: str
    code: ErrorCode


class Problem(BaseModel):
    """One problem: where (``["body", "cpus"]``; empty for the whole request), what, its kind."""

    loc: list[str | int]
    msg: str
    type: str


class InvalidOut(BaseModel):
    """A 422 answer: every problem of the request."""

    detail: list[Problem]
    code: Literal["invalid"]


def error(status: int, detail: str, code: str | None = None) -> dict[str, Any]:
    """The body of an error answer with ``status``."""
    return {"detail": detail, "code": code or CODES.get(status, "error")}


def invalid(problems: list[Any]) -> dict[str, Any]:
    """The body of a 422: each problem's place, message and kind, never the value sent."""
    detail = [{"loc": p.get("loc", []), "msg": _said(p), "type": p.get("type")} for p in problems]
    return {"detail": detail, "code": "invalid"}


def _said(problem: Any) -> Any:
    """A problem's message; a pattern people know by its words is named by them, not its regex."""
    pattern = (problem.get("ctx") or {}).get("pattern")
    if pattern == WORKER_ID_PATTERN:
        return f"a worker id is {WORKER_ID_RULE}"
    return problem.get("msg")


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` declaring the error answers a route can give.

    Wherever a token can be refused, so can a session's cross-origin change (403) and a
    peer that keeps failing (429).
    """
    every = set(statuses) | ({403, 429} if 401 in statuses else set())
    return {
        status: {"model": InvalidOut if status == 422 else ErrorOut, "description": WHEN[status]}
        for status in sorted(every)
    }
