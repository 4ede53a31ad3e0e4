"""The alert rules an operator tuned: one row per rule whose settings differ from the built-in."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, insert, select

from corral.db import models
from corral.domain.clock import utcnow

alert_rules = models.alert_rules


@dataclass(frozen=True)
class RuleSettings:
    """A rule's tunable settings as stored."""

    name: str
    enabled: bool
    threshold: float
    for_s: float
    repeat_interval_s: float
    updated_at: datetime | None = None


class AlertRuleStore:
    """Reads and writes tuned rules."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def all(self) -> list[RuleSettings]:
        """Every tuned rule."""
        with self._engine.begin() as conn:
            rows = conn.execute(select(alert_rules)).mappings()
            return [RuleSettings(**dict(row)) for row in rows]

    def save(self, settings: RuleSettings) -> RuleSettings:
        """Store a rule's settings in place of any before."""
        saved = RuleSettings(**{**vars(settings), "updated_at": utcnow()})
        with self._engine.begin() as conn:
            conn.execute(delete(alert_rules).where(alert_rules.c.name == settings.name))
            conn.execute(insert(alert_rules).values(**vars(saved)))
        return saved
