"""The workers of ``corral.toml`` under ``corral up``: applied as soon as the master answers."""

import logging
import threading
import time
from pathlib import Path

from corral.cli.apply import apply_file
from corral.cli.fleet_file import FleetFile, FleetFileError
from corral.master.tokens import admin_token_path
from corral.settings import MasterSettings

log = logging.getLogger("corral.fleet")
# How often to ask whether the master answers yet, while it starts.
POLL_S = 0.2


def check_secrets(fleet: FleetFile) -> None:
    """Refuse, before anything starts, a secret the environment does not hold."""
    for worker_id in fleet.workers:
        fleet.body(worker_id)


def apply_when_up(settings: MasterSettings, fleet: FleetFile) -> threading.Thread:
    """A daemon thread that applies the file's workers once the master serves its API."""
    thread = threading.Thread(
        target=_apply, args=(settings, fleet), name="corral-fleet", daemon=True
    )
    thread.start()
    return thread


def _apply(settings: MasterSettings, fleet: FleetFile) -> None:
    """Wait for the master (within its start timeout), then apply without pruning."""
    from corral.client import Client, ClientError, MasterUnreachableError

    token_file = admin_token_path(settings.data_dir)
    deadline = time.monotonic() + settings.start_timeout_s
    while True:
        try:
            # The master writes its token once its services are open, then answers.
            token = _read(token_file)
            if token is None and not settings.insecure_no_auth:
                raise MasterUnreachableError("no admin token yet")
            with Client(settings.url, token=token, data_dir=settings.data_dir) as client:
                apply_file(client, fleet, lambda line: log.info("%s: %s", fleet.path, line))
            return
        except MasterUnreachableError:
            if time.monotonic() > deadline:
                log.error("%s: the master did not answer; its workers were not applied", fleet.path)
                return
        except (ClientError, FleetFileError) as exc:
            log.error("%s: %s", fleet.path, exc)
            return
        # The master is still starting: nothing to wait on but its port.
        time.sleep(POLL_S)


def _read(path: Path) -> str | None:
    """A token file's content, or None while it is not there."""
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None
