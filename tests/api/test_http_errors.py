"""Every error answer has the one shape, a bug's 500 included, and says nothing of the bug."""

import asyncio

import httpx
from fastapi import FastAPI

from corral.errors import ConflictError, InvalidInputError
from corral.master.api.http_errors import install_error_handlers


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("secret-ish internals")

    @app.get("/conflict")
    async def conflict() -> None:
        raise ConflictError("it clashes")

    @app.get("/invalid")
    async def invalid() -> None:
        raise InvalidInputError("the fleet cannot run it")

    return app


def _get(path: str) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    return asyncio.run(go())


def test_a_bug_answers_500_in_the_same_shape_without_its_message() -> None:
    r = _get("/bug")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error: see the master's log", "code": "error"}


def test_domain_errors_keep_the_shape() -> None:
    assert _get("/conflict").json() == {"detail": "it clashes", "code": "conflict"}
    r = _get("/invalid")
    assert r.status_code == 422
    assert r.json() == {
        "detail": [{"loc": [], "msg": "the fleet cannot run it", "type": "invalid_input"}],
        "code": "invalid",
    }
    r = _get("/nowhere")
    assert r.status_code == 404 and r.json() == {"detail": "Not Found", "code": "not_found"}
