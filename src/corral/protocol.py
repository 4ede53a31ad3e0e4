"""The agent protocol between master and worker: routes, environment names, shapes.

Kept free of third-party imports: the worker imports it and must start fast.
"""

from typing import TypedDict

ENV_MASTER_URL = "CORRAL_MASTER_URL"
ENV_WORKER_ID = "CORRAL_WORKER_ID"
ENV_TOKEN = "CORRAL_WORKER_TOKEN"  # noqa: S105 (a variable name, not a secret)
# Set by the local launcher: the worker exits when this process (the master) dies.
ENV_PARENT_PID = "CORRAL_PARENT_PID"

AGENT_PREFIX = "/api/v1/agent"
REGISTER_PATH = AGENT_PREFIX + "/register"
HEARTBEAT_PATH = AGENT_PREFIX + "/heartbeat"
DEREGISTER_PATH = AGENT_PREFIX + "/deregister"

# Error code in a 409 answer: this instance is no longer the worker's current one.
STALE_INSTANCE = "stale_instance"


class RegisterRequest(TypedDict):
    """Sent once per worker start, before anything else."""

    worker_id: str
    instance_id: str
    pid: int
    hostname: str
    cpu_ids: list[int]
    version: str


class RegisterResponse(TypedDict):
    """The master's timing rules for this instance."""

    heartbeat_interval_s: float
    lease_s: float


class HeartbeatRequest(TypedDict):
    """Sent every heartbeat interval while the worker lives."""

    worker_id: str
    instance_id: str
    cpu_percent: float
    memory_bytes: int


class DeregisterRequest(TypedDict):
    """Sent by a worker that exits on purpose, so its exit is not a crash."""

    worker_id: str
    instance_id: str
    reason: str
