"""The only code that runs SQL: worker configs, worker runtime and worker logs."""

from corral.store.configs import ConfigStore
from corral.store.runtime import RuntimeStore
from corral.store.worker_logs import WorkerLogStore

__all__ = ["ConfigStore", "RuntimeStore", "WorkerLogStore"]
