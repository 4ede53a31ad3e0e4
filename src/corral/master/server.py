"""Running the master under uvicorn: first signal drains, a second one stops at once."""

import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Generator
from contextlib import contextmanager
from functools import partial
from types import FrameType

import uvicorn
from fastapi import FastAPI

from corral.master.app import create_app
from corral.master.database_lock import PostgresLock
from corral.master.hard_stop import kill_everything
from corral.master.services import Services
from corral.master.tls import served_fingerprint
from corral.settings import WILDCARD_HOSTS, MasterSettings

log = logging.getLogger("corral.master")
HANDLED = (signal.SIGTERM, signal.SIGINT)


class MasterServer(uvicorn.Server):
    """uvicorn's server with corral's signal policy."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self.app = app
        self._drain: asyncio.Task[None] | None = None
        self._signalled = False
        self.exit_code = 0
        app.state.on_fatal = self.fatal
        app.state.request_stop = self.request_stop

    def fatal(self, reason: str) -> None:
        """A part of the master cannot go on: stop gracefully, then exit non-zero."""
        log.critical("stopping: %s", reason)
        self.exit_code = 1
        self.request_stop()

    def request_stop(self) -> None:
        """An admin asked the master to stop: the same graceful path as a first signal."""
        if not self._signalled:
            self._signalled = True
            self._begin_drain()

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Install our handlers; unlike uvicorn's, do not re-raise the signal afterwards."""
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in HANDLED}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: graceful shutdown. Second: kill every worker and job, exit now."""
        if not self._signalled:
            self._signalled = True
            asyncio.get_event_loop().call_soon_threadsafe(self._begin_drain)
            return
        services = self._services()
        # Before the services exist, the workers being started die of their
        # parent-death signal, and take their jobs along.
        if services is not None:
            kill_everything(services)
        os.write(2, b"corral: second signal, workers and jobs killed, exiting now\n")
        os._exit(128 + sig)

    def _services(self) -> Services | None:
        services: Services | None = getattr(self.app.state, "services", None)
        return services

    def _begin_drain(self) -> None:
        self._drain = asyncio.ensure_future(self._stop_workers_then_exit())

    async def _stop_workers_then_exit(self) -> None:
        """Stop the workers while the API still serves: they report their jobs on the way out."""
        services = self._services()
        self.app.state.pulse.closing.set()  # dashboards' streams end: nothing waits on them
        try:
            if services is not None:
                await services.lifecycle.shutdown()
        finally:
            self.should_exit = True


def serve(
    settings: MasterSettings, sock: socket.socket, db_lock: PostgresLock | None, banner: bool = True
) -> int:
    """Serve the API on ``sock`` until a signal arrives; return the exit code.

    The caller holds the master's claim (see ``corral.master.main``): ``settings``
    carry the port actually bound, ``db_lock`` is a shared database's lock.
    """
    app = create_app(settings, db_lock=db_lock)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=5,
        ssl_certfile=settings.tls_cert,
        ssl_keyfile=settings.tls_key,
    )
    server = MasterServer(config, app)
    if banner:
        _print_banner(settings)
        app.state.on_ready = partial(_print_login, settings)
    server.run(sockets=[sock])
    return server.exit_code if server.started else 1


def _print_banner(settings: MasterSettings) -> None:
    """Tell the user where the master is."""
    everywhere = " (all interfaces)" if settings.host in WILDCARD_HOSTS else ""
    print(f"corral master listening on {settings.listen_address}{everywhere}", flush=True)
    print(f"local clients: {settings.url}  (API docs: {settings.url}/docs)", flush=True)
    print(f"data folder: {settings.data_dir.resolve()}", flush=True)
    if settings.tls_cert is not None:
        pin = served_fingerprint(settings.tls_cert)
        print(f"TLS certificate fingerprint: {pin}  (workers elsewhere pin it)", flush=True)
    sys.stdout.flush()


def _print_login(settings: MasterSettings, svc: Services) -> None:
    """Once the services run: how to get in (a token is needed on every route)."""
    if settings.insecure_no_auth:
        print("WARNING: serving without tokens (--insecure-no-auth)", flush=True)
        return
    token_file = settings.data_dir.resolve() / "admin.token"
    print(f"the CLI and the Python client use the admin token in {token_file}", flush=True)
    print(
        f"open once in a browser: {settings.url}/login?token={svc.tokens.login_token}", flush=True
    )
