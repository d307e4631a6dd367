"""Why the broker would not let a client in, in one line, and whether waiting can help.

aiokafka reports every failed start the same way (``KafkaConnectionError: Unable to
bootstrap from …``) and only logs the cause. A refused login, an untrusted certificate or a
security protocol the listener does not speak is permanent: retrying it forever would hide a
configuration error behind an endless "Kafka unavailable". :func:`start_client` starts a
client and, when that fails, connects once more to each bootstrap server the way the client
did to learn the cause; a refusal becomes :class:`KafkaAccessRefused`, anything else
(the broker is down) stays the transient error it was.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Protocol

from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.protocol.metadata import MetadataRequest

from accessflow.adapters.kafka.options import client_options
from accessflow.settings_base import KafkaConnectionSettings

#: Errors no retry can fix: the broker refused who we are or how we connect.
REFUSALS: tuple[type[BaseException], ...] = (
    SaslAuthenticationFailed,
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    UnsupportedSaslMechanismError,
    ssl.SSLCertVerificationError,
)

#: How often a broker must close a fresh connection before that counts as a refusal (a
#: listener that wants SASL or TLS closes on every try; a restarting broker refuses or hangs).
_CLOSED_TRIES = 3
_PROBE_TIMEOUT_MS = 10_000


class KafkaAccessRefused(Exception):  # noqa: N818 - names the situation, like the others
    """The broker refused this client (credentials, certificate trust, security protocol).
    Permanent until the configuration changes; the message is one line naming the cause."""


class _Startable(Protocol):
    async def start(self) -> Any: ...


def describe(exc: BaseException, settings: KafkaConnectionSettings) -> str | None:
    """The one-line reason a refusal happened, or None when ``exc`` is not a refusal."""
    protocol = settings.kafka_security_protocol.value
    where = settings.kafka_bootstrap_servers
    if isinstance(exc, SaslAuthenticationFailed | AuthenticationFailedError):
        user = settings.kafka_sasl_username
        return (
            f"Kafka at {where} refused the login: SASL authentication failed for user "
            f"{user!r} ({settings.kafka_sasl_mechanism}): {exc.args[0] if exc.args else exc}; "
            "check ACCESSFLOW_KAFKA_SASL_USERNAME and ACCESSFLOW_KAFKA_SASL_PASSWORD"
        )
    if isinstance(exc, AuthenticationMethodNotSupported | UnsupportedSaslMechanismError):
        return (
            f"Kafka at {where} does not offer SASL mechanism {settings.kafka_sasl_mechanism} "
            f"in the SASL handshake: {exc}; check ACCESSFLOW_KAFKA_SASL_MECHANISM"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"Kafka at {where}: TLS certificate verification failed ({exc.verify_message}); "
            "set ACCESSFLOW_KAFKA_SSL_CAFILE to the CA that signed the broker's certificate"
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"Kafka at {where}: the TLS handshake failed ({exc.reason or exc}); does the "
            f"listener speak TLS (ACCESSFLOW_KAFKA_SECURITY_PROTOCOL={protocol})?"
        )
    return None


async def start_client(client: _Startable, settings: KafkaConnectionSettings) -> None:
    """``client.start()``; on failure, raise :class:`KafkaAccessRefused` if the broker refused
    us, else the original (transient) error."""
    try:
        await client.start()
    except (TimeoutError, KafkaError, OSError) as exc:
        reason = describe(exc, settings) or await refusal(settings)
        if reason is not None:
            raise KafkaAccessRefused(reason) from None
        raise


async def refusal(settings: KafkaConnectionSettings) -> str | None:
    """Connect to each bootstrap server as accessflow's clients do; the reason the first
    one that answered refused us, or None when none refused (down, or fine after all)."""
    options = client_options(settings)
    for server in settings.kafka_bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        closed = 0
        for _ in range(_CLOSED_TRIES):
            try:
                await _handshake(host, int(port), options)
                break
            except (KafkaConnectionError, ConnectionResetError) as exc:
                # Closed after the connection was accepted (a TLS handshake cut off is a
                # reset); refused or timed out means the broker is away, not refusing us.
                if not isinstance(exc, ConnectionResetError) and "closed" not in str(exc):
                    break
                closed += 1
                await asyncio.sleep(0.2)
            except (TimeoutError, KafkaError, OSError) as exc:
                reason = describe(exc, settings)
                if reason is not None:
                    return reason
                break
        if closed == _CLOSED_TRIES:
            return _closed_reason(server.strip(), settings)
    return None


async def _handshake(host: str, port: int, options: dict[str, Any]) -> None:
    """What a client does first: connect (TLS, API versions, SASL), then ask for metadata."""
    conn = await create_conn(
        host,
        port,
        request_timeout_ms=_PROBE_TIMEOUT_MS,
        security_protocol=options["security_protocol"],
        ssl_context=options.get("ssl_context"),
        sasl_mechanism=options.get("sasl_mechanism"),
        sasl_plain_username=options.get("sasl_plain_username"),
        sasl_plain_password=options.get("sasl_plain_password"),
    )
    try:
        await conn.send(MetadataRequest([]))
    finally:
        conn.close()


def _closed_reason(server: str, settings: KafkaConnectionSettings) -> str:
    protocol = settings.kafka_security_protocol.value
    return (
        f"Kafka at {server} closed the connection on every try "
        f"(ACCESSFLOW_KAFKA_SECURITY_PROTOCOL={protocol}): the listener expects another "
        "security protocol; one that requires SASL closes on a client without credentials"
    )
