"""The master's ASGI application: routers, error handlers, and the lifespan that runs it all."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from corral import __version__
from corral.domain.workers import DeploymentType
from corral.launchers.local import LocalLauncher
from corral.master.api import agent, jobs, worker_configs, workers
from corral.master.api.body_limit import BodyLimitMiddleware
from corral.master.api.exchange_lane import ExchangeLane
from corral.master.api.http_errors import install_error_handlers
from corral.master.database import Database
from corral.master.jobs.output import JobOutput
from corral.master.jobs.recovery import RecoveryManager
from corral.master.jobs.safety_net import SafetyNet
from corral.master.jobs.scheduler import Scheduler
from corral.master.jobs.writer import JobWriter
from corral.master.services import Services
from corral.master.tokens import Tokens
from corral.master.workers.context import SupervisorContext
from corral.master.workers.default_worker import ensure_default_worker
from corral.master.workers.lifecycle import LifecycleManager
from corral.master.workers.log_files import WorkerLogFiles
from corral.settings import MasterSettings

log = logging.getLogger("corral.master")
API_PREFIX = "/api/v1"


async def open_services(settings: MasterSettings) -> Services:
    """Open the database, restore every worker, and return the running services."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database.open(settings.db_url)
    tokens = Tokens(settings.data_dir)
    log_files = WorkerLogFiles(settings.log_dir, settings.log_max_bytes, settings.log_backups)
    launchers = {DeploymentType.LOCAL: LocalLauncher()}
    writer = JobWriter(db)
    writer.start()
    output = JobOutput(settings.data_dir / "jobs", settings.job_output_max_bytes)
    scheduler = Scheduler(writer, output)
    await scheduler.load(await db.run(db.jobs.unfinished), await db.run(db.jobs.max_id))
    recovery = RecoveryManager(db, scheduler, settings)
    ctx = SupervisorContext(settings, db, tokens, log_files, launchers, scheduler)
    lifecycle = LifecycleManager(ctx)
    if settings.create_default_worker:
        await db.run(ensure_default_worker, db)
    await lifecycle.start()
    await recovery.run_once()
    recovery.start()
    daemon = SafetyNet(scheduler, settings.scheduler_check_interval_s)
    daemon.start()
    return Services(settings, db, tokens, log_files, lifecycle, scheduler, recovery, daemon)


async def close_services(svc: Services) -> None:
    """Stop every worker gracefully, then close files and the database."""
    svc.recovery.stop()
    svc.safety_net.stop()
    await svc.lifecycle.shutdown()
    await svc.scheduler.writer.close()
    svc.log_files.close_all()
    svc.db.close()


def create_app(settings: MasterSettings) -> FastAPI:
    """Build the master's application for ``settings``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = await open_services(settings)
        app.state.services = svc
        log.info("master ready at %s", settings.url)
        try:
            yield
        finally:
            await close_services(svc)
            log.info("master stopped")

    app = FastAPI(title="corral", version=__version__, lifespan=lifespan)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    # Outermost: the workers' exchange skips the framework (see exchange_lane).
    app.add_middleware(
        ExchangeLane, services=lambda: app.state.services, max_bytes=settings.max_body_bytes
    )
    install_error_handlers(app)
    # Routes are matched in order: the workers' exchange and job submission first.
    app.include_router(agent.router)
    for module in (jobs, worker_configs, workers):
        app.include_router(module.router, prefix=API_PREFIX)

    @app.get(API_PREFIX + "/health", tags=["master"])
    async def master_health() -> dict[str, str]:
        """The master answers: it is up and its lifespan has started."""
        return {"status": "ok", "version": __version__}

    return app
