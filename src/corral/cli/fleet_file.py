"""``corral.toml``: the master's settings and the fleet's worker configs, checked field by field.

Errors name the file, the table and the field: ``corral.toml: [workers.gpu] cpus: must be
an integer ≥ 1``. Secrets are named, never written: their values come from the environment
of whoever applies the file.
"""

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from corral.cli.worker_fields import DEPLOYMENT_TYPES, LAUNCHER_KEYS
from corral.domain.ids import WORKER_ID_PATTERN
from corral.settings import MasterSettings

DEFAULT_FILE = Path("corral.toml")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Settings a file does not choose: the command does.
NOT_IN_FILE = frozenset({"create_default_worker"})
Check = Callable[[Any], Any]


class FleetFileError(ValueError):
    """A file that cannot be read or applied; the message names where and why."""


def integer(low: int, high: int) -> Check:
    """An integer from ``low`` to ``high`` (true and false are not numbers)."""

    def check(value: Any) -> int:
        if type(value) is not int or value < low:
            raise ValueError(f"must be an integer ≥ {low}")
        if value > high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return check


def number(value: Any) -> float:
    """A number of seconds or a ratio, zero or more."""
    if type(value) not in (int, float) or value < 0:
        raise ValueError("must be a number ≥ 0")
    return float(value)


def text(value: Any) -> str:
    """A string."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def boolean(value: Any) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def one_of(*choices: str) -> Check:
    """One of the given strings."""

    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return str(value)

    return check


def strings(value: Any) -> dict[str, str]:
    """A table of strings."""
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError('must be a table of strings, such as { zone = "a" }')
    return dict(value)


def launcher(value: Any) -> dict[str, str]:
    """Per-launcher settings, each one it knows."""
    table = strings(value)
    unknown = sorted(set(table) - set(LAUNCHER_KEYS))
    if unknown:
        raise ValueError(f"unknown {', '.join(unknown)}: known are {', '.join(LAUNCHER_KEYS)}")
    return table


def names(value: Any) -> list[str]:
    """A list of strings (users)."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('must be a list of strings, such as ["nobody"]')
    return list(value)


def secret_names(value: Any) -> list[str]:
    """Names of variables whose values come from the environment, never a value."""
    if isinstance(value, dict):
        raise ValueError(
            'name the variables only, such as ["API_KEY"]: their values are read from the '
            "environment of whoever applies the file, never from the file"
        )
    listed = names(value)
    bad = [n for n in listed if not ENV_NAME.match(n)]
    if bad:
        raise ValueError(f"not a variable name: {', '.join(bad)}")
    return listed


def cpu_list(value: Any) -> list[int]:
    """CPU ids, each once."""
    if not isinstance(value, list) or not value or not all(type(v) is int for v in value):
        raise ValueError("must be a list of CPU numbers, such as [0, 1]")
    if min(value) < 0 or len(set(value)) != len(value):
        raise ValueError("must name CPUs from 0 up, each once")
    return sorted(value)


WORKER_FIELDS: dict[str, Check] = {
    "name": text,
    "deployment_type": one_of(*DEPLOYMENT_TYPES),
    "host": text,
    "port": integer(1, 65535),
    "cpus": integer(1, 4096),
    "cpu_ids": cpu_list,
    "max_accounts": integer(0, 4096),
    "labels": strings,
    "env": strings,
    "secret_env": secret_names,
    "launcher": launcher,
    "run_as": text,
    "allowed_run_as": names,
    "auto_start": boolean,
    "auto_restart": boolean,
    "max_restart_attempts": integer(0, 10000),
    "restart_delay_ms": integer(0, 3_600_000),
}


def _setting_check(kind: Any) -> Check:
    """The check of a MasterSettings field, from its type."""
    spelled = str(kind)
    if "bool" in spelled:
        return boolean
    if "int" in spelled:
        return integer(0, 2**63 - 1)
    if "float" in spelled:
        return number
    return text


MASTER_FIELDS: dict[str, Check] = {
    f.name: _setting_check(f.type) for f in fields(MasterSettings) if f.name not in NOT_IN_FILE
}
# Settings that name files or folders: a relative one is relative to the file's folder.
PATH_FIELDS = {f.name for f in fields(MasterSettings) if "Path" in str(f.type)}


@dataclass(frozen=True)
class FleetFile:
    """A checked file: settings for the master, and each worker's config fields."""

    path: Path
    master: dict[str, Any]
    workers: dict[str, dict[str, Any]]

    def where(self, table: str) -> str:
        """How errors name a table of this file."""
        return f"{self.path}: [{table}]"

    def body(self, worker_id: str, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A worker's fields as the config API takes them, secret values from the environment."""
        fields = dict(self.workers[worker_id])
        if "secret_env" in fields:
            env = os.environ if environ is None else environ
            missing = [n for n in fields["secret_env"] if n not in env]
            if missing:
                raise FleetFileError(
                    f"{self.where('workers.' + worker_id)} secret_env: "
                    f"{', '.join(missing)} not set in the environment"
                )
            fields["secret_env"] = {n: env[n] for n in fields["secret_env"]}
        return fields

    def settings(self) -> MasterSettings:
        """The master's settings from the file over the defaults (a relative path, such as
        data_dir or tls_cert, is relative to the file's folder)."""
        values = dict(self.master)
        for name in PATH_FIELDS & values.keys():
            values[name] = self.path.parent / Path(values[name]).expanduser()
        return MasterSettings(**values)


def load(path: Path) -> FleetFile:
    """Read and check a file; FleetFileError says what is wrong and where."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FleetFileError(f"{path}: cannot read it: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FleetFileError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"master", "workers"})
    if unknown:
        raise FleetFileError(
            f"{path}: unknown table {', '.join(unknown)}: use [master] and [workers.ID]"
        )
    master = _table(path, "master", data.get("master", {}), MASTER_FIELDS)
    workers_table = data.get("workers", {})
    if not isinstance(workers_table, dict):
        raise FleetFileError(f"{path}: workers must be tables, such as [workers.batch-1]")
    workers = {}
    for worker_id, table in workers_table.items():
        if not re.fullmatch(WORKER_ID_PATTERN, worker_id):
            raise FleetFileError(
                f"{path}: [workers.{worker_id}]: not a worker id: use 1-63 lowercase letters, "
                "digits, '-' or '_', starting with a letter or digit"
            )
        workers[worker_id] = _table(path, f"workers.{worker_id}", table, WORKER_FIELDS)
    return FleetFile(path, master, workers)


def _table(path: Path, name: str, table: Any, checks: dict[str, Check]) -> dict[str, Any]:
    """A table's values, each checked; unknown keys refused with the list of known ones."""
    if not isinstance(table, dict):
        raise FleetFileError(f"{path}: {name} must be a table, such as [{name}]")
    unknown = sorted(set(table) - set(checks))
    if unknown:
        raise FleetFileError(
            f"{path}: [{name}] unknown key {', '.join(unknown)}: known keys are "
            + ", ".join(checks)
        )
    checked = {}
    for key, value in table.items():
        try:
            checked[key] = checks[key](value)
        except ValueError as exc:
            raise FleetFileError(f"{path}: [{name}] {key}: {exc}") from None
    return checked
