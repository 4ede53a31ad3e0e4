"""Webhooks and their deliveries; each webhook's secret sealed to its row, never read back out."""

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, RowMapping, delete, func, insert, select, update

from corral.db import models
from corral.domain.clock import utcnow
from corral.errors import NotFoundError
from corral.sealing import KeyRing
from corral.store.secret_env import open_env, seal_env, webhook_owner

webhooks, deliveries = models.webhooks, models.webhook_deliveries
SECRET = "secret"  # noqa: S105 - the name the sealed value is stored under


@dataclass(frozen=True)
class Webhook:
    """Where notifications go, and for which rules (None: every rule)."""

    id: int
    url: str
    rules: list[str] | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One notification to one webhook, and how its sending went."""

    id: int
    webhook_id: int
    message_id: str
    alertname: str
    status: str
    body: str
    state: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


WEBHOOK_FIELDS = tuple(f.name for f in fields(Webhook))
DELIVERY_FIELDS = tuple(f.name for f in fields(Delivery))


def _webhook(row: RowMapping) -> Webhook:
    return Webhook(**{name: row[name] for name in WEBHOOK_FIELDS})


def _delivery(row: RowMapping) -> Delivery:
    return Delivery(**{name: row[name] for name in DELIVERY_FIELDS})


class WebhookStore:
    """Webhooks and their deliveries."""

    def __init__(self, engine: Engine, ring: KeyRing) -> None:
        self._engine = engine
        self._ring = ring

    def create(self, url: str, secret: str, rules: list[str] | None, enabled: bool) -> Webhook:
        """Store a new webhook; its secret is sealed to the row it gets."""
        now = utcnow()
        values: dict[str, Any] = dict(
            url=url, rules=rules, enabled=enabled, created_at=now, updated_at=now
        )
        with self._engine.begin() as conn:
            key = conn.execute(
                insert(webhooks).values(secret_env={}, **values)
            ).inserted_primary_key
            assert key is not None
            sealed = seal_env(self._ring, {SECRET: secret}, webhook_owner(key[0]))
            conn.execute(update(webhooks).where(webhooks.c.id == key[0]).values(secret_env=sealed))
        return Webhook(id=key[0], **values)

    def all(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        with self._engine.begin() as conn:
            rows = conn.execute(select(webhooks).order_by(webhooks.c.id)).mappings()
            return [_webhook(row) for row in rows]

    def get(self, webhook_id: int) -> Webhook:
        """One webhook; NotFoundError if there is none."""
        with self._engine.begin() as conn:
            row = (
                conn.execute(select(webhooks).where(webhooks.c.id == webhook_id)).mappings().first()
            )
        if row is None:
            raise NotFoundError(f"webhook {webhook_id} not found")
        return _webhook(row)

    def secret(self, webhook_id: int) -> str:
        """The webhook's secret, opened (for signing only: never for an answer)."""
        with self._engine.begin() as conn:
            stored = conn.execute(
                select(webhooks.c.secret_env).where(webhooks.c.id == webhook_id)
            ).scalar_one_or_none()
        if stored is None:
            raise NotFoundError(f"webhook {webhook_id} not found")
        return open_env(self._ring, stored, webhook_owner(webhook_id))[SECRET]

    def update(self, webhook_id: int, changes: dict[str, Any]) -> Webhook:
        """Change some of url, rules, enabled and secret; NotFoundError if there is none."""
        values = {k: v for k, v in changes.items() if k != SECRET}
        if SECRET in changes:
            values["secret_env"] = seal_env(
                self._ring, {SECRET: changes[SECRET]}, webhook_owner(webhook_id)
            )
        with self._engine.begin() as conn:
            done = conn.execute(
                update(webhooks)
                .where(webhooks.c.id == webhook_id)
                .values(**values, updated_at=utcnow())
            )
        if done.rowcount == 0:
            raise NotFoundError(f"webhook {webhook_id} not found")
        return self.get(webhook_id)

    def delete(self, webhook_id: int) -> None:
        """Delete a webhook and its deliveries; NotFoundError if there is none."""
        with self._engine.begin() as conn:
            conn.execute(delete(deliveries).where(deliveries.c.webhook_id == webhook_id))
            gone = conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
        if gone.rowcount == 0:
            raise NotFoundError(f"webhook {webhook_id} not found")

    def add_deliveries(self, rows: list[dict[str, Any]]) -> list[Delivery]:
        """Queue deliveries (webhook_id, message_id, alertname, status, body), due now."""
        now = utcnow()
        added = []
        with self._engine.begin() as conn:
            for row in rows:
                values = dict(
                    row,
                    state="pending",
                    attempts=0,
                    last_error=None,
                    next_attempt_at=now,
                    created_at=now,
                    delivered_at=None,
                )
                key = conn.execute(insert(deliveries).values(**values)).inserted_primary_key
                assert key is not None
                added.append(Delivery(id=key[0], **values))
        return added

    def due(self, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose next attempt is due, oldest first."""
        query = (
            select(deliveries)
            .where(deliveries.c.state == "pending", deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
        with self._engine.begin() as conn:
            return [_delivery(row) for row in conn.execute(query).mappings()]

    def next_due(self) -> datetime | None:
        """When the next pending delivery is due; None if none is pending."""
        query = select(func.min(deliveries.c.next_attempt_at)).where(
            deliveries.c.state == "pending"
        )
        with self._engine.begin() as conn:
            when: datetime | None = conn.execute(query).scalar_one_or_none()
        return when

    def record(self, delivery_id: int, **outcome: Any) -> None:
        """Store how an attempt went: state, attempts, last_error, next_attempt_at..."""
        with self._engine.begin() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**outcome))

    def deliveries(
        self, webhook_id: int | None = None, limit: int = 100, before_id: int | None = None
    ) -> list[Delivery]:
        """Deliveries newest first, of one webhook or all."""
        query = select(deliveries).order_by(deliveries.c.id.desc()).limit(limit)
        if webhook_id is not None:
            query = query.where(deliveries.c.webhook_id == webhook_id)
        if before_id is not None:
            query = query.where(deliveries.c.id < before_id)
        with self._engine.begin() as conn:
            return [_delivery(row) for row in conn.execute(query).mappings()]
