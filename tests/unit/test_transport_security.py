"""Transport security settings: Kafka SASL/TLS and PostgreSQL TLS, checked at start, and the
one-line reasons a refused Kafka client gives."""

from __future__ import annotations

import importlib.util
import os
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed
from asyncpg import connect_utils

from accessflow.adapters.kafka.access import KafkaAccessRefused, describe, start_client
from accessflow.settings import ENV_PREFIX, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA certificate made by the local stack's own generator."""
    spec = importlib.util.spec_from_file_location("stack_tls", ROOT / "deploy/local/tls.py")
    assert spec is not None
    assert spec.loader is not None
    tls = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tls)
    directory = tmp_path_factory.mktemp("tls")
    tls.generate(directory)
    return Path(directory / "ca.pem")


def test_verify_full_database_url_gives_asyncpg_a_verifying_tls_context(ca_file: Path) -> None:
    """sslmode/sslrootcert in ACCESSFLOW_DATABASE_URL pass through settings unchanged, and
    asyncpg (which reads libpq's URL parameters) turns them into a TLS context that requires
    a certificate from that CA for that host name."""
    url = f"postgresql://svc:pw@db.example.com:5432/accessflow?sslmode=verify-full&sslrootcert={ca_file}"
    settings = load_settings(database_url=url)
    assert settings.dsn == url

    addresses, params = connect_utils._parse_connect_dsn_and_args(
        dsn=settings.dsn, host=None, port=None, user=None, password=None, passfile=None,
        database=None, ssl=None, service=None, servicefile=None, direct_tls=None,
        server_settings=None, target_session_attrs=None, krbsrvname=None, gsslib=None,
    )  # fmt: skip
    context: Any = params.ssl
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [
        ((("commonName", "accessflow local stack test CA"),),)
    ]
    assert addresses == [("db.example.com", 5432)]


def test_scram_without_credentials_is_refused_at_start() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="svc",
        )
    assert (
        "ACCESSFLOW_KAFKA_SASL_MECHANISM SCRAM-SHA-512 needs ACCESSFLOW_KAFKA_SASL_USERNAME "
        "and ACCESSFLOW_KAFKA_SASL_PASSWORD"
    ) in str(caught.value)


def test_tls_files_must_exist_and_empty_means_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ACCESSFLOW_KAFKA_SSL_CAFILE", "")
    assert load_settings().kafka_ssl_cafile is None
    with pytest.raises(SettingsError) as caught:
        load_settings(kafka_ssl_cafile=str(tmp_path / "missing.pem"))
    assert "ACCESSFLOW_KAFKA_SSL_CAFILE:" in str(caught.value)
    assert "is not a file" in str(caught.value)


def _sasl_settings() -> Any:
    return load_settings(
        kafka_bootstrap_servers="127.0.0.1:1",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="svc",
        kafka_sasl_password="wrong",
    )


def test_each_refusal_is_described_with_its_cause_and_the_setting_to_check() -> None:
    settings = _sasl_settings()
    login = describe(SaslAuthenticationFailed("invalid credentials"), settings)
    assert login == (
        "Kafka at 127.0.0.1:1 refused the login: SASL authentication failed for user 'svc' "
        "(SCRAM-SHA-512): invalid credentials; check ACCESSFLOW_KAFKA_SASL_USERNAME and "
        "ACCESSFLOW_KAFKA_SASL_PASSWORD"
    )
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "self-signed certificate in certificate chain"
    assert describe(untrusted, settings) == (
        "Kafka at 127.0.0.1:1: TLS certificate verification failed (self-signed certificate "
        "in certificate chain); set ACCESSFLOW_KAFKA_SSL_CAFILE to the CA that signed the "
        "broker's certificate"
    )
    assert describe(KafkaConnectionError("Unable to bootstrap"), settings) is None


class _FailingClient:
    def __init__(self, error: Exception) -> None:
        self.error = error

    async def start(self) -> None:
        raise self.error


async def test_a_refusal_becomes_kafka_access_refused() -> None:
    with pytest.raises(KafkaAccessRefused, match="refused the login"):
        await start_client(_FailingClient(SaslAuthenticationFailed("no")), _sasl_settings())


async def test_a_broker_that_is_away_stays_a_transient_error() -> None:
    """Nobody listens on the port: the diagnosis finds no refusal and the client's own
    error comes back for the retry loop to wait out."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the probe connects
    settings = load_settings(kafka_bootstrap_servers=f"127.0.0.1:{port}")
    error = KafkaConnectionError("Unable to bootstrap")
    with pytest.raises(KafkaConnectionError) as caught:
        await start_client(_FailingClient(error), settings)
    assert caught.value is error


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("sslmode=verify_full", "sslmode='verify_full' is not one of disable, allow, prefer"),
        ("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "sslrootcert='/nonexistent"),
    ],
)
def test_database_tls_parameters_are_checked_at_start(query: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(database_url=f"postgresql://u:p@db.example.com/accessflow?{query}")
    assert "ACCESSFLOW_DATABASE_URL:" in str(caught.value)
    assert problem in str(caught.value)
