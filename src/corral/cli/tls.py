"""``corral tls``: a key and a self-signed certificate, the easy way to serve over HTTPS."""

import ipaddress
from pathlib import Path

import click


def _ip(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[str]:
    """Refuse what is not an IP address, naming it."""
    for value in values:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise click.BadParameter(f"not an IP address: {value!r}") from None
    return list(values)


@click.group()
def tls() -> None:
    """Certificates for serving the master over HTTPS."""


@tls.command("self-signed")
@click.option("--host", "hosts", multiple=True, help="DNS name clients use (repeatable).")
@click.option(
    "--ip", "ips", multiple=True, callback=_ip, help="IP address clients use (repeatable)."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for master.key (mode 0600) and master.crt.",
)
def self_signed(hosts: tuple[str, ...], ips: list[str], out: Path) -> None:
    """Make a key and a self-signed certificate; print the fingerprint workers pin."""
    from corral.self_signed import write_pair

    if not hosts and not ips:
        raise click.UsageError("name the master: --host NAME and/or --ip ADDRESS")
    try:
        cert, key, fingerprint = write_pair(out, list(hosts), ips)
    except (OSError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"key: {key}\ncertificate: {cert}\nfingerprint: {fingerprint}")
    click.echo(f"serve it: corral up --tls-cert {cert} --tls-key {key}")
    click.echo(f"workers elsewhere: corral worker --master-fingerprint {fingerprint} ...")
