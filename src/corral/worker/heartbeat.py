"""HeartbeatThread: tells the master every interval that this instance lives."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from corral.worker.agent import Agent, is_fatal
from corral.worker.daemon import DaemonThread
from corral.worker.master_client import MasterError, MasterRejected

if TYPE_CHECKING:
    from corral.worker.metrics import ProcessTreeSampler

log = logging.getLogger(__name__)


class HeartbeatThread(DaemonThread):
    """Sends a heartbeat with process-tree metrics every ``agent.heartbeat_interval_s``.

    Network errors are tolerated: the agent records the last contact and the
    next tick tries again. A rejection that retrying cannot fix is kept in
    ``fatal_error`` and passed to ``on_fatal``, then the loop stops.
    """

    def __init__(
        self,
        agent: Agent,
        sampler: ProcessTreeSampler,
        *,
        on_fatal: Callable[[MasterError], None] = lambda exc: None,
    ) -> None:
        super().__init__(agent.heartbeat_interval_s, name="heartbeat", run_immediately=False)
        self.agent = agent
        self.sampler = sampler
        self.on_fatal = on_fatal
        self.fatal_error: MasterError | None = None

    def do_work(self) -> None:
        """Sample the metrics and send one heartbeat."""
        try:
            self.agent.heartbeat(self.sampler.sample())
        except MasterError as exc:
            if not is_fatal(exc):
                # A lost contact was logged by the agent; either way, retry next tick.
                if isinstance(exc, MasterRejected):
                    log.warning("heartbeat refused: %s", exc)
                return
            log.error("master rejected this worker: %s", exc)
            self.fatal_error = exc
            self.stop()
            self.on_fatal(exc)
        finally:
            # The master may have changed the interval on a re-registration.
            self.interval = self.agent.heartbeat_interval_s
