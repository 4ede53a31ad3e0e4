"""What the client commands share: where the master is, and how its errors are reported."""

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from corral.cli.exit_codes import NOT_RUNNING

if TYPE_CHECKING:
    from corral.client import Client

T = TypeVar("T")
# Not a secret: what to do when the admin token is missing or wrong.
TOKEN_HINT = "pass --token, set CORRAL_TOKEN, or set CORRAL_DATA_DIR to the master's data folder"  # noqa: S105


@dataclass(frozen=True)
class Target:
    """The master the command talks to, from the global options."""

    url: str | None = None
    token: str | None = field(default=None, repr=False)
    ca: str | None = None
    fingerprint: str | None = None


def open_client(ctx: click.Context) -> "Client":
    """A client for the master named by the global options (closed with the context)."""
    from corral.client import Client

    target = ctx.find_object(Target) or Target()
    url, folder = where(target)
    client = Client(
        url=url, token=target.token, data_dir=folder, ca=target.ca, fingerprint=target.fingerprint
    )
    client.on_lost = lambda message: click.echo(f"corral: {message}; retrying", err=True)
    return ctx.with_resource(client)


def data_folder() -> Path:
    """The data folder the CLI reads: $CORRAL_DATA_DIR, else the nearest .corral."""
    from corral.client.api import default_data_dir

    given = os.environ.get("CORRAL_DATA_DIR")
    return (Path(given) if given else default_data_dir()).resolve()


def where(target: Target) -> tuple[str, Path]:
    """The master's URL and the data folder: --url, else the folder's master, else the default."""
    from corral.client.trust import DEFAULT_URL

    folder = data_folder()
    return (target.url or _recorded_url(folder) or DEFAULT_URL).rstrip("/"), folder


def _recorded_url(folder: Path) -> str | None:
    """The URL the folder's master wrote in its lock file ("pid N, URL, on HOST")."""
    try:
        holder = (folder / "master.lock").read_text()
    except OSError:
        return None
    parts = holder.strip().split(", ")
    return parts[1] if len(parts) == 3 and parts[1].startswith("http") else None


def not_running(target: Target) -> str:
    """The message for a master that does not answer: where we looked, what to do."""
    url, folder = where(target)
    return f"no master running at {url} (looked in {folder}); start one with `corral up`"


def answered(ctx: click.Context, call: "Callable[[], T]") -> T:
    """The master's answer to ``call``; when none answers, say so and exit NOT_RUNNING."""
    from corral.client import MasterUnreachableError

    try:
        return call()
    except MasterUnreachableError:
        click.echo(not_running(ctx.find_object(Target) or Target()), err=True)
        ctx.exit(NOT_RUNNING)


def error_message(exc: Exception, target: Target) -> str | None:
    """The one line to print for a client error; None for anything else."""
    import httpx

    from corral.client import ApiError, ClientError

    if isinstance(exc, ApiError) and exc.status == 401:
        return f"{exc} ({TOKEN_HINT})"
    if isinstance(exc.__cause__, httpx.ConnectError):
        return not_running(target)
    if isinstance(exc, ClientError):
        return str(exc)
    return None


class CorralGroup(click.Group):
    """A group that turns client errors into one-line messages and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a ClientError becomes a ClickException."""
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as exc:
            message = error_message(exc, ctx.find_object(Target) or Target())
            if message is None:
                raise
            raise click.ClickException(message) from exc
