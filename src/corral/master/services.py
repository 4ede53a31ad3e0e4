"""Every service of the master in one container, built once per process by the app's lifespan."""

from dataclasses import dataclass, field

from corral.master.alerts.courier import Courier
from corral.master.alerts.evaluator import AlertEvaluator
from corral.master.background import Background
from corral.master.core import Core
from corral.master.jobs.recovery import RecoveryManager
from corral.master.metrics.history import History
from corral.master.workers.lifecycle import LifecycleManager


@dataclass
class Services(Core):
    """The shared core plus the parts that run on it: what a request handler may need."""

    lifecycle: LifecycleManager = field(init=False)
    recovery: RecoveryManager = field(init=False)
    background: Background = field(init=False)
    history: History = field(init=False)
    courier: Courier = field(init=False)
    alerts: AlertEvaluator = field(init=False)
