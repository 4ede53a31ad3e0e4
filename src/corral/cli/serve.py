"""Commands that run corral itself: the master, the embedded mode, a worker agent."""

import logging
from pathlib import Path

import click

from corral.cli.fleet_file import DEFAULT_FILE, FleetFile, FleetFileError, load
from corral.cli.up_fleet import apply_when_up, check_secrets
from corral.errors import MasterStartError
from corral.settings import DEFAULT_PORT, MasterSettings, from_env


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
            click.option(
                "--tls-cert",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Serve HTTPS with this PEM certificate (chain) [env CORRAL_TLS_CERT]",
            ),
            click.option(
                "--tls-key",
                type=click.Path(dir_okay=False, path_type=Path),
                help="The certificate's PEM private key, mode 0600 [env CORRAL_TLS_KEY]",
            ),
            click.option("-v", "--verbose", is_flag=True, help="Debug logging."),
        ]
    ):
        fn = option(fn)
    return fn


def _serve(create_default: bool, fleet: FleetFile | None, opts: dict[str, object]) -> None:
    """Build settings from the file, env and flags (flags win), then run the master."""
    from corral.master.main import run_master

    _setup_logging(bool(opts.pop("verbose")))
    try:
        settings = from_env(base=fleet.settings() if fleet else None).with_overrides(**opts)
        settings.check()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if create_default:
        settings = settings.with_overrides(create_default_worker=True)

    def apply_fleet(claimed: MasterSettings) -> None:
        if fleet is not None and fleet.workers:
            apply_when_up(claimed, fleet)

    try:
        code = run_master(settings, on_claimed=apply_fleet)
    except MasterStartError as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(code)


@click.command()
@_master_options
@click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A corral.toml [default: ./corral.toml when there is one]",
)
def up(config: Path | None, **opts: object) -> None:
    """Embedded mode: master on SQLite with a local worker, on 127.0.0.1.

    With a corral.toml, its [master] settings apply, then CORRAL_* variables over them,
    then flags over both; its [workers.ID] tables are applied once the master answers
    (as `corral apply` does, without --prune), and no default worker is made.
    """
    fleet = _fleet(config)
    _serve(not (fleet and fleet.workers), fleet, opts)


def _fleet(config: Path | None) -> FleetFile | None:
    """The checked file given, or ./corral.toml when present; a usage error says what is wrong."""
    path = config or (DEFAULT_FILE if DEFAULT_FILE.is_file() else None)
    if path is None:
        return None
    try:
        fleet = load(path)
        check_secrets(fleet)
    except FleetFileError as exc:
        raise click.UsageError(str(exc)) from exc
    return fleet


@click.command()
@_master_options
def master(**opts: object) -> None:
    """Run the master (API, lifecycle manager) with the configured database."""
    _serve(False, None, opts)


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
