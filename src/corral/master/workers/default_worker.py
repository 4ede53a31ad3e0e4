"""The worker config that the embedded mode creates in an empty database."""

from corral.domain.worker_states import DesiredState
from corral.domain.workers import DeploymentType, WorkerConfig
from corral.master.database import Database

DEFAULT_WORKER_ID = "local-1"


def ensure_default_worker(db: Database) -> bool:
    """Create ``local-1`` (local, auto-start, auto-restart) if no config exists; True if made."""
    if db.configs.count() > 0:
        return False
    db.configs.create(
        WorkerConfig(
            worker_id=DEFAULT_WORKER_ID,
            name="local worker 1",
            deployment_type=DeploymentType.LOCAL,
            auto_start=True,
            auto_restart=True,
        )
    )
    db.runtime.update(DEFAULT_WORKER_ID, desired_state=DesiredState.RUNNING)
    return True
