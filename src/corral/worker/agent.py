"""Agent: this worker's standing with the master (instance, registration, contact)."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, cast

from corral import __version__
from corral.protocol import (
    DEREGISTER_PATH,
    EXCHANGE_PATH,
    FENCE_LEASE_FRACTION,
    HEARTBEAT_PATH,
    REGISTER_PATH,
    STALE_INSTANCE,
    DeregisterRequest,
    ExchangeRequest,
    ExchangeResponse,
    HeartbeatRequest,
    JobEvent,
    RegisterRequest,
)
from corral.run_as import current_user
from corral.worker.containment import PROCESS_GROUPS
from corral.worker.master_client import (
    Conflict,
    MasterBusy,
    MasterClient,
    MasterError,
    MasterRejected,
    MasterUnreachable,
    MasterUntrusted,
)

if TYPE_CHECKING:
    # Only a type here: psutil is imported after registration, not before.
    from corral.worker.metrics import Sample

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_INTERVAL_S = 1.0
DEFAULT_LEASE_S = 5.0
# Statuses that may clear up by themselves; any other rejection will not.
_TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})


def new_instance_id() -> str:
    """A fresh instance id: one per start or re-registration, never reused."""
    return str(uuid.uuid4())


def is_fatal(exc: MasterError) -> bool:
    """Whether retrying cannot help (bad token, unknown worker, invalid request, untrusted TLS)."""
    if isinstance(exc, MasterUntrusted):
        return True
    return isinstance(exc, MasterRejected) and exc.status not in _TRANSIENT_STATUSES


def backoff_delays(start: float = 0.1, cap: float = 2.0) -> Iterator[float]:
    """Delays doubling from ``start`` up to ``cap``, forever."""
    delay = start
    while True:
        yield delay
        delay = min(delay * 2, cap)


class Agent:
    """Registers, heartbeats and deregisters; re-registers when the master says stale."""

    def __init__(
        self,
        client: MasterClient,
        worker_id: str,
        cpu_ids: list[int],
        *,
        heartbeat_interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.worker_id = worker_id
        self.usable_cpu_ids = cpu_ids
        self.cpu_ids = cpu_ids  # the usable ids, cut to the capacity the master configured
        # Called from the thread that found the instance stale, before it registers again.
        self.on_new_instance: list[Callable[[], object]] = []
        self.instance_id = new_instance_id()
        self.registered = False
        self.leaving = False  # set by deregister: no heartbeat or registration after it
        self.orphans_killed = 0  # reported with the next registration
        self.containment = PROCESS_GROUPS  # how jobs are contained, told at registration
        self.lease_s = DEFAULT_LEASE_S
        self._interval_override = heartbeat_interval_s
        self.heartbeat_interval_s = heartbeat_interval_s or DEFAULT_HEARTBEAT_INTERVAL_S
        self._clock = clock
        self._last_contact: float | None = None
        self._lost_since: float | None = None
        self._lock = threading.Lock()

    def seconds_since_contact(self) -> float:
        """Seconds since the master last accepted a request (inf before the first)."""
        last = self._last_contact
        return math.inf if last is None else self._clock() - last

    def contact_lost(self) -> bool:
        """Whether the master has been silent for longer than the lease."""
        return self.seconds_since_contact() > self.lease_s

    def fence_deadline(self) -> float:
        """When (on the agent's clock) jobs must die if the master stays silent."""
        last = self._last_contact
        return -math.inf if last is None else last + self.lease_s * FENCE_LEASE_FRACTION

    def register(self) -> None:
        """Register the current instance once; raises MasterError on failure."""
        with self._lock:
            request: RegisterRequest = {
                "worker_id": self.worker_id,
                "instance_id": self.instance_id,
                "pid": os.getpid(),
                "hostname": socket.gethostname(),
                "cpu_ids": self.usable_cpu_ids,
                "version": __version__,
                "orphans_killed": self.orphans_killed,
                "containment": self.containment,
                "user": current_user(),
            }
            answer = self._post(REGISTER_PATH, request)
            self.orphans_killed = 0  # told once
            self._adopt_timing(answer)
            self._adopt_capacity(answer.get("cpus"))
            self.registered = True
        log.info(
            "registered instance %s (cpus %s, heartbeat %.3g s, lease %.3g s)",
            self.instance_id,
            self.cpu_ids,
            self.heartbeat_interval_s,
            self.lease_s,
        )

    def register_until_done(self, wait: Callable[[float], bool]) -> bool:
        """Register, retrying with backoff; False if ``wait(delay)`` reports a stop.

        Raises the MasterError when retrying cannot help (see ``is_fatal``).
        """
        for attempt, delay in enumerate(backoff_delays(), start=1):
            try:
                self.register()
                return True
            except MasterError as exc:
                if is_fatal(exc):
                    raise
                if attempt == 1 or attempt % 10 == 0:
                    log.warning("cannot register yet (attempt %d): %s; retrying", attempt, exc)
            if wait(delay):
                return False
        raise AssertionError("unreachable")  # pragma: no cover

    def heartbeat(self, sample: Sample) -> None:
        """Send one heartbeat, registering first if needed; raises MasterError."""
        if self.leaving:
            return
        if not self.registered:
            self.register()
            return
        request: HeartbeatRequest = {
            "worker_id": self.worker_id,
            "instance_id": self.instance_id,
            "cpu_percent": sample.cpu_percent,
            "memory_bytes": sample.memory_bytes,
        }
        try:
            self._post(HEARTBEAT_PATH, request)
        except Conflict as exc:
            if exc.code != STALE_INSTANCE:
                raise
            self._renew_instance(request["instance_id"])
            # A heartbeat that was in flight during deregister must not bring us back.
            if not self.leaving and not self.registered:
                self.register()

    def exchange(
        self, events: list[JobEvent], *, wait_s: float, draining: bool, timeout: float
    ) -> ExchangeResponse | None:
        """Send events and wait for work; None when the instance turned out stale.

        Registers first if needed. Raises MasterError when the master cannot be
        reached or refuses; a stale answer renews the instance instead.
        """
        if not self.registered:
            self.register()
        request: ExchangeRequest = {
            "worker_id": self.worker_id,
            "instance_id": self.instance_id,
            "events": events,
            "wait_s": wait_s,
            "draining": draining,
        }
        try:
            answer = self._post(EXCHANGE_PATH, request, timeout=timeout)
        except Conflict as exc:
            if exc.code != STALE_INSTANCE:
                raise
            self._renew_instance(request["instance_id"])
            return None
        if self.instance_id != request["instance_id"]:
            return None  # work for an instance that was renewed meanwhile
        # The master's answer is trusted to follow the protocol; absent lists are empty.
        return cast(
            ExchangeResponse,
            {key: answer.get(key) or [] for key in ExchangeResponse.__annotations__},
        )

    def deregister(self, reason: str = "shutdown", timeout: float = 2.0) -> bool:
        """Tell the master this instance leaves on purpose; False if it did not hear."""
        self.leaving = True
        if not self.registered:
            return False
        request: DeregisterRequest = {
            "worker_id": self.worker_id,
            "instance_id": self.instance_id,
            "reason": reason,
        }
        try:
            self._post(DEREGISTER_PATH, request, timeout=timeout)
        except MasterError as exc:
            log.warning("deregister failed: %s", exc)
            return False
        self.registered = False
        log.info("deregistered instance %s (%s)", self.instance_id, reason)
        return True

    def _renew_instance(self, stale_id: str) -> None:
        """Drop an instance the master no longer knows; the next one must register.

        Two threads may learn it at once: only the first one renews.
        """
        with self._lock:
            if self.instance_id != stale_id:
                return
            self.instance_id = new_instance_id()
            self.registered = False
        log.warning("master no longer knows instance %s; now %s", stale_id, self.instance_id)
        for callback in self.on_new_instance:
            try:
                callback()
            except Exception:
                log.exception("new-instance callback %r failed", callback)

    def _adopt_capacity(self, cpus: object) -> None:
        """Use only the first ``cpus`` usable ids when the master configured fewer."""
        usable = self.usable_cpu_ids
        if isinstance(cpus, int) and 0 < cpus < len(usable):
            self.cpu_ids = usable[:cpus]
        else:
            self.cpu_ids = usable

    def _adopt_timing(self, answer: dict[str, object]) -> None:
        """Take the master's interval and lease; a command-line interval wins."""
        interval = answer.get("heartbeat_interval_s")
        lease = answer.get("lease_s")
        if self._interval_override is None and isinstance(interval, int | float) and interval > 0:
            self.heartbeat_interval_s = float(interval)
        if isinstance(lease, int | float) and lease > 0:
            self.lease_s = float(lease)

    def _post(
        self, path: str, body: Mapping[str, object], *, timeout: float | None = None
    ) -> dict[str, object]:
        """POST through the client, keeping track of contact with the master."""
        try:
            answer = self.client.post(path, body, timeout=timeout)
        except MasterBusy:
            # It answered: it is alive and knows this instance, it only cannot store now.
            self._contact(self._clock())
            raise
        except MasterUnreachable as exc:
            # Before the first contact there is nothing to lose; registration logs it.
            if self._lost_since is None and self._last_contact is not None:
                self._lost_since = self._clock()
                log.warning("lost contact with master: %s", exc)
            raise
        self._contact(self._clock())
        return answer

    def _contact(self, now: float) -> None:
        """The master answered this instance."""
        if self._lost_since is not None:
            log.info("contact with master restored after %.1f s", now - self._lost_since)
            self._lost_since = None
        self._last_contact = now
