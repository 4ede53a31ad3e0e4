"""The ``corral`` command line: run the master or a worker, submit and watch jobs and workers."""

import click

from corral.cli.apply import apply
from corral.cli.audit import audit
from corral.cli.context import CorralGroup, Target
from corral.cli.down import down
from corral.cli.jobs import jobs
from corral.cli.keys import keys
from corral.cli.serve import master, up, worker
from corral.cli.status import status
from corral.cli.submit import submit
from corral.cli.tls import tls
from corral.cli.workers import workers


@click.group(cls=CorralGroup)
@click.version_option(package_name="corral")
@click.option(
    "--url",
    envvar="CORRAL_URL",
    help="The master's URL (env CORRAL_URL) [default: http://127.0.0.1:8700]",
)
@click.option(
    "--token",
    envvar="CORRAL_TOKEN",
    help="Admin token (env CORRAL_TOKEN) [default: from $CORRAL_DATA_DIR, or the nearest .corral]",
)
@click.option(
    "--ca",
    envvar="CORRAL_CA",
    type=click.Path(dir_okay=False),
    help="CA bundle (PEM) the master's certificate must chain to (env CORRAL_CA)",
)
@click.option(
    "--fingerprint",
    envvar="CORRAL_FINGERPRINT",
    metavar="SHA256:...",
    help="Trust only the master certificate with this fingerprint (env CORRAL_FINGERPRINT)",
)
@click.pass_context
def main(
    ctx: click.Context,
    url: str | None,
    token: str | None,
    ca: str | None,
    fingerprint: str | None,
) -> None:
    """corral: keep workers alive and run jobs on the CPUs they need.

    Errors exit 1 with a one-line message; wrong usage exits 2.
    Shell completion: eval "$(_CORRAL_COMPLETE=bash_source corral)" (or zsh_source, fish_source).
    """
    ctx.obj = Target(url=url, token=token, ca=ca, fingerprint=fingerprint)


for command in (up, master, worker, status, down, submit, jobs, workers, apply, audit, keys, tls):
    main.add_command(command)

__all__ = ["main"]
