"""The master over HTTPS: API, dashboard and agent lane, trusted by CA or by pin; refusals."""

import json
import re
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from corral.cli import main
from corral.client import Client
from corral.client.errors import MasterUntrustedError
from corral.tls_trust import fingerprint_of_digest
from master_process import MasterFactory, MasterProcess
from tls_recorder import Pair, make_pair

NO_TARGET = {
    "CORRAL_URL": None,
    "CORRAL_TOKEN": None,
    "CORRAL_CA": None,
    "CORRAL_FINGERPRINT": None,
}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """The master's key and self-signed certificate for 127.0.0.1."""
    return make_pair(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory, pair: Pair) -> Iterator[MasterProcess]:
    """A master serving HTTPS, with one local worker running."""
    data = tmp_path_factory.mktemp("master") / "data"
    master = MasterProcess(data, tls_cert=pair.cert, tls_key=pair.key).start()
    try:
        master.create_worker("w1", cpus=1)
        master.wait_state("w1", "running")
        yield master
    finally:
        master.stop()


def token(master: MasterProcess) -> str:
    return master.auth()["Authorization"].removeprefix("Bearer ")


def test_it_says_https_and_its_fingerprint_and_leaves_them_for_local_clients(
    master: MasterProcess, pair: Pair
) -> None:
    said = master.log()
    assert master.url.startswith("https://127.0.0.1:")
    assert f"TLS certificate fingerprint: {pair.fingerprint}" in said
    assert f"open once in a browser: {master.url}/login?token=" in said
    assert "plain HTTP" not in said
    left = json.loads((master.data_dir / "client-tls.json").read_text())
    assert left == {"url": master.url, "fingerprint": pair.fingerprint}


def test_the_dashboard_login_link_works_over_https(master: MasterProcess, pair: Pair) -> None:
    link = re.search(r"open once in a browser: (\S+)", master.log())
    assert link is not None
    with httpx.Client(verify=ssl.create_default_context(cafile=pair.cert)) as browser:
        login = browser.get(link.group(1))
        assert "; Secure" in login.headers["set-cookie"]
        page = browser.get(master.url + "/workers")
    assert page.status_code == 200
    assert "w1" in page.text


def test_the_cli_with_no_flag_runs_a_job_on_a_local_worker_over_tls(
    master: MasterProcess, pair: Pair
) -> None:
    env = {**NO_TARGET, "CORRAL_DATA_DIR": str(master.data_dir)}
    args = ["submit", "--wait", "--", "python3", "-c", "print('over tls')"]
    result = CliRunner(env=env).invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "over tls" in result.output
    # The worker that ran it talks to the master over HTTPS, pinning its certificate.
    pid = master.api.get("/workers/w1/status").json()["pid"]
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert argv[argv.index(b"--master") + 1] == master.url.encode()
    assert argv[argv.index(b"--master-fingerprint") + 1] == pair.fingerprint.encode()


def test_a_workers_config_says_how_it_trusts_the_master(master: MasterProcess, pair: Pair) -> None:
    master.create_worker("by-ca", cpus=1, master_ca=str(pair.cert))
    master.wait_state("by-ca", "running")
    wrong = fingerprint_of_digest(bytes(32))
    master.create_worker("mistrusting", cpus=1, master_fingerprint=wrong, auto_restart=False)
    master.wait_state("mistrusting", "crashed", exit_code=3)
    stderr = (master.data_dir / "logs" / "mistrusting" / "stderr.log").read_text()
    assert f"is not the pinned {wrong}" in stderr
    assert "the token was not sent" in stderr
    # The master never heard from it: no agent request under its name.
    actors = {row["actor"] for row in master.read("/audit", params={"limit": 500})["entries"]}
    assert "worker:by-ca" in actors
    assert "worker:mistrusting" not in actors


def test_the_python_client_trusts_by_ca_or_by_pin_and_refuses_otherwise(
    master: MasterProcess, pair: Pair, tmp_path: Path
) -> None:
    # An empty data folder: nothing left by the master helps these clients.
    def client(fingerprint: str | None = None, ca: Path | None = None) -> Client:
        return Client(master.url, token(master), tmp_path, ca=ca, fingerprint=fingerprint)

    with client(ca=pair.cert) as by_ca:
        job = by_ca.submit(["true"])
        assert by_ca.wait(job.id).state == "succeeded"
    with client(fingerprint=pair.fingerprint) as by_pin:
        assert by_pin.get(job.id).state == "succeeded"
    for fingerprint in (None, "SHA256:" + "00" * 32):
        with client(fingerprint) as untrusting, pytest.raises(MasterUntrustedError) as refused:
            untrusting.get(job.id)
        assert "cannot verify the master's certificate" in str(refused.value)


def test_curl_with_the_certificate_as_ca_works_and_plain_http_fails(
    master: MasterProcess, pair: Pair
) -> None:
    auth = f"Authorization: Bearer {token(master)}"
    health = master.url + "/api/v1/health"
    ok = subprocess.run(
        ["curl", "-sS", "--cacert", str(pair.cert), "-H", auth, health],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["status"] == "ok"
    plain = health.replace("https://", "http://")
    refused = subprocess.run(["curl", "-sS", "-H", auth, plain], capture_output=True, check=False)
    assert refused.returncode != 0
    unknown = subprocess.run(["curl", "-sS", health], capture_output=True, check=False)
    assert unknown.returncode == 60  # the certificate cannot be verified


def start_refused(data: Path, cert: Path, key: Path) -> subprocess.CompletedProcess[str]:
    """``corral master`` with this certificate and key; it is expected to exit at once."""
    argv = [sys.executable, "-m", "corral", "master", "--data-dir", str(data), "--port", "0"]
    argv += ["--tls-cert", str(cert), "--tls-key", str(key)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("fault", ["missing", "not a pair", "open key"])
def test_a_certificate_and_key_that_cannot_serve_are_refused_at_start(
    tmp_path: Path, pair: Pair, fault: str
) -> None:
    cert, key = pair.cert, pair.key
    if fault == "missing":
        cert = tmp_path / "none.crt"
    elif fault == "not a pair":
        key = make_pair(tmp_path / "other").key
    else:
        key = tmp_path / "open.key"
        key.write_bytes(pair.key.read_bytes())
        key.chmod(0o644)
    done = start_refused(tmp_path / "data", cert, key)
    assert done.returncode == 1
    expected = {
        "missing": f"TLS certificate file {cert} does not exist",
        "not a pair": f"TLS key {key} is not the key of certificate {cert}",
        "open key": f"(mode 0644): run `chmod 600 {key}`",
    }[fault]
    assert expected in done.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_plain_http_off_loopback_warns_once_at_start(start_master: MasterFactory) -> None:
    said = start_master(host="0.0.0.0").log()
    assert said.count("serving plain HTTP on 0.0.0.0:") == 1
    assert "--tls-cert FILE --tls-key FILE" in said
