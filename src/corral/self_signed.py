"""A key and a self-signed certificate for the master: the easy way to serve over TLS."""

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from corral.tls_trust import fingerprint

CERT_NAME = "master.crt"
KEY_NAME = "master.key"
VALID_DAYS = 825  # the longest validity browsers still accept


def make_pair(hosts: list[str], ips: list[str], days: int = VALID_DAYS) -> tuple[bytes, bytes]:
    """A fresh P-256 key and a certificate naming ``hosts`` and ``ips``, both as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (hosts or ips)[0])])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        # Its own CA, as `openssl req -x509` makes it: clients can take it as --ca too.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def write_pair(out: Path, hosts: list[str], ips: list[str]) -> tuple[Path, Path, str]:
    """Write ``master.key`` (0600) and ``master.crt`` in ``out``; their paths and fingerprint."""
    cert_pem, key_pem = make_pair(hosts, ips)
    out.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = out.resolve() / CERT_NAME, out.resolve() / KEY_NAME
    # Created 0600, never readable by others even for a moment; an old key is replaced.
    key_path.unlink(missing_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    cert_path.write_bytes(cert_pem)
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return cert_path, key_path, fingerprint(der)
