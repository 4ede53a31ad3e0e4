"""Riding out a master restart: how long to keep trying, and how often."""

import time
from collections.abc import Callable

from corral.client.errors import MasterUnreachableError

FIRST_PAUSE_S = 0.1
MAX_PAUSE_S = 2.0


class Reconnect:
    """Pauses between attempts to reach the master again, within a patience."""

    def __init__(
        self, patience_s: float, on_lost: Callable[[str], None] | None = None, url: str = ""
    ) -> None:
        self.patience_s = patience_s
        self.on_lost = on_lost
        self.url = url
        self._since: float | None = None
        self._pause = FIRST_PAUSE_S

    def reset(self) -> None:
        """The master answered: a later loss starts a fresh patience."""
        self._since = None
        self._pause = FIRST_PAUSE_S

    def wait_or_raise(self) -> None:
        """Pause before the next attempt; re-raise the loss once patience runs out."""
        now = time.monotonic()
        if self._since is None:
            self._since = now
            if self.on_lost is not None:
                self.on_lost(f"lost the master at {self.url}")
        if now - self._since >= self.patience_s:
            raise MasterUnreachableError(f"the master has not answered for {self.patience_s:g} s")
        # Backing off between reconnection attempts, not waiting on a condition.
        time.sleep(self._pause)
        self._pause = min(self._pause * 2, MAX_PAUSE_S)
