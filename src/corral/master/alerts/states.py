"""One alert's state machine: inactive -> pending -> firing -> resolved.

A breach makes an alert pending; one that lasts the rule's ``for`` makes it firing.
A firing alert whose breach ends is resolved; a pending one simply goes away. Pure:
the evaluator gives the time and says what to notify.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class AlertState(StrEnum):
    """Where an alert stands."""

    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass
class Alert:
    """One alert of a rule, told apart from the rule's others by its labels."""

    alertname: str
    labels: dict[str, str]
    state: AlertState
    since: datetime  # when it entered its state
    active_at: datetime  # when its breach began
    value: float
    fired_at: datetime | None = None
    last_sent_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def all_labels(self) -> dict[str, str]:
        """Its labels with ``alertname``."""
        return {"alertname": self.alertname, **self.labels}


def step(
    alert: Alert | None,
    key: tuple[str, dict[str, str]],
    breach: float | None,
    now: datetime,
    for_s: float,
    repeat_s: float,
) -> tuple[Alert | None, str | None]:
    """The alert after one evaluation, and what to notify ("firing", "resolved" or None).

    ``key`` is the alert's name and labels; ``breach`` the figure when the rule
    breaches, None when it does not.
    """
    if breach is None:
        if alert is None or alert.state is AlertState.RESOLVED:
            return alert, None
        if alert.state is AlertState.PENDING:
            return None, None
        alert.state, alert.since, alert.resolved_at = AlertState.RESOLVED, now, now
        return alert, "resolved"
    if alert is None or alert.state is AlertState.RESOLVED:
        alert = Alert(key[0], key[1], AlertState.PENDING, now, now, breach)
    alert.value = breach
    if alert.state is AlertState.PENDING and now - alert.active_at >= timedelta(seconds=for_s):
        alert.state, alert.since, alert.fired_at = AlertState.FIRING, now, now
        alert.last_sent_at = now
        return alert, "firing"
    sent = alert.last_sent_at
    if alert.state is AlertState.FIRING and sent and now - sent >= timedelta(seconds=repeat_s):
        alert.last_sent_at = now
        return alert, "firing"
    return alert, None
