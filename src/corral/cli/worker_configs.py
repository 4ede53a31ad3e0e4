"""``corral workers add|edit|rm|show``: a worker's config, by hand."""

from typing import Any

import click

from corral.cli.context import open_client
from corral.cli.output import cell, is_terminal, print_json, print_rows
from corral.cli.worker_fields import body, config_options, secrets_from

# What --clear empties: null for the values, nothing for the lists.
CLEARABLE: dict[str, Any] = dict.fromkeys(["host", "port", "cpus", "cpu_ids", "run_as"])
CLEARABLE["allowed_run_as"] = []
# Fields shown side by side in `show`: (row, config field, status field).
PAIRED = [
    ("state", "-", "state"),
    ("desired state", "-", "desired_state"),
    ("cpus", "cpus", "cpus"),
    ("cpu_ids", "cpu_ids", "cpu_ids"),
    ("run_as", "run_as", "job_user"),
]
ACTIVE = ("starting", "running", "stopping")


@click.command()
@click.argument("worker_id")
@config_options
@click.pass_context
def add(ctx: click.Context, /, worker_id: str, **opts: Any) -> None:
    """Add a worker config; it starts at once unless --no-auto-start."""
    config = open_client(ctx).add_worker(worker_id, **body(opts))
    click.echo(f"added {config['worker_id']}")


@click.command()
@click.argument("worker_id")
@config_options
@click.option("--rm-label", multiple=True, metavar="KEY", help="Remove a label.")
@click.option("--rm-env", multiple=True, metavar="NAME", help="Remove a variable.")
@click.option("--rm-secret-env", multiple=True, metavar="NAME", help="Remove a secret variable.")
@click.option("--rm-launcher", multiple=True, metavar="KEY", help="Remove a launcher setting.")
@click.option("--clear", multiple=True, type=click.Choice(sorted(CLEARABLE)), help="Unset a field.")
@click.pass_context
def edit(ctx: click.Context, /, worker_id: str, **opts: Any) -> None:
    """Change the given fields only; a running worker uses them from its next start.

    Labels, variables and launcher settings are added to (or removed from) the ones it
    has. Secret values cannot be read back: every secret it keeps must be named again
    with --secret-env (its value read from your environment), or removed with
    --rm-secret-env.
    """
    client = open_client(ctx)
    current = client.worker_config(worker_id)
    changes = body({k: v for k, v in opts.items() if k not in ("label", "env", "launcher")})
    for field, given, removed in (
        ("labels", "label", "rm_label"),
        ("env", "env", "rm_env"),
        ("launcher", "launcher", "rm_launcher"),
    ):
        if opts[given] or opts[removed]:
            merged = {**current[field], **body({given: opts[given]}).get(field, {})}
            changes[field] = {k: v for k, v in merged.items() if k not in opts[removed]}
    if opts["secret_env"] or opts["rm_secret_env"]:
        changes["secret_env"] = _secrets(current, opts["secret_env"], opts["rm_secret_env"])
    changes |= {field: CLEARABLE[field] for field in opts["clear"]}
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    client.edit_worker(worker_id, **changes)
    click.echo(f"changed {worker_id}: {', '.join(sorted(changes))}")


def _secrets(current: dict[str, Any], names: tuple[str, ...], removed: tuple[str, ...]) -> Any:
    """The whole new set of secret variables; refused if it would drop one unsaid."""
    dropped = sorted(set(current["secret_env_keys"]) - set(names) - set(removed))
    if dropped:
        raise click.UsageError(
            f"secret values cannot be read back: name {', '.join(dropped)} again with "
            "--secret-env (its value read from your environment) or remove it with --rm-secret-env"
        )
    return secrets_from(names)


@click.command()
@click.argument("worker_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Stop it first if it runs (its jobs are requeued).")
@click.pass_context
def rm(ctx: click.Context, worker_id: str, yes: bool, force: bool) -> None:
    """Delete a worker config (its event history stays)."""
    client = open_client(ctx)
    state = client.worker_status(worker_id)["state"]
    if state in ACTIVE and not force:
        raise click.ClickException(
            f"{worker_id} is {state}: stop it first (corral workers stop {worker_id}), "
            "or pass --force to stop it gracefully and delete it"
        )
    if not yes:
        click.confirm(f"Delete the config of worker {worker_id} ({state})?", abort=True)
    client.remove_worker(worker_id)
    click.echo(f"removed {worker_id}")


@click.command()
@click.argument("worker_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, worker_id: str, as_json: bool) -> None:
    """A worker's config and its runtime side by side (secret names, never their values)."""
    client = open_client(ctx)
    config, status = client.worker_config(worker_id), client.worker_status(worker_id)
    if as_json:
        print_json({"config": config, "status": status})
        return
    print_rows(["FIELD", "CONFIG", "RUNTIME"], side_by_side(config, status))


def side_by_side(config: dict[str, Any], status: dict[str, Any]) -> list[list[str]]:
    """Rows of field, configured value, observed value ('-' where one side has none)."""
    status = {**status, "cpus": len(status["cpu_ids"]) if status["state"] == "running" else None}
    rows = [[row, cell(config.get(c)), cell(status.get(s))] for row, c, s in PAIRED]
    shown = {c for _, c, _ in PAIRED} | {s for _, _, s in PAIRED} | {"worker_id"}
    rows += [[k, cell(v), "-"] for k, v in config.items() if k not in shown]
    rows += [[k, "-", cell(v)] for k, v in status.items() if k not in shown | set(config)]
    if not is_terminal():
        return rows
    return [["worker_id", config["worker_id"], ""], *rows]
