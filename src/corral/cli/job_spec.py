"""The job a command line asks for: the arguments of Client.submit."""

import os
from typing import Any


def submit_arguments(command: tuple[str, ...], opts: dict[str, Any]) -> dict[str, Any]:
    """Client.submit's arguments from the command line."""
    return {
        "command": " ".join(command) if opts["shell"] else list(command),
        "shell": opts["shell"],
        "cpus": opts["cpus"],
        "timeout_s": opts["timeout"],
        "max_attempts": opts["max_attempts"],
        "max_requeues": opts["max_requeues"],
        "retry_delay_s": opts["retry_delay"],
        "memory_mb": opts["memory_mb"],
        "priority": opts["priority"],
        "account": opts["account"],
        "env": opts["env"] or None,
        "secret_env": opts["secret_env"] or None,
        # Where it was submitted, as a batch system does: relative paths mean what they say.
        "cwd": opts["cwd"] or os.getcwd(),
        "labels": opts["label"] or None,
        "idempotency_key": opts["idempotency_key"],
        "run_as": opts["run_as"],
    }
