"""``corral worker``: command-line arguments and environment, then the service."""

from __future__ import annotations

import argparse
import logging
import os
import ssl
import sys
from collections.abc import MutableMapping
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from corral.hardening import make_undumpable
from corral.protocol import (
    ENV_DRAIN_TIMEOUT,
    ENV_LOG_TIME,
    ENV_MASTER_URL,
    ENV_PARENT_PID,
    ENV_TOKEN,
    ENV_WORKER_ID,
)
from corral.tls_trust import client_context
from corral.worker import handoff
from corral.worker.executor import DEFAULT_GRACE_S
from corral.worker.logs import configure_logging, flush_std_streams
from corral.worker.service import (
    DEFAULT_DRAIN_TIMEOUT_S,
    EXIT_USAGE,
    WorkerService,
    WorkerSettings,
)

# Turns the job cgroups off when set to off (or 0, no, false).
ENV_CGROUPS = "CORRAL_WORKER_CGROUPS"
_ON = frozenset({"on", "1", "yes", "true", "auto"})
_OFF = frozenset({"off", "0", "no", "false"})


class ClickStyleHelp(argparse.HelpFormatter):
    """Help laid out as click lays out the other corral commands' help."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, indent_increment=2, max_help_position=32)

    def add_usage(
        self, usage: str | None, actions: Any, groups: Any, prefix: str | None = None
    ) -> None:
        """``Usage:`` as click writes it."""
        super().add_usage(usage, actions, groups, prefix="Usage: ")

    def _format_text(self, text: str) -> str:
        """The description indented as click indents a command's docstring."""
        lines = super()._format_text(text).rstrip("\n").splitlines()
        return "\n".join("  " + line for line in lines) + "\n\n"


def build_parser() -> argparse.ArgumentParser:
    """The worker's command line; the token itself is deliberately not an option."""
    parser = argparse.ArgumentParser(
        prog="corral worker",
        usage="corral worker [OPTIONS]",
        formatter_class=ClickStyleHelp,
        add_help=False,
        description=(
            "Run a corral worker agent: register with the master, heartbeat, and run jobs. "
            "Its bearer token is never an argument: give it with --token-file or "
            f"--token-stdin (or, less safely, in the environment variable {ENV_TOKEN})."
        ),
        allow_abbrev=False,
    )
    parser._optionals.title = "Options"  # click's word, as every other corral command
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--token-file",
        metavar="PATH",
        help="Read the token from this file (mode 0600), and delete it once read.",
    )
    source.add_argument(
        "--token-stdin",
        action="store_true",
        help=(
            "Read the token from stdin, to its end; or a JSON object "
            '{"token": ..., "secret_env": {...}}, the variables being added to every job.'
        ),
    )
    parser.add_argument(
        "--master", metavar="URL", help=f"The master's base URL [default: ${ENV_MASTER_URL}]"
    )
    parser.add_argument(
        "--master-ca",
        metavar="FILE",
        help="A CA bundle (PEM) the master's certificate must chain to [default: the system's]",
    )
    parser.add_argument(
        "--master-fingerprint",
        metavar="SHA256:...",
        help=(
            "Accept only the master certificate with this SHA-256 fingerprint, as the master "
            "prints it (the way to trust a self-signed certificate)"
        ),
    )
    parser.add_argument(
        "--worker-id", metavar="ID", help=f"This worker's id [default: ${ENV_WORKER_ID}]"
    )
    parser.add_argument(
        "--heartbeat-interval",
        metavar="S",
        type=_positive_float,
        help="Seconds between heartbeats [default: what the master answers]",
    )
    parser.add_argument(
        "--drain-timeout",
        metavar="S",
        type=_non_negative_float,
        help=(
            "On the first SIGTERM/SIGINT, seconds running jobs may take to finish "
            f"[default: ${ENV_DRAIN_TIMEOUT} or {DEFAULT_DRAIN_TIMEOUT_S:g}]"
        ),
    )
    parser.add_argument(
        "--kill-grace",
        metavar="S",
        type=_non_negative_float,
        default=DEFAULT_GRACE_S,
        help=(
            "Seconds between SIGTERM and SIGKILL when a job is timed out, cancelled "
            f"or drained [default: {DEFAULT_GRACE_S:g}]"
        ),
    )
    parser.add_argument(
        "--no-cgroups",
        action="store_true",
        help=(
            "Contain jobs by their process groups only, even where cgroups are available "
            f"(also: {ENV_CGROUPS}=off)."
        ),
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Log level [default: INFO]",
    )
    parser.add_argument("--help", action="help", help="Show this message and exit.")
    return parser


def parse_settings(
    argv: list[str] | None, environ: MutableMapping[str, str], stdin: BinaryIO | None = None
) -> tuple[WorkerSettings, str]:
    """Settings and log level from arguments, environment and stdin; exits 2 on a usage error.

    The token is taken out of ``environ`` when it is there, whatever the source used.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    master_url = args.master or environ.get(ENV_MASTER_URL)
    worker_id = args.worker_id or environ.get(ENV_WORKER_ID)
    if not master_url:
        parser.error(f"no master URL: pass --master or set {ENV_MASTER_URL}")
    if not worker_id:
        parser.error(f"no worker id: pass --worker-id or set {ENV_WORKER_ID}")
    url = urlsplit(master_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        parser.error(f"master URL must look like http://host:port: {master_url!r}")
    tls = _tls_context(parser, args, url.scheme == "https")
    # Last: a token file is deleted once read, and must not be lost to a usage error.
    secrets = _handoff(parser, args, environ, stdin or sys.stdin.buffer)
    settings = WorkerSettings(
        master_url,
        worker_id,
        secrets.token,
        secret_env=secrets.secret_env,
        heartbeat_interval_s=args.heartbeat_interval,
        parent_pid=_parent_pid(parser, environ.get(ENV_PARENT_PID)),
        drain_timeout_s=_drain_timeout(parser, args.drain_timeout, environ.get(ENV_DRAIN_TIMEOUT)),
        kill_grace_s=args.kill_grace,
        cgroups=not args.no_cgroups and _cgroups_on(parser, environ.get(ENV_CGROUPS)),
        tls=tls,
    )
    return settings, str(args.log_level)


def main(argv: list[str] | None = None) -> int:
    """Run a worker until it is told to stop; return the exit code."""
    try:
        # Before the token is read: its memory and environment closed to jobs of its own user.
        undumpable = make_undumpable()
        try:
            settings, log_level = parse_settings(argv, os.environ)
        except SystemExit as exc:  # argparse: --help, or a usage error
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        stamped = os.environ.get(ENV_LOG_TIME, "on") not in _OFF
        configure_logging(logging.getLevelName(log_level), stamped)
        if not undumpable:
            logging.getLogger(__name__).warning(
                "cannot mark the worker non-dumpable: its jobs may read its memory"
            )
        return WorkerService(settings).run()
    finally:
        flush_std_streams()


def _handoff(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    environ: MutableMapping[str, str],
    stdin: BinaryIO,
) -> handoff.Handoff:
    """The token (and secret environment) from the source given; the environment's is dropped."""
    try:
        from_environ = handoff.from_environ(environ)
        if args.token_file:
            return handoff.from_file(args.token_file)
        if args.token_stdin:
            return handoff.from_stream(stdin)
    except handoff.HandoffError as exc:
        source = args.token_file or ("stdin" if args.token_stdin else ENV_TOKEN)
        parser.error(f"token from {source}: {exc}")
    if from_environ is None:
        parser.error(f"no token: pass --token-file or --token-stdin (or set {ENV_TOKEN})")
    return from_environ


def _tls_context(
    parser: argparse.ArgumentParser, args: argparse.Namespace, https: bool
) -> ssl.SSLContext | None:
    """How the master's certificate is verified; None for a plain HTTP master."""
    given = args.master_ca or args.master_fingerprint
    if not https:
        if given:
            parser.error("--master-ca and --master-fingerprint need an https:// master URL")
        return None
    try:
        return client_context(args.master_ca, args.master_fingerprint)
    except ValueError as exc:
        parser.error(f"--master-fingerprint: {exc}")
    except OSError as exc:  # ssl.SSLError included: not a CA bundle
        parser.error(f"--master-ca {args.master_ca}: {exc}")


def _positive_float(text: str) -> float:
    """An argparse type: a number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above zero: {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    """An argparse type: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text!r}")
    return value


def _drain_timeout(parser: argparse.ArgumentParser, given: float | None, text: str | None) -> float:
    """The drain window: the option, else the environment, else the default."""
    if given is not None:
        return given
    if not text:
        return DEFAULT_DRAIN_TIMEOUT_S
    try:
        return _non_negative_float(text)
    except argparse.ArgumentTypeError as exc:
        parser.error(f"{ENV_DRAIN_TIMEOUT}: {exc}")


def _cgroups_on(parser: argparse.ArgumentParser, text: str | None) -> bool:
    """Whether the environment leaves cgroups on (the default)."""
    value = (text or "on").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    parser.error(f"{ENV_CGROUPS} must be on or off, not {text!r}")


def _parent_pid(parser: argparse.ArgumentParser, text: str | None) -> int | None:
    """The launching process's pid from the environment, if set."""
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        parser.error(f"{ENV_PARENT_PID} must be a process id, not {text!r}")
