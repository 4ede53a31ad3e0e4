"""``corral tls self-signed``: a private key, a certificate for the names given, its pin."""

import stat
from pathlib import Path

from click.testing import CliRunner
from cryptography import x509

from corral.cli import main
from corral.tls_trust import pem_fingerprint


def test_it_writes_a_closed_key_and_a_certificate_for_the_names_and_prints_the_pin(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tls"
    args = ["tls", "self-signed", "--host", "build.example.org", "--ip", "10.0.0.5"]
    result = CliRunner().invoke(main, [*args, "--ip", "127.0.0.1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    key, cert = out / "master.key", out / "master.crt"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert f"fingerprint: {pem_fingerprint(cert)}" in result.output
    assert f"--tls-cert {cert} --tls-key {key}" in result.output
    names = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert names.value.get_values_for_type(x509.DNSName) == ["build.example.org"]
    assert [str(ip) for ip in names.value.get_values_for_type(x509.IPAddress)] == [
        "10.0.0.5",
        "127.0.0.1",
    ]


def test_it_needs_a_name_and_refuses_what_is_not_an_address(tmp_path: Path) -> None:
    out = tmp_path / "tls"
    nameless = CliRunner().invoke(main, ["tls", "self-signed", "--out", str(out)])
    assert nameless.exit_code == 2
    assert "--host NAME and/or --ip ADDRESS" in nameless.output
    bad = ["tls", "self-signed", "--ip", "10.0.0.300", "--out", str(out)]
    refused = CliRunner().invoke(main, bad)
    assert refused.exit_code == 2
    assert "not an IP address: '10.0.0.300'" in refused.output
    assert not out.exists()
