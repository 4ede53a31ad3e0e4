"""Bearer tokens: the admin token and per-worker tokens derived from a master secret."""

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

SESSION_COOKIE = "corral_session"
# How long a dashboard login lasts.
SESSION_S = 7 * 86400.0


def _read_or_create(path: Path) -> str:
    """Read a secret file, creating it (mode 0600) with fresh random bytes if missing.

    It is written aside and linked into place, so a client never reads half a token,
    and a second master racing for the same name keeps the first one's.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    try:
        os.link(aside, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        aside.unlink()
    return value


class Tokens:
    """Issues and checks the master's bearer tokens."""

    def __init__(self, data_dir: Path) -> None:
        self.admin_token = _read_or_create(data_dir / "admin.token")
        self._secret = _read_or_create(data_dir / "secret.key").encode()
        # Tokens of the workers this master launched, derived once: they call often.
        self._issued: dict[str, str] = {}
        # The one-time login link of this run of the master.
        self.login_token: str | None = secrets.token_urlsafe(24)

    def worker_token(self, worker_id: str) -> str:
        """The token a worker presents; derived, so it survives master restarts."""
        token = self._issued.get(worker_id)
        if token is None:
            token = self._issued[worker_id] = self._derive(worker_id)
        return token

    def _derive(self, worker_id: str) -> str:
        return self._mac("worker:" + worker_id)

    def is_admin(self, presented: str | None) -> bool:
        """Constant-time check of the admin token."""
        return presented is not None and hmac.compare_digest(presented, self.admin_token)

    def use_login(self, presented: str) -> bool:
        """Whether a login may proceed: the one-time token (then spent) or the admin token."""
        once = self.login_token
        if once is not None and hmac.compare_digest(presented, once):
            self.login_token = None
            return True
        return self.is_admin(presented)

    def new_session(self) -> str:
        """A session cookie's value: when it was issued, signed; it survives restarts."""
        issued = str(int(time.time()))
        return f"{issued}.{self._mac('session:' + issued)}"

    def is_session(self, value: str) -> bool:
        """Constant-time check of a session cookie's value, and of its age."""
        issued, _, mac = value.partition(".")
        if not issued.isdigit() or time.time() - int(issued) > SESSION_S:
            return False
        return hmac.compare_digest(mac, self._mac("session:" + issued))

    def _mac(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()

    def is_worker(self, worker_id: str, presented: str | None) -> bool:
        """Constant-time check of a worker's token."""
        if presented is None:
            return False
        # Ids nobody launched are derived each time, so strangers cannot fill the cache.
        expected = self._issued.get(worker_id) or self._derive(worker_id)
        return hmac.compare_digest(presented, expected)


def admin_token_path(data_dir: Path) -> Path:
    """Where the admin token lives, for clients on the same machine."""
    return data_dir / "admin.token"
