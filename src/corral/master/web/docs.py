"""The API's documentation pages, Swagger UI and ReDoc, served from the package (no CDN)."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from corral.master.web.templating import environment

router = APIRouter(include_in_schema=False)
templates = environment()


@router.get("/docs")
async def swagger(request: Request) -> HTMLResponse:
    """Swagger UI over the master's OpenAPI document."""
    return HTMLResponse(templates.get_template("docs.html").render(request=request))


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the master's OpenAPI document."""
    return HTMLResponse(templates.get_template("redoc.html").render(request=request))
