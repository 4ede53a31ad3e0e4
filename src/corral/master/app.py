"""The master's ASGI application: routers, error handlers, and the lifespan that runs it all."""

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from corral import __version__
from corral.db.engine import sqlite_path
from corral.domain.clock import utcnow
from corral.domain.workers import DeploymentType
from corral.launchers.base import Launcher
from corral.launchers.local import LocalLauncher
from corral.master.alerts.courier import Courier
from corral.master.alerts.evaluator import AlertEvaluator
from corral.master.api import (
    agent,
    alert_rules,
    audit,
    history,
    jobs,
    master,
    metrics,
    webhooks,
    worker_configs,
    workers,
)
from corral.master.api.audit import AuditMiddleware
from corral.master.api.auth import AuthMiddleware, document_security
from corral.master.api.body_limit import BodyLimitMiddleware
from corral.master.api.error_answers import answers
from corral.master.api.exchange_lane import ExchangeLane
from corral.master.api.http_errors import install_error_handlers
from corral.master.api.log_stream import event_line
from corral.master.background import Background, Fatal
from corral.master.data_folder import create_private
from corral.master.data_folder import secure as secure_data_folder
from corral.master.data_key import load_ring
from corral.master.database import Database
from corral.master.database_lock import PostgresLock
from corral.master.jobs.output import JobOutput
from corral.master.jobs.recovery import RecoveryManager
from corral.master.jobs.safety_net import safety_pass
from corral.master.jobs.scheduler import Scheduler
from corral.master.lock_keeper import CHECK_EVERY_S, LockKeeper
from corral.master.log_files import WorkerLogFiles
from corral.master.metrics.history import History
from corral.master.services import Services
from corral.master.stale_process import end_stale_workers
from corral.master.tokens import Tokens
from corral.master.web import docs, pages
from corral.master.web.headers import SecurityHeaders
from corral.master.web.pulse import Pulse
from corral.master.web.templating import STATIC_DIR, environment
from corral.master.workers.default_worker import ensure_default_worker
from corral.master.workers.launch import state_dir
from corral.master.workers.lifecycle import LifecycleManager
from corral.master.writer import Writer
from corral.settings import MasterSettings
from corral.store.resealing import Resealed, reseal_all

log = logging.getLogger("corral.master")
API_PREFIX = "/api/v1"


async def open_services(
    settings: MasterSettings,
    on_fatal: Fatal,
    launchers: Mapping[DeploymentType, Launcher] | None = None,
    db_lock: PostgresLock | None = None,
) -> Services:
    """Open the database, restore every worker, and return the running services.

    ``launchers`` replaces the local launcher, e.g. by one whose workers a test controls;
    ``db_lock`` is the claim on a shared database, kept while the master runs.
    """
    secure_data_folder(settings.data_dir)
    sqlite_file = sqlite_path(settings.db_url)
    if sqlite_file is not None:
        create_private(sqlite_file)  # before SQLite makes it: its WAL and SHM copy the mode
    ring = load_ring(settings.data_dir)
    db = Database.open(settings.db_url, ring, db_lock)
    keeper = None if db_lock is None else LockKeeper(db_lock, on_fatal)
    if keeper is not None:
        keeper.guard(db.engine)
    # Secrets stored in plain text by an earlier release, or under a key that is no
    # longer the current one (a rotation cut short), are sealed before anything reads them.
    # Not on the database thread: its watchdog would cut a long first pass.
    _log_resealed(await asyncio.to_thread(reseal_all, db.engine, ring))
    writer = Writer(db)
    output = JobOutput(settings.data_dir / "jobs", settings.job_output_max_bytes)
    svc = Services(
        settings=settings,
        db=db,
        writer=writer,
        tokens=Tokens(settings.data_dir),
        log_files=WorkerLogFiles(settings.log_dir, settings.log_max_bytes, settings.log_backups),
        launchers=launchers or {DeploymentType.LOCAL: LocalLauncher()},
        scheduler=Scheduler(writer, output),
    )
    svc.writer.on_log = lambda worker_id, *event: svc.log_files.offer_event(
        worker_id, event_line(*event)
    )
    svc.background = background = Background(on_fatal)
    background.keep("writer", writer.run)
    if keeper is not None:
        background.every("database-lock", CHECK_EVERY_S, keeper.step)
    # Workers a killed master left go first: alive, they could still write their ledgers.
    await asyncio.to_thread(end_stale_workers, await db.run(db.runtime.list))
    unfinished, last_id = await db.run(db.jobs.unfinished), await db.run(db.jobs.max_id)
    await svc.scheduler.load(unfinished, last_id, await db.run(_local_state_dirs, db, settings))
    svc.recovery = RecoveryManager(db, svc.scheduler, settings)
    svc.lifecycle = LifecycleManager(svc)
    if settings.create_default_worker:
        await db.run(ensure_default_worker, db)
    await svc.lifecycle.start()
    await svc.recovery.run_once()
    background.every("leases", svc.lifecycle.lease_check_interval_s(), svc.lifecycle.check_leases)
    background.every("recovery", settings.recovery_interval_s, svc.recovery.run_periodic)
    background.every(
        "safety-net", settings.scheduler_check_interval_s, partial(safety_pass, svc.scheduler)
    )
    svc.history = History(svc.scheduler, svc.lifecycle, writer, db, settings.history_interval_s)
    background.every("history", settings.history_interval_s, svc.history.step)
    svc.courier = Courier(db, settings)
    svc.alerts = AlertEvaluator(svc.db, svc.lifecycle, svc.scheduler, svc.courier)
    await svc.alerts.load()
    background.every("alerts", settings.alert_interval_s, svc.alerts.step)
    background.keep("webhooks", svc.courier.run)
    return svc


def _log_resealed(done: Resealed) -> None:
    """Say what the start's sealing pass did, and which secrets no key opens."""
    if done.values:
        log.info("sealed %d stored secret values under the current data key", done.values)
    for line in done.unopened:
        log.error("%s", line)


def _local_state_dirs(db: Database, settings: MasterSettings) -> dict[str, Path]:
    """The state folder of every local worker: what they recorded before they died with us."""
    configs = db.configs.list()
    local = [c.worker_id for c in configs if c.deployment_type is DeploymentType.LOCAL]
    return {worker_id: state_dir(settings, worker_id) for worker_id in local}


async def close_services(svc: Services) -> None:
    """Stop every worker gracefully, write what is queued, then close files and the database."""
    await svc.lifecycle.shutdown()
    await svc.writer.close()
    await svc.background.stop()
    svc.log_files.close_all()
    svc.db.close()


def health_of(svc: Services) -> dict[str, Any]:
    """The master's own health: its database and the disk holding job output."""
    db, backlog = svc.db.health, svc.writer.backlog()
    storage_error = svc.scheduler.output.storage_error
    ok = db.ok and storage_error is None
    return {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "database": {
            "ok": db.ok,
            "error": db.error,
            "down_for_s": round(db.down_for(), 3),
            "queued_changes": backlog.changes,
            "queued_inserts": backlog.inserts,
            "events_not_kept": backlog.logs_not_kept,
        },
        "job_output": {"ok": storage_error is None, "error": storage_error},
    }


def _log_fatal(reason: str) -> None:
    """Without a server to stop (an app run in a test), a fatal failure is only logged."""
    log.critical("master cannot go on: %s", reason)


def create_app(
    settings: MasterSettings,
    launchers: Mapping[DeploymentType, Launcher] | None = None,
    db_lock: PostgresLock | None = None,
) -> FastAPI:
    """Build the master's application for ``settings`` (the rest: see open_services)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        on_fatal = getattr(app.state, "on_fatal", _log_fatal)
        svc = await open_services(settings, on_fatal, launchers, db_lock)
        app.state.services = svc
        app.state.started_at = utcnow()
        log.info(
            "master listening on %s; local clients use %s", settings.listen_address, settings.url
        )
        if settings.insecure_no_auth:
            log.warning("serving WITHOUT tokens: any local user can run jobs as this user")
        on_ready = getattr(app.state, "on_ready", None)
        if on_ready is not None:
            on_ready(svc)
        try:
            yield
        finally:
            await app.state.pulse.close()
            await close_services(svc)
            log.info("master stopped")

    # The documentation pages are the package's own: FastAPI's load their scripts from a CDN.
    app = FastAPI(
        title="corral", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.state.pulse = Pulse(lambda: app.state.services)
    login_page = environment().get_template("login.html").render().encode()
    # The last added is the outermost: audit, then auth before any body is read; the
    # workers' exchange then skips the framework (see exchange_lane).
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        ExchangeLane, services=lambda: app.state.services, max_bytes=settings.max_body_bytes
    )
    app.add_middleware(
        AuthMiddleware,
        services=lambda: app.state.services,
        failures_per_minute=settings.auth_failures_per_minute,
        login_page=login_page,
    )
    app.add_middleware(AuditMiddleware, services=lambda: app.state.services)
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)
    document_security(app)
    # Routes are matched in order: the workers' exchange and job submission first.
    app.include_router(agent.router)
    for module in (jobs, worker_configs, workers, audit, history, master, alert_rules, webhooks):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(docs.router)
    app.include_router(pages.router)
    # Compressed: the same bytes for everyone, no secret beside anything a client sends.
    static = GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=1024)
    app.mount("/static", static, name="static")
    app.include_router(metrics.router)  # where Prometheus looks by default

    @app.get(API_PREFIX + "/health", tags=["master"], responses=answers(401))
    async def master_health() -> dict[str, Any]:
        """The master answers; "degraded" says what it cannot do now, and why."""
        return health_of(app.state.services)

    return app
