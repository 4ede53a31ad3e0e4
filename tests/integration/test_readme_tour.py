"""The README's tour, run as written against a real `corral up`: the README cannot drift."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from master_process import MasterFactory, MasterProcess

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A comment after a command: two spaces or more, then '#'.
COMMENT = re.compile(r"\s{2,}#.*$")


def tour_blocks() -> list[tuple[str, str]]:
    """The (language, text) of each fenced block of the tour section, in order."""
    text = README.read_text()
    start = text.index("## A short tour")
    end = text.index("\n## ", start + 1)
    return FENCE.findall(text[start:end])


def user_env(master: MasterProcess) -> dict[str, str]:
    """A user's environment: the master's URL, nothing that names its token or folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    return env | {"CORRAL_URL": master.url}


def run(argv: list[str], here: Path, master: MasterProcess) -> subprocess.CompletedProcess[str]:
    """Run one pasted line in ``here``, as the user would in their terminal."""
    done = subprocess.run(
        argv, cwd=here, env=user_env(master), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"{shlex.join(argv)} exited {done.returncode}:\n{done.stderr}"
    return done


@pytest.fixture
def here(tmp_path: Path) -> Path:
    """The user's folder: where they ran `make up`, so `.corral` is in it."""
    return tmp_path


def test_every_line_of_the_tour_works_as_written(start_master: MasterFactory, here: Path) -> None:
    master = start_master(here / ".corral", command="up")
    master.wait_state("local-1", "running")
    blocks = tour_blocks()
    assert [language for language, _ in blocks] == ["sh", "python", "sh"]
    said = []
    for line in blocks[0][1].splitlines():
        words = shlex.split(COMMENT.sub("", line))
        assert words[0] == "corral", line
        said.append(run([sys.executable, "-m", "corral", *words[1:]], here, master).stdout)
    assert f"master\t{master.url}\n" in said[0] and "workers\t1 worker (1 running)\n" in said[0]
    assert said[1].splitlines()[-1] == "hello"
    assert master.api.get("/jobs/1").json()["cwd"] == str(here), "jobs run where submitted"
    assert master.api.get("/jobs/2").json()["state"] == "cancelled"
    python = run([sys.executable, "-c", blocks[1][1]], here, master).stdout
    assert re.fullmatch(r"succeeded 0 \[\d+, \d+\] \['2'\]\n", python), python
    shell = blocks[2][1].replace("http://127.0.0.1:8700", master.url)
    curl = run(["bash", "-euc", shell], here, master).stdout
    assert '"command":["/bin/true"]' in curl and '"worker_id":"batch-1"' in curl, curl
    assert '"by_state"' in curl, curl
