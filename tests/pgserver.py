"""A throwaway PostgreSQL cluster on 127.0.0.1 that the test session starts and stops."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin"
    " or on PATH: run scripts/install-system-deps (as root) to install them,"
    " or set CORRAL_TEST_NO_POSTGRES=1 to skip the PostgreSQL tests"
)
NO_POSTGRES_ENV = "CORRAL_TEST_NO_POSTGRES"
DISABLED_REASON = f"{NO_POSTGRES_ENV}=1: PostgreSQL tests skipped"
# The server tolerates losing data on a crash: the cluster is thrown away anyway.
FAST_UNSAFE_OPTIONS = ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
START_ATTEMPTS = 3
# Trust on loopback only; C locale and no fsync keep initdb well under a second.
INITDB_ARGS = ("-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")


def postgres_disabled() -> bool:
    """Whether the user asked to skip the PostgreSQL tests."""
    return os.environ.get(NO_POSTGRES_ENV, "") == "1"


class PgServerError(RuntimeError):
    """The throwaway cluster could not be found, initialised or started."""


def _version_key(path: Path) -> tuple[int, ...]:
    """Sort key for /usr/lib/postgresql/<version>/bin folders, newest last."""
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's newest version, else PATH."""
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()]
    if candidates:
        return max(candidates, key=_version_key)
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).parent
    return None


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env() -> dict[str, str]:
    """The environment without PG* variables, which would redirect the tools elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


@dataclass
class PgServer:
    """One PostgreSQL cluster in its own folder, listening on 127.0.0.1 only."""

    bindir: Path
    root: Path
    run_as: str | None
    port: int = 0
    _watchdog: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @classmethod
    def create(cls, bindir: Path, label: str = "") -> PgServer:
        """Make the cluster's folder; as root it belongs to postgres, since initdb refuses root."""
        root = Path(tempfile.mkdtemp(prefix=f"corral-pg-{label}"))
        server = cls(bindir=bindir, root=root, run_as="postgres" if os.geteuid() == 0 else None)
        server._give_to_owner(root)
        return server

    @property
    def data_dir(self) -> Path:
        """The cluster's data folder."""
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        """The server's log file."""
        return self.root / "server.log"

    def _command(self, tool: str, *args: str) -> list[str]:
        """The command line running one of the cluster's tools as the cluster's owner."""
        cmd = [str(self.bindir / tool), *args]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run one of the cluster's tools and collect its output."""
        # cwd inside the cluster folder: the owner may not be able to enter ours.
        return subprocess.run(
            self._command(tool, *args),
            cwd=self.root,
            env=_clean_env(),
            capture_output=True,
            text=True,
            check=False,
        )

    def _check(self, what: str, proc: subprocess.CompletedProcess[str]) -> None:
        """Raise PgServerError with the tool's output if it failed."""
        if proc.returncode != 0:
            log = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise PgServerError(
                f"{what} failed ({proc.returncode}): {proc.stdout}{proc.stderr}\n{log}".strip()
            )

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run pg_ctl on this cluster's data folder."""
        return self._run("pg_ctl", "-D", str(self.data_dir), *args)

    def _server_options(self, run_dir: Path) -> str:
        """The postgres command line: our port, our socket folder, loopback only."""
        listen = (f"-p {self.port}", f"-k {run_dir}", "-c listen_addresses=127.0.0.1")
        return " ".join((*listen, *FAST_UNSAFE_OPTIONS))

    def start(self) -> None:
        """initdb, then start on a free port; a port taken meanwhile is retried."""
        self._check("initdb", self._run("initdb", "-D", str(self.data_dir), *INITDB_ARGS))
        run_dir = self.root / "run"
        run_dir.mkdir()
        self._give_to_owner(run_dir)
        for attempt in range(START_ATTEMPTS):
            self.port = free_port()
            options = self._server_options(run_dir)
            proc = self._pg_ctl("-o", options, "-l", str(self.log_file), "-w", "-t", "60", "start")
            if proc.returncode == 0:
                self._start_watchdog()
                return
            if attempt == START_ATTEMPTS - 1:
                self._check("pg_ctl start", proc)

    def halt(self) -> None:
        """Stop the server and keep its data: a database that went down."""
        self._check("pg_ctl stop", self._pg_ctl("-m", "fast", "-w", "stop"))

    def resume(self) -> None:
        """Start a halted server again, on the same port."""
        options = self._server_options(self.root / "run")
        start = ("-o", options, "-l", str(self.log_file), "-w", "-t", "60", "start")
        self._check("pg_ctl start", self._pg_ctl(*start))

    def _start_watchdog(self) -> None:
        """Stop the cluster if this process dies without its session teardown (SIGTERM, -9)."""
        stop = self._command("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "stop")
        script = 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; shift; "$@"; rm -rf "$ROOT"'
        self._watchdog = subprocess.Popen(
            ["sh", "-c", script, "sh", str(os.getpid()), *stop],
            env={**_clean_env(), "ROOT": str(self.root)},
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C to the tests must not kill it first
        )

    def _give_to_owner(self, path: Path) -> None:
        """Hand a folder we made to the user the server runs as."""
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            os.chown(path, user.pw_uid, user.pw_gid)

    def stop(self) -> None:
        """Stop the server (fast: roll back open sessions), then remove its folder."""
        # A pid file means a server may be up, even after a start that timed out.
        if (self.data_dir / "postmaster.pid").exists():
            self._check("pg_ctl stop", self._pg_ctl("-m", "fast", "-w", "stop"))
        shutil.rmtree(self.root, ignore_errors=True)
        if self._watchdog is not None:
            self._watchdog.kill()
            self._watchdog.wait()
            self._watchdog = None

    def url(self, dbname: str = "postgres") -> str:
        """A SQLAlchemy-ready URL of one database of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit connection to the maintenance database."""
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self) -> str:
        """Create an empty database from template0 and return its name."""
        name = f"t_{uuid.uuid4().hex}"
        query = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
        with self._admin() as conn:
            # A plain file copy is several times faster than the WAL-logged default (15+).
            if conn.info.server_version >= 150000:
                query = sql.SQL("{} STRATEGY file_copy").format(query)
            conn.execute(query)
        return name

    def dump(self, name: str) -> str:
        """The SQL text of one database, as pg_dump of the cluster's own version writes it."""
        proc = self._run("pg_dump", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        self._check("pg_dump", proc)
        return proc.stdout

    def drop_database(self, name: str) -> None:
        """Drop a database, closing whatever connections a test left open on it."""
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
