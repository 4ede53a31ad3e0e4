"""The body of a notification: Alertmanager's webhook payload, version 4."""

import hashlib
import json
from datetime import datetime

from corral.master.alerts.rules import RULES
from corral.master.alerts.states import Alert

TEST_ALERT = "corral_webhook_test"
# Alertmanager's "no end yet".
ZERO_TIME = "0001-01-01T00:00:00Z"


def _time(when: datetime | None) -> str:
    return ZERO_TIME if when is None else when.isoformat().replace("+00:00", "Z")


def fingerprint(labels: dict[str, str]) -> str:
    """A stable 16-hex-digit id of a label set."""
    text = json.dumps(labels, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def body(alert: Alert, status: str, receiver: str, base_url: str) -> str:
    """The JSON body notifying one alert's ``status`` ("firing" or "resolved")."""
    labels = alert.all_labels
    rule = RULES.get(alert.alertname)
    annotations = {
        "summary": rule.summary if rule else "A test notification: nothing is wrong.",
        "description": f"{rule.threshold_means}: {alert.value:g}" if rule else "",
    }
    group = {"alertname": alert.alertname}
    item = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": _time(alert.active_at),
        "endsAt": _time(alert.resolved_at if status == "resolved" else None),
        "generatorURL": f"{base_url}/alerts",
        "fingerprint": fingerprint(labels),
    }
    return json.dumps(
        {
            "version": "4",
            "groupKey": "{}:" + "{" + f'alertname="{alert.alertname}"' + "}",
            "truncatedAlerts": 0,
            "status": status,
            "receiver": receiver,
            "groupLabels": group,
            "commonLabels": labels,
            "commonAnnotations": annotations,
            "externalURL": base_url,
            "alerts": [item],
        },
        separators=(",", ":"),
    )
