"""Observers of the ResourceTracker: a log line, counters, and a utilisation alert."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from corral.worker.resources import Allocation, Snapshot

log = logging.getLogger(__name__)

DEFAULT_ALERT_THRESHOLD = 0.9
DEFAULT_ALERT_QUIET_S = 300.0


class LoggingObserver:
    """Logs every allocation and release at debug level."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.logger = logger

    def allocated(self, allocation: Allocation, snapshot: Snapshot) -> None:
        self.logger.debug(
            "allocated cpus %s to %s (%d/%d in use)",
            list(allocation.cpu_ids),
            allocation.key,
            len(snapshot.used_ids),
            snapshot.total,
        )

    def released(self, allocation: Allocation, snapshot: Snapshot) -> None:
        self.logger.debug(
            "released cpus %s of %s (%d/%d in use)",
            list(allocation.cpu_ids),
            allocation.key,
            len(snapshot.used_ids),
            snapshot.total,
        )


class MetricsObserver:
    """Counters and gauges of the tracker, readable from any thread."""

    def __init__(self) -> None:
        self.allocations = 0
        self.releases = 0
        self.used = 0
        self.peak_used = 0
        self.utilisation = 0.0
        self._lock = threading.Lock()

    def allocated(self, allocation: Allocation, snapshot: Snapshot) -> None:
        with self._lock:
            self.allocations += 1
            self._gauge(snapshot)

    def released(self, allocation: Allocation, snapshot: Snapshot) -> None:
        with self._lock:
            self.releases += 1
            self._gauge(snapshot)

    def _gauge(self, snapshot: Snapshot) -> None:
        """Update the gauges; the caller holds the lock."""
        self.used = len(snapshot.used_ids)
        self.peak_used = max(self.peak_used, self.used)
        self.utilisation = snapshot.utilisation


class AlertObserver:
    """Warns when utilisation reaches the threshold: once per crossing, at most once a quiet
    period, so a busy worker flipping between full and not-quite-full does not flood its log.
    """

    def __init__(
        self,
        threshold: float = DEFAULT_ALERT_THRESHOLD,
        logger: logging.Logger = log,
        *,
        quiet_s: float = DEFAULT_ALERT_QUIET_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.logger = logger
        self.quiet_s = quiet_s
        self.alerts = 0
        self._armed = True
        self._last: float | None = None
        self._held_back = 0  # crossings not reported because of the quiet period
        self._clock = clock
        self._lock = threading.Lock()

    def allocated(self, allocation: Allocation, snapshot: Snapshot) -> None:
        self._check(snapshot)

    def released(self, allocation: Allocation, snapshot: Snapshot) -> None:
        self._check(snapshot)

    def _check(self, snapshot: Snapshot) -> None:
        """Fire on an upward crossing only; a level held above the threshold stays quiet."""
        above = snapshot.total > 0 and snapshot.utilisation >= self.threshold
        with self._lock:
            crossing = above and self._armed
            self._armed = not above
            now = self._clock()
            fire = crossing and (self._last is None or now - self._last >= self.quiet_s)
            held_back = self._held_back
            if fire:
                self.alerts += 1
                self._last, self._held_back = now, 0
            elif crossing:
                self._held_back += 1
        if fire:
            again = f" ({held_back} more crossings since the last alert)" if held_back else ""
            self.logger.warning(
                "CPU allocation at %.0f%% (%d of %d), threshold %.0f%%%s",
                snapshot.utilisation * 100,
                len(snapshot.used_ids),
                snapshot.total,
                self.threshold * 100,
                again,
            )
