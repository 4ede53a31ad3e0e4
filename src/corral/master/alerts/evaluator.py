"""The periodic evaluation of every rule: alerts move through their states, notices go out.

Runs from memory (see snapshot); what it notifies is handed to the courier, which
stores it before sending, so evaluation never waits on a receiver.
"""

import logging
from datetime import datetime, timedelta

from corral.domain.clock import utcnow
from corral.master.alerts.checks import CHECKS
from corral.master.alerts.courier import Courier
from corral.master.alerts.rules import RULES, Rule
from corral.master.alerts.snapshot import Windows, take
from corral.master.alerts.states import Alert, AlertState, step
from corral.master.database import Database
from corral.master.jobs.scheduler import Scheduler
from corral.master.workers.lifecycle import LifecycleManager
from corral.store.alert_rules import RuleSettings

log = logging.getLogger("corral.master")
# How long a resolved alert stays listed.
RESOLVED_KEPT_S = 900.0
Key = tuple[str, frozenset[tuple[str, str]]]


class AlertEvaluator:
    """The rules as tuned, the alerts they raised, and the step that evaluates them."""

    def __init__(
        self, db: Database, lifecycle: LifecycleManager, scheduler: Scheduler, courier: Courier
    ) -> None:
        self.db = db
        self.lifecycle = lifecycle
        self.scheduler = scheduler
        self.courier = courier
        self.rules: dict[str, Rule] = dict(RULES)
        self.alerts: dict[Key, Alert] = {}
        self._windows = Windows()

    async def load(self) -> None:
        """Apply the settings tuned before this start."""
        for saved in await self.db.run(self.db.alert_rules.all):
            if saved.name in self.rules:
                self.tune(saved)

    def tune(self, saved: RuleSettings) -> Rule:
        """Take a rule's new settings (already stored)."""
        rule = self.rules[saved.name].tuned(
            enabled=saved.enabled,
            threshold=saved.threshold,
            for_s=saved.for_s,
            repeat_interval_s=saved.repeat_interval_s,
        )
        self.rules[saved.name] = rule
        return rule

    def firing(self) -> dict[str, int]:
        """How many alerts of each rule fire now."""
        counts = dict.fromkeys(self.rules, 0)
        for alert in self.alerts.values():
            if alert.state is AlertState.FIRING:
                counts[alert.alertname] += 1
        return counts

    def step(self) -> None:
        """Evaluate every rule once and notify what changed (a periodic step)."""
        now = utcnow()
        snap = take(self.lifecycle, self.scheduler, self._windows)
        notices: list[tuple[Alert, str]] = []
        for rule in self.rules.values():
            breaches = CHECKS[rule.name](snap, rule.threshold) if rule.enabled else []
            found = {frozenset(labels.items()): (labels, value) for labels, value in breaches}
            known = {key for name, key in self.alerts if name == rule.name}
            for key in known | set(found):
                labels, value = found.get(key, (dict(key), None))
                before = self.alerts.get((rule.name, key))
                alert, notice = step(
                    before, (rule.name, labels), value, now, rule.for_s, rule.repeat_interval_s
                )
                if alert is None:
                    self.alerts.pop((rule.name, key), None)
                    continue
                self.alerts[(rule.name, key)] = alert
                if notice is not None:
                    log.warning("alert %s: %s %s (%g)", notice, rule.name, labels, alert.value)
                    notices.append((alert, notice))
        self._forget_resolved(now)
        if notices:
            self.courier.notify(notices)

    def _forget_resolved(self, now: datetime) -> None:
        """Drop alerts resolved long enough ago."""
        kept = timedelta(seconds=RESOLVED_KEPT_S)
        for key, alert in list(self.alerts.items()):
            if alert.state is AlertState.RESOLVED and now - alert.since > kept:
                del self.alerts[key]
