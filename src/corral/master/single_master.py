"""One master per data folder and per database, claimed before the master does anything.

A folder is claimed with flock(2) on ``master.lock`` inside it; the file names the
holder (pid, URL, host) for the message a second master prints. A PostgreSQL
database is claimed with an advisory lock (see database_lock): masters with
different data folders may share one database. The kernel and the database server
release both when the process ends, however it ends.
"""

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy.engine import make_url

from corral.errors import AnotherMasterError, MasterStartError
from corral.master.database_lock import PostgresLock, is_postgresql
from corral.settings import MasterSettings

LOCK_NAME = "master.lock"


def holder_name(url: str) -> str:
    """How this master names itself to a second one: pid, URL, host."""
    return f"pid {os.getpid()}, {url}, on {socket.gethostname()}"


class FolderLock:
    """An exclusive lock on a folder, held until ``release()`` or the end of the process."""

    def __init__(self, folder: Path, what: str) -> None:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.path = folder / LOCK_NAME
        # Not inherited (os.open's default): a worker must not keep the lock alive.
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 4096, 0).decode(errors="replace").strip()
            os.close(self._fd)
            raise AnotherMasterError(
                f"another corral master ({holder or 'pid unknown'}) is using {what} {folder}"
            ) from None

    def name_holder(self, holder: str) -> None:
        """Write who holds the lock, for the message of a second master."""
        data = (holder + "\n").encode()
        # Overwritten in place, never emptied first: a reader sees a whole line.
        os.pwrite(self._fd, data, 0)
        os.ftruncate(self._fd, len(data))

    def release(self) -> None:
        """Give the folder up (closing the file drops the lock)."""
        os.close(self._fd)


def sqlite_folder(db_url: str) -> Path | None:
    """The folder holding a SQLite database file; None for other databases."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database).resolve().parent


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to the master's address, or a clear refusal."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise MasterStartError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def _lock_folders(settings: MasterSettings, held: ExitStack) -> list[FolderLock]:
    """Lock the data folder, and the SQLite database's folder when it is another one."""
    data_dir = settings.data_dir.resolve()
    folders = [FolderLock(data_dir, "the data folder")]
    held.callback(folders[0].release)
    db_folder = sqlite_folder(settings.db_url)
    if db_folder is not None and db_folder != data_dir:
        folders.append(FolderLock(db_folder, "the folder of its SQLite database"))
        held.callback(folders[-1].release)
    return folders


Claim = tuple[MasterSettings, socket.socket, PostgresLock | None]


@contextmanager
def claim(settings: MasterSettings) -> Iterator[Claim]:
    """Lock the data folder, bind the port, lock the database; yield settings, socket, lock.

    The settings come back with the port actually bound (``--port 0`` picks one); the
    lock is a PostgreSQL database's (None for SQLite, whose folder lock is enough).
    """
    with ExitStack() as held:
        folders = _lock_folders(settings, held)
        sock = held.enter_context(listen(settings.host, settings.port))
        settings = settings.with_overrides(port=sock.getsockname()[1])
        holder = holder_name(settings.url)
        for lock in folders:
            lock.name_holder(holder)
        db_lock = None
        if is_postgresql(settings.db_url):
            db_lock = PostgresLock(settings.db_url, holder)
            held.callback(db_lock.release)
        yield settings, sock, db_lock


@contextmanager
def claim_stopped(settings: MasterSettings, holder: str) -> Iterator[None]:
    """Hold the data folder and the database as a master does, for work no master may see."""
    with ExitStack() as held:
        for lock in _lock_folders(settings, held):
            lock.name_holder(holder)
        if is_postgresql(settings.db_url):
            held.callback(PostgresLock(settings.db_url, holder).release)
        yield
