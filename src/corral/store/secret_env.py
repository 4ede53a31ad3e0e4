"""The ``secret_env`` columns: names in clear, each value sealed before it reaches the database.

Each value is sealed to its row and name, so a sealed value copied to another row or
name does not open. A mapping with a value that does not open comes
back as UnopenedSecrets: its names show (the API lists them), reading a value raises.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from corral.sealing import KeyRing, SealError, is_sealed


@dataclass(frozen=True)
class Owner:
    """The row whose secrets these are: values are sealed to it, errors name it."""

    kind: str  # as a user says it: "worker config", "job"
    table: str
    key: str

    def context(self, name: str) -> str:
        """Where one value is stored, e.g. ``jobs/12/secret_env/API_KEY``."""
        return f"{self.table}/{self.key}/secret_env/{name}"

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


def config_owner(worker_id: str) -> Owner:
    """The owner of a worker config's secrets."""
    return Owner("worker config", "worker_configs", worker_id)


def job_owner(job_id: int) -> Owner:
    """The owner of a job's secrets."""
    return Owner("job", "jobs", str(job_id))


def webhook_owner(webhook_id: int) -> Owner:
    """The owner of a webhook's signing secret."""
    return Owner("webhook", "webhooks", str(webhook_id))


class UnopenedSecrets(Mapping[str, str]):
    """Secrets of which one or more did not open: their names show, any value raises."""

    def __init__(self, names: list[str], error: SealError) -> None:
        self._names = names
        self.error = error

    def __getitem__(self, name: str) -> str:
        raise self.error

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"UnopenedSecrets({self._names}, {self.error})"


def unopened(env: Mapping[str, str]) -> SealError | None:
    """Why these secrets cannot be used, or None when they can."""
    return env.error if isinstance(env, UnopenedSecrets) else None


def seal_env(ring: KeyRing, env: Mapping[str, str], owner: Owner) -> dict[str, str]:
    """The column value: each value sealed to its owner and name."""
    return {name: ring.seal(value, owner.context(name)) for name, value in env.items()}


def open_env(ring: KeyRing, stored: Mapping[str, Any] | None, owner: Owner) -> Mapping[str, str]:
    """The secrets of a column value; values not sealed (left by release 0.1.0) read as they are."""
    opened: dict[str, str] = {}
    failed: list[str] = []
    error: SealError | None = None
    for name, value in (stored or {}).items():
        if not is_sealed(value):
            opened[name] = value
            continue
        try:
            opened[name] = ring.open(value, owner.context(name))
        except SealError as exc:
            failed.append(name)
            error = exc
    if error is None:
        return opened
    what = f"{owner}: secret_env {', '.join(failed)} cannot be opened: {error}"
    return UnopenedSecrets(sorted(stored or {}), SealError(what))
