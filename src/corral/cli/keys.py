"""``corral keys``: the data key that seals the secrets stored in the database."""

from pathlib import Path

import click

from corral.errors import AnotherMasterError, MasterStartError
from corral.settings import from_env


@click.group()
def keys() -> None:
    """The data key (DATA/data.key) that seals the secrets stored in the database."""


@keys.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The master's data folder [default: ./.corral]",
)
@click.option(
    "--database-url",
    envvar="CORRAL_DATABASE_URL",
    help="postgresql://user@host/db [default: SQLite in the data dir]",
)
def rotate(data_dir: Path | None, database_url: str | None) -> None:
    """Seal every stored secret under a new data key, then retire the old ones.

    Run it while the master is stopped: it refuses while a master holds the data
    folder or the database. Safe to run again after it was interrupted.
    """
    from corral.master.key_rotation import rotate as rotate_keys

    try:
        settings = from_env().with_overrides(data_dir=data_dir, database_url=database_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        done = rotate_keys(settings)
    except AnotherMasterError as exc:
        raise click.ClickException(f"stop the master first: {exc}") from exc
    except MasterStartError as exc:
        raise click.ClickException(str(exc)) from exc
    sealed = done.resealed
    values = f"{sealed.values} stored secret value{'' if sealed.values == 1 else 's'}"
    retired = f"key{'s' if len(done.retired) > 1 else ''} {', '.join(done.retired)}"
    click.echo(f"data key {done.key_id} now seals {values}; retired {retired}")
    for line in sealed.unopened:
        click.echo(f"warning: {line}; left as it was (no key opens it)", err=True)
