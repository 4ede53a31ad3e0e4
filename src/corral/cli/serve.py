"""Commands that run corral itself: the master, the embedded mode, a worker agent."""

import logging
from pathlib import Path

import click

from corral.settings import DEFAULT_PORT, from_env


def _setup_logging(verbose: bool) -> None:
    """Timestamped lines on stderr."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _master_options(fn: click.decorators.FC) -> click.decorators.FC:
    """Options shared by ``up`` and ``master``."""
    for option in reversed(
        [
            click.option(
                "--data-dir",
                type=click.Path(file_okay=False, path_type=Path),
                help="Folder for the database, logs and tokens [default: ./.corral]",
            ),
            click.option("--host", help="Address to bind [default: 127.0.0.1]"),
            click.option(
                "--port",
                type=click.IntRange(0, 65535),
                help=f"Port to bind [default: {DEFAULT_PORT}]",
            ),
            click.option(
                "--database-url",
                envvar="CORRAL_DATABASE_URL",
                help="postgresql://user@host/db [default: SQLite in the data dir]",
            ),
            click.option("-v", "--verbose", is_flag=True, help="Debug logging."),
        ]
    ):
        fn = option(fn)
    return fn


def _serve(create_default: bool, **opts: object) -> None:
    """Build settings from env and flags, then run the master until signalled."""
    from corral.master.server import run_master

    _setup_logging(bool(opts.pop("verbose")))
    try:
        settings = from_env().with_overrides(**opts)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if create_default:
        settings = settings.with_overrides(create_default_worker=True)
    raise SystemExit(run_master(settings))


@click.command()
@_master_options
def up(**opts: object) -> None:
    """Embedded mode: master on SQLite with a local worker, on 127.0.0.1."""
    _serve(create_default=True, **opts)


@click.command()
@_master_options
def master(**opts: object) -> None:
    """Run the master (API, lifecycle manager) with the configured database."""
    _serve(create_default=False, **opts)


@click.command()
@click.option(
    "--master",
    "master_url",
    envvar="CORRAL_MASTER_URL",
    required=True,
    help="The master's URL, e.g. http://127.0.0.1:8700",
)
@click.option("--worker-id", envvar="CORRAL_WORKER_ID", required=True, help="This worker's id.")
@click.option("--heartbeat-interval", type=float, help="Seconds between heartbeats.")
def worker(master_url: str, worker_id: str, heartbeat_interval: float | None) -> None:
    """Run a worker agent (its token comes from CORRAL_WORKER_TOKEN)."""
    from corral.worker.main import main as worker_main

    argv = ["--master", master_url, "--worker-id", worker_id]
    if heartbeat_interval is not None:
        argv += ["--heartbeat-interval", str(heartbeat_interval)]
    raise SystemExit(worker_main(argv))
