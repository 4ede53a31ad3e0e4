"""The options of ``corral workers add`` and ``edit``: every field of the config API."""

import os
from collections.abc import Iterable, Mapping
from typing import Any

import click

DEPLOYMENT_TYPES = ["local", "ssh", "docker", "kubernetes"]
LAUNCHER_KEYS = ["ssh_user", "ssh_key_path", "docker_image", "k8s_namespace", "k8s_image"]
# Options whose value is one field of the body, as given.
SCALARS = [
    "name",
    "deployment_type",
    "host",
    "port",
    "cpus",
    "max_accounts",
    "run_as",
    "auto_start",
    "auto_restart",
    "max_restart_attempts",
    "restart_delay_ms",
]


def pairs(values: Iterable[str], what: str) -> dict[str, str]:
    """``KEY=VALUE`` arguments as a dict; a usage error names the one without ``=``."""
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"{what} {item!r}: write it as KEY=VALUE")
        result[key] = value
    return result


def cpu_ids(text: str | None) -> list[int] | None:
    """``0,1,4`` as a list of CPU ids."""
    if text is None:
        return None
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        raise click.UsageError(f"--cpu-ids {text!r}: write CPU numbers as 0,1,4") from None
    if any(i < 0 for i in ids):
        raise click.UsageError(f"--cpu-ids {text!r}: CPU numbers start at 0")
    return ids


def secrets_from(names: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values of the named variables, from this environment; refused when one is unset."""
    env = os.environ if environ is None else environ
    missing = [name for name in names if name not in env]
    if missing:
        raise click.UsageError(
            f"--secret-env {', '.join(missing)}: not set in your environment "
            "(the value of a secret variable is read from the environment of the caller)"
        )
    return {name: env[name] for name in names}


def body(opts: Mapping[str, Any]) -> dict[str, Any]:
    """The config fields the options set, as the API takes them."""
    fields = {name: opts[name] for name in SCALARS if opts.get(name) is not None}
    ids = cpu_ids(opts.get("cpu_ids"))
    if ids is not None:
        fields["cpu_ids"] = ids
    if opts.get("label"):
        fields["labels"] = pairs(opts["label"], "--label")
    if opts.get("env"):
        fields["env"] = pairs(opts["env"], "--env")
    if opts.get("secret_env"):
        fields["secret_env"] = secrets_from(opts["secret_env"])
    if opts.get("launcher"):
        fields["launcher"] = pairs(opts["launcher"], "--launcher")
    if opts.get("allow_run_as"):
        fields["allowed_run_as"] = list(opts["allow_run_as"])
    return fields


def config_options(fn: click.decorators.FC) -> click.decorators.FC:
    """Decorate a command with one option per config field."""
    many: dict[str, Any] = {"multiple": True, "metavar": "KEY=VALUE"}
    options = [
        click.option("--name", help="A display name [default: the id]."),
        click.option("--deployment-type", type=click.Choice(DEPLOYMENT_TYPES)),
        click.option("--host", help="Host of a remote worker."),
        click.option("--port", type=click.IntRange(1, 65535)),
        click.option("--cpus", type=click.IntRange(1, 4096), help="CPUs its jobs may use."),
        click.option("--cpu-ids", metavar="0,1", help="Pin a local worker to these CPUs."),
        click.option("--max-accounts", type=click.IntRange(0, 4096)),
        click.option("--label", **many, help="A label jobs can ask for (repeatable)."),
        click.option("--env", **many, help="A variable of its jobs' environment (repeatable)."),
        click.option(
            "--secret-env",
            multiple=True,
            metavar="NAME",
            help="A secret variable of its jobs; its value is read from your environment.",
        ),
        click.option("--launcher", **many, help=f"A launcher setting: {', '.join(LAUNCHER_KEYS)}."),
        click.option("--run-as", metavar="USER[:GROUP]", help="Whom its jobs run as."),
        click.option("--allow-run-as", multiple=True, metavar="USER[:GROUP]"),
        click.option("--auto-start/--no-auto-start", default=None),
        click.option("--auto-restart/--no-auto-restart", default=None),
        click.option("--max-restart-attempts", type=click.IntRange(0, 10000)),
        click.option("--restart-delay-ms", type=click.IntRange(0, 3_600_000)),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn
