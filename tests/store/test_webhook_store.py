"""Webhooks, their deliveries and tuned rules on SQLite and PostgreSQL."""

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from corral.db import models
from corral.domain.clock import utcnow
from corral.errors import NotFoundError
from corral.sealing import DataKey, KeyRing, SealError
from corral.store.alert_rules import AlertRuleStore, RuleSettings
from corral.store.webhooks import WebhookStore

SECRET = "whsec_c2VjcmV0LWJ5dGVzLWZvci10ZXN0"


def delivery(webhook_id: int, message_id: str) -> dict[str, str | int]:
    return {
        "webhook_id": webhook_id,
        "message_id": message_id,
        "alertname": "worker_down",
        "status": "firing",
        "body": "{}",
    }


def test_a_secret_is_sealed_to_its_webhook_and_opens_only_there(
    engine: Engine, ring: KeyRing
) -> None:
    store = WebhookStore(engine, ring)
    one = store.create("http://127.0.0.1:9/a", SECRET, None, True)
    two = store.create("http://127.0.0.1:9/b", SECRET, ["worker_down"], False)
    assert [h.id for h in store.all()] == [one.id, two.id]
    assert store.get(two.id).rules == ["worker_down"] and not store.get(two.id).enabled
    assert store.secret(one.id) == SECRET
    with engine.begin() as conn:
        stored = conn.execute(select(models.webhooks.c.secret_env)).scalars().all()
    assert all(env["secret"].startswith("sealed:1:") for env in stored)
    assert SECRET not in str(stored)
    with engine.begin() as conn:  # a sealed value moved to another row does not open
        table = models.webhooks
        conn.execute(table.update().where(table.c.id == two.id).values(secret_env=stored[0]))
    with pytest.raises(SealError):
        store.secret(two.id)
    with pytest.raises(SealError):
        WebhookStore(engine, KeyRing([DataKey.generate()])).secret(one.id)


def test_deliveries_come_due_are_recorded_and_go_with_their_webhook(
    engine: Engine, ring: KeyRing
) -> None:
    store = WebhookStore(engine, ring)
    hook = store.create("http://127.0.0.1:9/a", SECRET, None, True)
    first, second = store.add_deliveries([delivery(hook.id, "msg_1"), delivery(hook.id, "msg_2")])
    now = utcnow()
    assert [d.message_id for d in store.due(now, 10)] == ["msg_1", "msg_2"]
    later = now + timedelta(seconds=30)
    store.record(first.id, attempts=1, last_error="HTTP 500", next_attempt_at=later)
    store.record(second.id, state="delivered", attempts=1, next_attempt_at=None, delivered_at=now)
    assert store.due(now, 10) == []
    assert store.next_due() == later
    (again,) = store.due(later, 10)
    assert (again.message_id, again.attempts, again.last_error) == ("msg_1", 1, "HTTP 500")
    assert [d.message_id for d in store.deliveries(hook.id)] == ["msg_2", "msg_1"]
    store.update(hook.id, {"secret": SECRET + "x", "enabled": False})
    assert store.secret(hook.id) == SECRET + "x" and not store.get(hook.id).enabled
    store.delete(hook.id)
    assert store.deliveries(None) == [] and store.next_due() is None
    with pytest.raises(NotFoundError):
        store.delete(hook.id)
    with pytest.raises(NotFoundError):
        store.update(hook.id, {"enabled": True})


def test_tuned_rules_replace_what_was_stored(engine: Engine) -> None:
    store = AlertRuleStore(engine)
    store.save(RuleSettings("queue_backlog", True, 10.0, 5.0, 60.0))
    saved = store.save(RuleSettings("queue_backlog", False, 20.0, 0.0, 120.0))
    (only,) = store.all()
    assert only == saved and (only.enabled, only.threshold) == (False, 20.0)
