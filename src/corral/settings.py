"""Master settings: defaults, overridden by CORRAL_* environment variables and CLI flags."""

import ipaddress
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from corral.db.engine import sqlite_url

DEFAULT_PORT = 8700
# Binding one of these listens on every address of the machine.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class MasterSettings:
    """Everything the master needs to run; immutable once built."""

    data_dir: Path = field(default_factory=lambda: Path(".corral"))
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    database_url: str | None = None
    heartbeat_interval_s: float = 1.0
    lease_s: float = 5.0
    stop_timeout_s: float = 10.0
    start_timeout_s: float = 30.0
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    restart_window_s: float = 300.0
    restart_max_delay_s: float = 60.0
    stable_after_s: float = 60.0
    max_body_bytes: int = 1024 * 1024
    recovery_interval_s: float = 30.0
    scheduler_check_interval_s: float = 5.0
    assignment_timeout_s: float = 30.0
    max_job_runtime_s: float = 72 * 3600.0
    stale_allocation_s: float = 48 * 3600.0
    job_retention_s: float = 7 * 86400.0
    job_output_max_bytes: int = 64 * 1024 * 1024
    create_default_worker: bool = False
    # Every route needs a token unless this is set, which only a loopback master may do.
    insecure_no_auth: bool = False
    # Failed token attempts a peer may make in a minute before further ones get 429.
    auth_failures_per_minute: int = 10
    # Seconds between points of the metrics history (whole seconds: points are keyed by second).
    history_interval_s: int = 10
    # Both set: the API, the dashboard and the agent lane are served over HTTPS.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Seconds between evaluations of the alert rules.
    alert_interval_s: float = 5.0
    # A failed webhook delivery is tried again after this, doubling each time (with jitter).
    webhook_retry_base_s: float = 2.0
    webhook_max_attempts: int = 10
    webhook_timeout_s: float = 10.0

    @property
    def db_url(self) -> str:
        """The database URL: the configured one or the embedded SQLite file."""
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def log_dir(self) -> Path:
        """Folder holding one subfolder of log files per worker."""
        return self.data_dir / "logs"

    def check(self) -> None:
        """Refuse settings that cannot be run: ValueError says why."""
        if not 1 <= self.history_interval_s <= 300:
            raise ValueError("history_interval_s must be from 1 to 300")
        if not 0.05 <= self.alert_interval_s <= 3600:
            raise ValueError("alert_interval_s must be from 0.05 to 3600")
        if self.webhook_retry_base_s < 0 or self.webhook_max_attempts < 1:
            raise ValueError(
                "webhook_retry_base_s must be 0 or more, webhook_max_attempts 1 or more"
            )
        if self.webhook_timeout_s <= 0:
            raise ValueError("webhook_timeout_s must be more than 0")
        if self.auth_failures_per_minute < 1:
            raise ValueError("auth_failures_per_minute must be at least 1")
        if self.insecure_no_auth and not is_loopback(self.host):
            raise ValueError(
                f"--insecure-no-auth is for a master on loopback only, not on {self.host}"
            )
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("TLS needs both --tls-cert and --tls-key (or neither)")

    @property
    def tls(self) -> bool:
        """Whether the master serves HTTPS."""
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def listen_address(self) -> str:
        """The address and port the master binds, as ``host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL clients and local workers use."""
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def with_overrides(self, **overrides: Any) -> "MasterSettings":
        """A copy with the given non-None values replaced."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the master reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def from_env(
    environ: dict[str, str] | None = None, base: MasterSettings | None = None
) -> MasterSettings:
    """Settings from CORRAL_<FIELD> variables (e.g. CORRAL_DATABASE_URL, CORRAL_LEASE_S).

    Each variable overrides its field of ``base`` (a file's settings; default: the defaults).
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(MasterSettings):
        raw = env.get("CORRAL_" + f.name.upper())
        if raw is None:
            continue
        values[f.name] = _parse(f.type, raw, f.name)
    return replace(base or MasterSettings(), **values)


def _parse(kind: Any, raw: str, name: str) -> Any:
    """Convert one environment string to the field's type."""
    text = str(kind)
    try:
        if "Path" in text:
            return Path(raw)
        if "bool" in text:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if "float" in text:
            return float(raw)
        if "int" in text:
            return int(raw)
    except ValueError as exc:
        raise ValueError(f"CORRAL_{name.upper()}: cannot read {raw!r}") from exc
    return raw
