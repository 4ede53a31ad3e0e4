"""Alert rules (listed, tuned, enabled or disabled) and the alerts they raise now."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from corral.master.alerts.rules import Rule, RuleName
from corral.master.alerts.states import Alert
from corral.master.api.deps import services
from corral.master.api.error_answers import answers
from corral.master.api.schemas import Strict
from corral.master.services import Services
from corral.store.alert_rules import RuleSettings

Svc = Annotated[Services, Depends(services)]
NamePath = Annotated[RuleName, Path(description="the rule's name")]
router = APIRouter(tags=["alerts"], responses=answers(401))


class RuleOut(BaseModel):
    """A rule: what it watches, its settings, and how many of its alerts fire."""

    name: str
    summary: str
    threshold_means: str
    enabled: bool
    threshold: float
    for_s: float
    repeat_interval_s: float
    firing: int

    @classmethod
    def of(cls, rule: Rule, firing: int) -> "RuleOut":
        """The answer for one rule."""
        return cls(**vars(rule), firing=firing)


class RuleList(BaseModel):
    """Every built-in rule."""

    rules: list[RuleOut]


class RulePatch(Strict):
    """Body of PATCH /alert-rules/{name}: only the settings given change."""

    enabled: bool | None = None
    threshold: Annotated[float, Field(ge=0, le=1e12)] | None = None
    for_s: Annotated[float, Field(ge=0, le=30 * 86400)] | None = Field(
        None, description="how long a breach lasts before its alert fires"
    )
    repeat_interval_s: Annotated[float, Field(ge=1, le=30 * 86400)] | None = Field(
        None, description="how often a firing alert is notified again"
    )


class AlertOut(BaseModel):
    """One alert: its state since when, its labels, and the figure that breached."""

    alertname: str
    state: str
    since: datetime
    active_at: datetime
    labels: dict[str, str]
    value: float
    fired_at: datetime | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, alert: Alert) -> "AlertOut":
        """The answer for one alert."""
        return cls(
            alertname=alert.alertname,
            state=str(alert.state),
            since=alert.since,
            active_at=alert.active_at,
            labels=alert.all_labels,
            value=alert.value,
            fired_at=alert.fired_at,
            resolved_at=alert.resolved_at,
        )


class AlertList(BaseModel):
    """Pending, firing and lately resolved alerts."""

    alerts: list[AlertOut]


def rule_list(svc: Services) -> RuleList:
    """Every rule as it stands."""
    firing = svc.alerts.firing()
    return RuleList(rules=[RuleOut.of(r, firing[r.name]) for r in svc.alerts.rules.values()])


def alert_list(svc: Services) -> AlertList:
    """The alerts now, by rule and labels."""
    alerts = sorted(
        svc.alerts.alerts.values(), key=lambda a: (a.alertname, sorted(a.labels.items()))
    )
    return AlertList(alerts=[AlertOut.of(a) for a in alerts])


@router.get("/alert-rules", response_model=RuleList)
async def list_rules(svc: Svc) -> RuleList:
    """Every rule, with its settings and how many of its alerts fire."""
    return rule_list(svc)


@router.get("/alert-rules/{name}", response_model=RuleOut, responses=answers(422))
async def get_rule(name: NamePath, svc: Svc) -> RuleOut:
    """One rule."""
    return RuleOut.of(svc.alerts.rules[name], svc.alerts.firing()[name])


@router.patch("/alert-rules/{name}", response_model=RuleOut, responses=answers(400, 413, 422, 503))
async def tune_rule(name: NamePath, body: RulePatch, svc: Svc) -> RuleOut:
    """Enable, disable or tune a rule; it takes effect at the next evaluation, and lasts."""
    tuned = svc.alerts.rules[name].tuned(**body.model_dump(exclude_none=True))
    saved = await svc.db.write(
        svc.db.alert_rules.save,
        RuleSettings(
            name=name,
            enabled=tuned.enabled,
            threshold=tuned.threshold,
            for_s=tuned.for_s,
            repeat_interval_s=tuned.repeat_interval_s,
        ),
    )
    return RuleOut.of(svc.alerts.tune(saved), svc.alerts.firing()[name])


@router.get("/alerts", response_model=AlertList)
async def list_alerts(svc: Svc) -> AlertList:
    """Current alerts: pending, firing, and resolved in the last 15 minutes."""
    return alert_list(svc)
