"""Commands run as another, unprivileged local user, as a hostile neighbour would run them."""

import os
import subprocess

import pytest

OTHER_USER = "nobody"


def as_other_user(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run a command as an unprivileged user (the tests run as root to switch)."""
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    return subprocess.run(
        ["runuser", "-u", OTHER_USER, "--", *argv], capture_output=True, text=True, check=False
    )
