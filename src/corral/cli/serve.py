"""Commands that run corral itself: the master, the embedded mode, a worker agent."""

import logging
from pathlib import Path

import click

from corral.errors import MasterStartError
from corral.settings import DEFAULT_PORT, from_env


def _setup_logging(verbose: bool) -> None:
    """Timestamped lines on stderr."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic says at INFO what it checks on every start: -v shows it.
    logging.getLogger("alembic").setLevel(logging.DEBUG if verbose else logging.WARNING)


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
            click.option(
                "--insecure-no-auth",
                is_flag=True,
                default=None,
                help="Serve without tokens (loopback only): any local user may then run jobs.",
            ),
            click.option("-v", "--verbose", is_flag=True, help="Debug logging."),
        ]
    ):
        fn = option(fn)
    return fn


def _serve(create_default: bool, **opts: object) -> None:
    """Build settings from env and flags, then run the master until signalled."""
    from corral.master.main import run_master

    _setup_logging(bool(opts.pop("verbose")))
    try:
        settings = from_env().with_overrides(**opts)
        settings.check()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if create_default:
        settings = settings.with_overrides(create_default_worker=True)
    try:
        code = run_master(settings)
    except MasterStartError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(code)


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


@click.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def worker(args: tuple[str, ...]) -> None:
    """Run a worker agent (--help for its options; its token comes from --token-file or stdin)."""
    # The worker parses its own arguments: it also runs as `python -m corral.worker`,
    # without click.
    from corral.worker.main import main as worker_main

    raise SystemExit(worker_main(list(args)))
