"""A worker checks the master's certificate (CA or pin) before its token goes anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tls_recorder import Pair, Recorder, make_pair, recording_server
from waiting import wait_for

from .fake_master import TOKEN
from .worker_process import WorkerProcess


@pytest.fixture
def pairs(tmp_path: Path) -> tuple[Pair, Pair]:
    """The master's pair, and another one that is not the master's."""
    return make_pair(tmp_path / "master"), make_pair(tmp_path / "other")


def start_worker(tmp_path: Path, recorder: Recorder, *trust: str) -> WorkerProcess:
    """A worker for the recording server, with the trust options given."""
    args = ["--master", recorder.url, "--worker-id", "w1", "--no-cgroups", *trust]
    return WorkerProcess(tmp_path / "worker.log", args)


@pytest.mark.parametrize("wrong", ["fingerprint", "ca"])
def test_a_master_that_fails_verification_is_refused_and_gets_no_token(
    tmp_path: Path, pairs: tuple[Pair, Pair], wrong: str
) -> None:
    master_pair, other = pairs
    with recording_server(master_pair) as recorder:
        trust = (
            ["--master-fingerprint", other.fingerprint]
            if wrong == "fingerprint"
            else ["--master-ca", str(other.cert)]
        )
        worker = start_worker(tmp_path, recorder, *trust)
        code = worker.wait(timeout=15)
        assert recorder.data() == b""
    log = worker.log()
    assert code == 3, log
    assert "cannot verify the master's certificate" in log
    assert "the token was not sent" in log
    assert TOKEN not in log
    if wrong == "fingerprint":
        # The pin is checked after a completed handshake, and still nothing followed it.
        assert recorder.handshakes >= 1
        assert f"is not the pinned {other.fingerprint}" in log


def test_the_right_pin_lets_the_token_go(tmp_path: Path, pairs: tuple[Pair, Pair]) -> None:
    master_pair, _ = pairs
    with recording_server(master_pair) as recorder:
        worker = start_worker(tmp_path, recorder, "--master-fingerprint", master_pair.fingerprint)
        try:
            wait_for(lambda: f"Bearer {TOKEN}".encode() in recorder.data(), timeout=15)
        finally:
            worker.send()
            worker.wait(timeout=15)
    assert b"POST /api/v1/agent/register" in recorder.data()


def test_the_masters_certificate_as_ca_lets_the_token_go(
    tmp_path: Path, pairs: tuple[Pair, Pair]
) -> None:
    master_pair, _ = pairs
    with recording_server(master_pair) as recorder:
        worker = start_worker(tmp_path, recorder, "--master-ca", str(master_pair.cert))
        try:
            wait_for(lambda: f"Bearer {TOKEN}".encode() in recorder.data(), timeout=15)
        finally:
            worker.send()
            worker.wait(timeout=15)
