"""Delivering notifications to webhooks: stored first, sent by their own task, retried.

Each delivery is a row (pending, delivered or dead) before any attempt, so a master
that stops loses none: the next one sends what is still pending. Notices raised while
the database is away wait in memory until it is back. A connection error,
a timeout, a 429 or a 5xx is tried again after an exponential backoff with jitter,
with the same webhook-id; any other answer, or the last attempt, ends it.
"""

import asyncio
import contextlib
import copy
import logging
import time
from collections import Counter
from datetime import datetime, timedelta

import httpx

from corral.domain.clock import utcnow
from corral.domain.restart_policy import RestartPolicy
from corral.errors import NotFoundError, UnavailableError
from corral.master.alerts import payload, signing
from corral.master.alerts.states import Alert, AlertState
from corral.master.database import Database
from corral.sealing import SealError
from corral.settings import MasterSettings
from corral.store.webhooks import Delivery, Webhook

log = logging.getLogger("corral.master")
BATCH = 20
# Longest idle wait: a delivery queued by another path is found by then.
IDLE_S = 5.0
MAX_BACKOFF_S = 600.0
RESULTS = ("delivered", "failed", "dead")


def wants(hook: Webhook, alertname: str) -> bool:
    """Whether a webhook hears about a rule's alerts."""
    return hook.enabled and (hook.rules is None or alertname in hook.rules)


class Courier:
    """Queues notifications in the database and sends them."""

    def __init__(self, db: Database, settings: MasterSettings) -> None:
        self.db = db
        self.settings = settings
        self.results: Counter[str] = Counter(dict.fromkeys(RESULTS, 0))
        self._backoff = RestartPolicy(
            settings.webhook_retry_base_s, settings.webhook_max_attempts, max_delay_s=MAX_BACKOFF_S
        )
        self._notices: list[tuple[Alert, str]] = []
        self._wake = asyncio.Event()

    def _row(self, hook: Webhook, alert: Alert, status: str) -> dict[str, str | int]:
        base = self.settings.url
        return {
            "webhook_id": hook.id,
            "message_id": signing.new_message_id(),
            "alertname": alert.alertname,
            "status": status,
            "body": payload.body(alert, status, f"webhook-{hook.id}", base),
        }

    def notify(self, notices: list[tuple[Alert, str]]) -> None:
        """Take notices to store as deliveries, one per webhook that wants each (never waits)."""
        # Copies: the alerts change on, the notices say how they were.
        self._notices += [(copy.copy(alert), status) for alert, status in notices]
        self._wake.set()

    async def test(self, hook: Webhook) -> Delivery:
        """Queue a test notification to one webhook."""
        now = utcnow()
        alert = Alert(payload.TEST_ALERT, {}, AlertState.FIRING, now, now, 0.0)
        row = {**self._row(hook, alert, "firing"), "status": "test"}
        (delivery,) = await self.db.write(self.db.webhooks.add_deliveries, [row])
        self._wake.set()
        return delivery

    async def _save(self) -> None:
        """Store the notices taken as deliveries; kept in memory while the database is away."""
        if not self._notices:
            return
        taken = list(self._notices)
        hooks = await self.db.run(self.db.webhooks.all)
        rows = [
            self._row(hook, alert, status)
            for alert, status in taken
            for hook in hooks
            if wants(hook, alert.alertname)
        ]
        if rows:
            await self.db.run(self.db.webhooks.add_deliveries, rows)
        del self._notices[: len(taken)]  # more may have come while this waited

    async def run(self) -> None:
        """Send due deliveries for the master's whole life (a background task)."""
        timeout = httpx.Timeout(self.settings.webhook_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
            while True:
                self._wake.clear()
                try:
                    if await self._round(client):
                        continue
                    after = await self.db.run(self.db.webhooks.next_due)
                except UnavailableError as exc:
                    # Nothing is lost: notices stay in memory, deliveries in their rows.
                    log.warning("webhook deliveries wait for the database: %s", exc)
                    after = None
                await self._idle(after)

    async def _round(self, client: httpx.AsyncClient) -> bool:
        """Store new notices, then send what is due; whether anything was."""
        await self._save()
        due = await self.db.run(self.db.webhooks.due, utcnow(), BATCH)
        await asyncio.gather(*(self._send(client, d) for d in due))
        return bool(due)

    async def _idle(self, after: datetime | None) -> None:
        """Wait for a notice or a test, the next retry (``after``), or IDLE_S."""
        wait = IDLE_S if after is None else (after - utcnow()).total_seconds()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(0.0, min(wait, IDLE_S)))

    async def _send(self, client: httpx.AsyncClient, d: Delivery) -> None:
        """One attempt of one delivery, and its outcome stored."""
        try:
            hook = await self.db.run(self.db.webhooks.get, d.webhook_id)
            secret = await self.db.run(self.db.webhooks.secret, d.webhook_id)
        except (NotFoundError, SealError) as exc:
            await self._ended(d, "dead", f"cannot sign: {exc}")
            return
        body = d.body.encode()
        headers = signing.headers(secret, d.message_id, int(time.time()), body)
        try:
            answer = await client.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            await self._retry(d, f"{type(exc).__name__}: {exc}"[:300])
            return
        if answer.is_success:
            await self._ended(d, "delivered", None)
        elif answer.status_code >= 500 or answer.status_code == 429:
            await self._retry(d, f"HTTP {answer.status_code}")
        else:
            await self._ended(d, "dead", f"HTTP {answer.status_code}")

    async def _retry(self, d: Delivery, error: str) -> None:
        """A failed attempt: again after the backoff, or dead after the last one."""
        attempts = d.attempts + 1
        if attempts >= self.settings.webhook_max_attempts:
            await self._ended(d, "dead", error)
            return
        self.results["failed"] += 1
        delay = self._backoff.delay_s(attempts)
        log.warning(
            "webhook %d: delivery %s failed (%s); again in %.1f s",
            d.webhook_id,
            d.message_id,
            error,
            delay,
        )
        await self.db.run(
            self.db.webhooks.record,
            d.id,
            attempts=attempts,
            last_error=error,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
        )

    async def _ended(self, d: Delivery, state: str, error: str | None) -> None:
        """A delivery done: delivered, or given up."""
        self.results[state] += 1
        if state == "dead":
            log.error("webhook %d: delivery %s given up: %s", d.webhook_id, d.message_id, error)
        now = utcnow()
        await self.db.run(
            self.db.webhooks.record,
            d.id,
            state=state,
            attempts=d.attempts + 1,
            last_error=error,
            next_attempt_at=None,
            delivered_at=now if state == "delivered" else None,
        )
