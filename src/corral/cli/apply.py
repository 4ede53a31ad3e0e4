"""``corral apply``: make the stored worker configs match a ``corral.toml``, field by field.

Only the fields a table gives are managed: a field the file leaves out keeps its value.
Secret values cannot be read back, so they are sent when the set of names changes.
"""

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from corral.cli.context import open_client
from corral.cli.fleet_file import DEFAULT_FILE, FleetFile, FleetFileError, load

if TYPE_CHECKING:
    from corral.client import Client

ARROW = "→"


@dataclass
class Change:
    """One worker to add (+), change (~) or remove (-), and what is said about it."""

    sign: str
    worker_id: str
    lines: list[str] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    """Every change, and the workers left as they are."""

    changes: list[Change]
    unchanged: list[str]
    kept: list[str]  # stored, not in the file, and not pruned

    def count(self, sign: str) -> int:
        """How many changes of one kind."""
        return sum(c.sign == sign for c in self.changes)


def show(value: Any) -> str:
    """A value as the plan prints it."""
    if value is None:
        return "-"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _secret_line(had: list[str], wanted: list[str]) -> str:
    """What happens to secret variables, without their values."""
    parts = [f"{n} set" for n in wanted if n not in had]
    parts += [f"{n} kept, value set" for n in wanted if n in had]
    parts += [f"{n} removed" for n in had if n not in wanted]
    return "secret_env: " + ", ".join(parts)


def diff(
    fleet: FleetFile, worker_id: str, have: Mapping[str, Any], env: Mapping[str, str]
) -> Change:
    """The fields of one stored config that differ from the file's table."""
    wanted, change = fleet.workers[worker_id], Change("~", worker_id)
    for key, value in wanted.items():
        if key == "secret_env":
            had = list(have.get("secret_env_keys", []))
            if sorted(had) != sorted(value):
                change.lines.append(_secret_line(had, value))
                change.body[key] = fleet.body(worker_id, env)[key]
        elif have.get(key) != value:
            change.lines.append(f"{key}: {show(have.get(key))} {ARROW} {show(value)}")
            change.body[key] = value
    return change


def plan(
    fleet: FleetFile, stored: list[dict[str, Any]], prune: bool, env: Mapping[str, str]
) -> Plan:
    """What applying the file would do to the stored configs."""
    have = {c["worker_id"]: c for c in stored}
    changes, unchanged = [], []
    for worker_id, wanted in fleet.workers.items():
        if worker_id not in have:
            lines = [f"{k}: {show(v)}" for k, v in wanted.items() if k != "secret_env"]
            if "secret_env" in wanted:
                lines.append(_secret_line([], wanted["secret_env"]))
            changes.append(Change("+", worker_id, lines, fleet.body(worker_id, env)))
            continue
        change = diff(fleet, worker_id, have[worker_id], env)
        if change.lines:
            changes.append(change)
        else:
            unchanged.append(worker_id)
    extra = [w for w in have if w not in fleet.workers]
    if prune:
        changes += [Change("-", w) for w in extra]
    return Plan(changes, unchanged, [] if prune else extra)


def render(plan: Plan) -> list[str]:
    """The plan as lines: each change and its fields, then the rest in one line each."""
    lines = []
    for change in plan.changes:
        lines.append(f"{change.sign} {change.worker_id}")
        lines += [f"    {line}" for line in change.lines]
    if plan.unchanged:
        lines.append(f"= unchanged: {', '.join(plan.unchanged)}")
    if plan.kept:
        lines.append(f"= not in the file, kept (--prune removes them): {', '.join(plan.kept)}")
    return lines


def execute(client: "Client", fleet: FleetFile, plan: Plan) -> None:
    """Make the changes in the order planned; an error names the table it came from."""
    from corral.client import ClientError

    for change in plan.changes:
        try:
            if change.sign == "+":
                client.add_worker(change.worker_id, **change.body)
            elif change.sign == "~":
                client.edit_worker(change.worker_id, **change.body)
            else:
                client.remove_worker(change.worker_id)
        except ClientError as exc:
            where = fleet.where(f"workers.{change.worker_id}")
            raise FleetFileError(f"{where}: refused by the master: {exc}") from exc


def apply_file(
    client: "Client",
    fleet: FleetFile,
    echo: Callable[[str], None],
    dry_run: bool = False,
    prune: bool = False,
    env: Mapping[str, str] | None = None,
) -> Plan:
    """Print the plan, then (unless a dry run) carry it out and say what was done."""
    the_plan = plan(fleet, client.workers(), prune, os.environ if env is None else env)
    for line in render(the_plan):
        echo(line)
    counts = f"{the_plan.count('+')} to add, {the_plan.count('~')} to change, "
    counts += f"{the_plan.count('-')} to remove"
    if dry_run:
        echo(f"dry run: {counts}; nothing changed")
        return the_plan
    execute(client, fleet, the_plan)
    echo(f"applied {fleet.path}: {counts.replace(' to ', ' ')}")
    return the_plan


@click.command()
@click.argument(
    "file", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_FILE, required=False
)
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
@click.option("--prune", is_flag=True, help="Also remove configs the file does not list.")
@click.pass_context
def apply(ctx: click.Context, file: Path, dry_run: bool, prune: bool) -> None:
    """Make the master's worker configs match FILE [default: ./corral.toml].

    Prints each change field by field (+ add, ~ change, - remove), then makes it.
    Fields a table leaves out keep their values; secret values are read from your
    environment and sent when the set of names changes (never printed).
    """
    try:
        fleet = load(file)
        apply_file(open_client(ctx), fleet, click.echo, dry_run=dry_run, prune=prune)
    except FleetFileError as exc:
        raise click.ClickException(str(exc)) from exc
