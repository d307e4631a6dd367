"""The local stack's test certificate authority and its server certificate.

``python3 deploy/local/tls.py DIR`` writes, once (existing files are kept):

- ``ca.pem`` / ``ca.key``: a self-signed CA that clients are told to trust
  (``ACCESSFLOW_KAFKA_SSL_CAFILE``, ``sslrootcert=`` in the database URL);
- ``server.pem`` / ``server.key``: a certificate for ``127.0.0.1`` and ``localhost`` signed by
  that CA (PostgreSQL reads them as they are);
- ``kafka.pem``: the same key (PKCS#8, unencrypted) followed by the certificate chain, the one
  file a broker with ``ssl.keystore.type=PEM`` reads.

Development and test use only: the CA's key sits next to it, unencrypted. Kept outside the
package: the stack runs it with whichever Python has ``cryptography`` (a dependency of
``pyjwt[crypto]``), before accessflow itself may be importable.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=3650)


def _write(path: Path, data: bytes) -> None:
    # Private keys are 0600: PostgreSQL refuses a key file others can read.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None = None,
    issuer_key: ec.EllipticCurvePrivateKey | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    is_ca = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name if is_ca else issuer)  # type: ignore[arg-type]
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if is_ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        assert issuer_key is not None
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = (
            builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                False,
            )
        )
    return builder.sign(key if is_ca else issuer_key, hashes.SHA256())  # type: ignore[arg-type]


def generate(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if all((directory / name).exists() for name in ("ca.pem", "server.pem", "kafka.pem")):
        return
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("accessflow local stack test CA", ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _certificate("127.0.0.1", server_key, ca.subject, ca_key)
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    server_pem = server.public_bytes(serialization.Encoding.PEM)
    _write(directory / "ca.key", _key_pem(ca_key))
    _write(directory / "server.key", _key_pem(server_key))
    _write(directory / "kafka.pem", _key_pem(server_key) + server_pem + ca_pem)
    (directory / "server.pem").write_bytes(server_pem)
    (directory / "ca.pem").write_bytes(ca_pem)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tls.py DIRECTORY")
    generate(Path(sys.argv[1]))
