"""GET /metrics: the Prometheus text exposition (admin token, like every route)."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from corral.errors import UnavailableError
from corral.master.api.deps import services
from corral.master.api.error_answers import answers
from corral.master.api.prometheus import CONTENT_TYPE, exposition
from corral.master.services import Services

router = APIRouter(tags=["metrics"], responses=answers(401))


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}},
)
async def metrics(svc: Annotated[Services, Depends(services)]) -> Response:
    """Jobs and workers in the Prometheus text format; a scrape config sends the bearer token."""
    try:
        stored = await svc.db.read(svc.db.jobs.count_by_state)
    except UnavailableError:
        stored = {}  # the live figures still answer; finished jobs count 0 meanwhile
    return Response(exposition(svc, stored), media_type=CONTENT_TYPE)
