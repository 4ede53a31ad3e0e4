"""What the client commands share: where the master is, and how its errors are reported."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from corral.client import Client

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
    client = Client(
        url=target.url, token=target.token, ca=target.ca, fingerprint=target.fingerprint
    )
    return ctx.with_resource(client)


def error_message(exc: Exception) -> str | None:
    """The one line to print for a client error; None for anything else."""
    from corral.client import ApiError, ClientError

    if isinstance(exc, ApiError) and exc.status == 401:
        return f"{exc} ({TOKEN_HINT})"
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
            message = error_message(exc)
            if message is None:
                raise
            raise click.ClickException(message) from exc
