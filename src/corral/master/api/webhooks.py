"""Webhooks: where alerts are sent (signed with a write-only secret), tests, and deliveries."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, Field, StringConstraints

from corral.master.alerts import signing
from corral.master.alerts.rules import RuleName
from corral.master.api.deps import services
from corral.master.api.error_answers import answers
from corral.master.api.schemas import MAX_ID, Strict
from corral.master.services import Services
from corral.store.webhooks import Delivery, Webhook

Svc = Annotated[Services, Depends(services)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="the webhook's id")]
PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
# http or https only, a plain host name or address, a port, then printable ASCII.
URL_PATTERN = rf"^https?://[A-Za-z0-9.-]{{1,253}}(:{PORT})?(/[!-~]*)?$"
Url = Annotated[str, StringConstraints(max_length=2000, pattern=URL_PATTERN)]
B64 = "[A-Za-z0-9+/]"
Secret = Annotated[
    str,
    StringConstraints(pattern=rf"^whsec_({B64}{{4}}){{4,64}}({B64}{{2}}==|{B64}{{3}}=)?$"),
]
Rules = Annotated[list[RuleName], Field(max_length=16)]
router = APIRouter(prefix="/webhooks", tags=["alerts"], responses=answers(401, 503))


class WebhookCreate(Strict):
    """Body of POST /webhooks; a secret left out is made and answered once."""

    url: Url
    secret: Secret | None = Field(None, description="`whsec_` + base64 of 16 bytes or more")
    rules: Rules | None = Field(None, description="the rules it hears about; null: every rule")
    enabled: bool = True


class WebhookUpdate(Strict):
    """Body of PATCH /webhooks/{id}: only the fields given change (rules null: every rule)."""

    url: Url | None = None
    secret: Secret | None = None
    rules: Rules | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    """A webhook as the API shows it: never its secret."""

    id: int
    url: str
    rules: list[str] | None
    enabled: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, hook: Webhook) -> "WebhookOut":
        """The answer for one webhook."""
        return cls(**vars(hook))


class WebhookCreated(WebhookOut):
    """A new webhook, with its secret when the master made it (shown this once)."""

    secret: str | None


class DeliveryOut(BaseModel):
    """One notification to a webhook: its webhook-id, and how sending it went."""

    id: int
    webhook_id: int
    message_id: str
    alertname: str
    status: str
    state: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, d: Delivery) -> "DeliveryOut":
        """The answer for one delivery (its body is the notification, not repeated here)."""
        return cls(**{k: v for k, v in vars(d).items() if k != "body"})


class DeliveryPage(BaseModel):
    """Deliveries newest first; pass next_before_id as before_id for the next page."""

    deliveries: list[DeliveryOut]
    next_before_id: int | None


@router.post("", status_code=201, response_model=WebhookCreated, responses=answers(400, 413, 422))
async def create(body: WebhookCreate, svc: Svc) -> WebhookCreated:
    """Add a webhook; deliveries are signed the Standard Webhooks way with its secret."""
    secret = body.secret or signing.new_secret()
    rules = None if body.rules is None else list(dict.fromkeys(str(r) for r in body.rules))
    hook = await svc.db.write(svc.db.webhooks.create, body.url, secret, rules, body.enabled)
    shown = None if body.secret else secret
    return WebhookCreated(**WebhookOut.of(hook).model_dump(), secret=shown)


@router.get("", response_model=list[WebhookOut])
async def list_webhooks(svc: Svc) -> list[WebhookOut]:
    """Every webhook, oldest first."""
    return [WebhookOut.of(h) for h in await svc.db.read(svc.db.webhooks.all)]


@router.get("/{webhook_id}", response_model=WebhookOut, responses=answers(404, 422))
async def get(webhook_id: IdPath, svc: Svc) -> WebhookOut:
    """One webhook."""
    return WebhookOut.of(await svc.db.read(svc.db.webhooks.get, webhook_id))


@router.patch("/{webhook_id}", response_model=WebhookOut, responses=answers(400, 404, 413, 422))
async def update(webhook_id: IdPath, body: WebhookUpdate, svc: Svc) -> WebhookOut:
    """Change the given fields."""
    changes = body.model_dump(exclude_unset=True)
    for name in ("url", "secret", "enabled"):
        if name in changes and changes[name] is None:
            del changes[name]
    return WebhookOut.of(await svc.db.write(svc.db.webhooks.update, webhook_id, changes))


@router.delete("/{webhook_id}", status_code=204, responses=answers(404, 422))
async def delete(webhook_id: IdPath, svc: Svc) -> Response:
    """Delete a webhook and its deliveries, pending ones included."""
    await svc.db.write(svc.db.webhooks.delete, webhook_id)
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/test", status_code=202, response_model=DeliveryOut, responses=answers(404, 422)
)
async def test(webhook_id: IdPath, svc: Svc) -> DeliveryOut:
    """Queue a test notification; its delivery shows how sending it went."""
    hook = await svc.db.read(svc.db.webhooks.get, webhook_id)
    return DeliveryOut.of(await svc.courier.test(hook))


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage, responses=answers(404, 422))
async def deliveries(
    webhook_id: IdPath,
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> DeliveryPage:
    """The webhook's deliveries, newest first."""
    await svc.db.read(svc.db.webhooks.get, webhook_id)
    found = await svc.db.read(svc.db.webhooks.deliveries, webhook_id, limit, before_id)
    after = found[-1].id if len(found) == limit else None
    return DeliveryPage(deliveries=[DeliveryOut.of(d) for d in found], next_before_id=after)
