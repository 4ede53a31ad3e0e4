"""The data folder is the master's own: mode 0700, and every file in it 0600.

It holds the database (SQLite and its WAL and SHM files), the tokens and keys, the
workers' logs and state, and the jobs' output. The master makes it so when it
creates things, and checks and repairs the modes at every start: a folder restored
from a backup, or files an older release made, are closed again.
"""

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("corral.master")
FOLDER_MODE = 0o700
FILE_MODE = 0o600


def secure(folder: Path) -> int:
    """Create the folder if need be, then close it and all it holds; how many were repaired."""
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    repaired = _close(folder, FOLDER_MODE)
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        repaired += sum(_close(here / name, FOLDER_MODE) for name in dirs)
        repaired += sum(_close(here / name, FILE_MODE) for name in files)
    if repaired:
        log.warning("closed %d files and folders of %s to other users", repaired, folder)
    return repaired


def create_private(path: Path) -> None:
    """Make an empty file with mode 0600 unless it exists (SQLite's WAL and SHM copy it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    os.close(fd)


def _close(path: Path, mode: int) -> int:
    """Take group and other permissions away (symlinks are left alone); 1 if it changed."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return 0
    if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) & 0o077 == 0:
        return 0
    path.chmod(stat.S_IMODE(info.st_mode) & mode)
    return 1
