"""``corral down``: stop the master gracefully from anywhere the API reaches, and wait for it."""

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from corral.cli.context import answered, open_client

if TYPE_CHECKING:
    from corral.client import Client

# How often to ask whether the master has gone, once it was told to stop.
POLL_S = 0.2


@click.command()
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Seconds to wait for it to stop; exit 1 if it is still up then.",
)
@click.pass_context
def down(ctx: click.Context, timeout: float) -> None:
    """Stop the master as SIGTERM would (workers drain, then stop) and wait until it is gone.

    Works for a remote master too: it goes through the API (POST /api/v1/master/shutdown,
    kept in the audit trail). Exits 0 once it has stopped, 3 when none was running.
    """
    client = open_client(ctx)
    info = answered(ctx, client.shutdown)
    click.echo(f"stopping the master at {info['url']} (pid {info['pid']})", err=True)
    deadline = time.monotonic() + timeout
    while not _gone(client, info):
        if time.monotonic() >= deadline:
            raise click.ClickException(f"the master is still running after {timeout:g} s")
        # Nothing to wait on from afar but its port (and, on this host, its process).
        time.sleep(POLL_S)
    click.echo("master stopped", err=True)


def _gone(client: "Client", info: dict[str, Any]) -> bool:
    """Whether the master no longer answers and, on this host, its process has ended."""
    from corral.client import MasterUnreachableError

    try:
        client.request("GET", "/health")
    except MasterUnreachableError:
        return info["host"] != socket.gethostname() or not _alive(info["pid"])
    return False


def _alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting to be reaped has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
