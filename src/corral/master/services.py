"""The master's long-lived services, built once per process by the app's lifespan."""

from dataclasses import dataclass

from corral.master.database import Database
from corral.master.jobs.recovery import RecoveryManager
from corral.master.jobs.safety_net import SafetyNet
from corral.master.jobs.scheduler import Scheduler
from corral.master.tokens import Tokens
from corral.master.workers.lifecycle import LifecycleManager
from corral.master.workers.log_files import WorkerLogFiles
from corral.settings import MasterSettings


@dataclass
class Services:
    """Everything a request handler may need."""

    settings: MasterSettings
    db: Database
    tokens: Tokens
    log_files: WorkerLogFiles
    lifecycle: LifecycleManager
    scheduler: Scheduler
    recovery: RecoveryManager
    safety_net: SafetyNet
