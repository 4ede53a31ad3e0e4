"""The user a job runs as: ``"user"`` or ``"user:group"``, from this host's user database.

With a user alone, the job gets the user's primary group; either way it also gets the
user's supplementary groups, as a login would.

Standard library only: the worker imports it.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}"
# A user, optionally a colon and a group; names as POSIX has them, never starting with "-".
PATTERN = rf"^{_NAME}(:{_NAME})?$"


class UnknownUser(LookupError):
    """The user or the group is not in this host's database; the message names it."""


@dataclass(frozen=True)
class Identity:
    """Who a job runs as, resolved on the host that runs it."""

    user: str
    uid: int
    gid: int
    groups: list[int]
    home: str
    shell: str


def lookup(run_as: str) -> Identity:
    """Resolve ``user`` or ``user:group``; UnknownUser if either is not known here."""
    user, _, group = run_as.partition(":")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise UnknownUser(f"unknown user {user!r}") from None
    gid = entry.pw_gid
    if group:
        try:
            gid = grp.getgrnam(group).gr_gid
        except KeyError:
            raise UnknownUser(f"unknown group {group!r}") from None
    groups = os.getgrouplist(user, gid)
    return Identity(user, entry.pw_uid, gid, groups, entry.pw_dir, entry.pw_shell)


def current_user() -> str:
    """The name of the user this process runs as (its uid if it has none)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
