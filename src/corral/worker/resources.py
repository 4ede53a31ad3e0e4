"""ResourceTracker: which concrete CPU ids and accounts each running job holds.

The tracker is the live truth of a worker's allocations. Observers hear about
every change after the lock is released, so a slow or re-entrant observer can
neither stall an allocation nor deadlock on the tracker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Allocation:
    """What one job holds: CPU ids and an optional account."""

    key: Hashable
    cpu_ids: tuple[int, ...]
    account: str | None


@dataclass(frozen=True)
class Snapshot:
    """The tracker's state at one moment."""

    total: int
    used_ids: frozenset[int]
    accounts: dict[str, int] = field(default_factory=dict)  # account -> allocations holding it

    @property
    def utilisation(self) -> float:
        """Share of the CPUs in use, 0.0 to 1.0 (0.0 for a tracker without CPUs)."""
        return len(self.used_ids) / self.total if self.total else 0.0


class Observer(Protocol):
    """Hears about allocations and releases, outside the tracker's lock."""

    def allocated(self, allocation: Allocation, snapshot: Snapshot) -> None: ...

    def released(self, allocation: Allocation, snapshot: Snapshot) -> None: ...


class ResourceTracker:
    """Hands out CPU ids exclusively and counts accounts; safe across threads."""

    def __init__(
        self,
        cpu_ids: Iterable[int],
        *,
        max_accounts: int | None = None,
        observers: Iterable[Observer] = (),
    ) -> None:
        self.cpu_ids = tuple(sorted(set(cpu_ids)))
        self.max_accounts = max_accounts
        self.observers = list(observers)
        self._free = list(self.cpu_ids)
        self._held: dict[Hashable, Allocation] = {}
        self._accounts: dict[str, int] = {}
        self._lock = threading.Lock()

    def allocate(self, key: Hashable, cpus: int, account: str | None = None) -> list[int] | None:
        """Take ``cpus`` free ids (lowest first) for ``key``; None when they do not fit."""
        if cpus < 0:
            raise ValueError(f"cpus must not be negative: {cpus}")
        with self._lock:
            if key in self._held:
                raise KeyError(f"{key!r} already holds an allocation")
            if cpus > len(self._free) or not self._account_fits(account):
                return None
            taken, self._free = self._free[:cpus], self._free[cpus:]
            allocation = Allocation(key, tuple(taken), account)
            self._held[key] = allocation
            if account is not None:
                self._accounts[account] = self._accounts.get(account, 0) + 1
            snapshot = self._snapshot()
        self._notify("allocated", allocation, snapshot)
        return taken

    def release(self, key: Hashable) -> Allocation | None:
        """Give back what ``key`` holds; None if it holds nothing."""
        with self._lock:
            allocation = self._held.pop(key, None)
            if allocation is None:
                return None
            self._free = sorted([*self._free, *allocation.cpu_ids])
            account = allocation.account
            if account is not None:
                left = self._accounts[account] - 1
                if left:
                    self._accounts[account] = left
                else:
                    del self._accounts[account]
            snapshot = self._snapshot()
        self._notify("released", allocation, snapshot)
        return allocation

    def free_count(self) -> int:
        """How many CPU ids are free now."""
        return len(self._free)

    def fits_ever(self, cpus: int) -> bool:
        """Whether a request for ``cpus`` could fit once everything is released."""
        return 0 <= cpus <= len(self.cpu_ids)

    def snapshot(self) -> Snapshot:
        """The current state."""
        with self._lock:
            return self._snapshot()

    def _account_fits(self, account: str | None) -> bool:
        """Whether one more holder of ``account`` stays within ``max_accounts``."""
        if account is None or self.max_accounts is None or account in self._accounts:
            return True
        return len(self._accounts) < self.max_accounts

    def _snapshot(self) -> Snapshot:
        """The state; the caller holds the lock."""
        used = frozenset(self.cpu_ids) - frozenset(self._free)
        return Snapshot(len(self.cpu_ids), used, dict(self._accounts))

    def _notify(self, event: str, allocation: Allocation, snapshot: Snapshot) -> None:
        """Call every observer; one that fails is logged and does not stop the others."""
        for observer in self.observers:
            try:
                getattr(observer, event)(allocation, snapshot)
            except Exception:
                log.exception("resource observer %r failed on %s", observer, event)
