"""Typed settings, read once from ``ACCESSFLOW_*`` environment variables by ``bootstrap``.

Defaults follow ``shared/spec/wire-contract.md``. A wrong value fails at start with a
:class:`SettingsError` that names the variable, never with a stack trace from deep inside
a client library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, SecretStr, field_validator

from accessflow.settings_base import (
    ENV_PREFIX,
    KafkaConnectionSettings,
    KafkaSecurityProtocol,
    LogFormat,
    LoggingSettings,
    PositiveInt,
    SettingsError,
    read_settings,
)

__all__ = [
    "ENV_PREFIX",
    "KafkaSecurityProtocol",
    "LogFormat",
    "Settings",
    "SettingsError",
    "load_settings",
]


#: libpq's sslmode values, which asyncpg reads from the URL (docs/security.md).
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def _check_tls_parameters(query: dict[str, list[str]]) -> None:
    """The database URL's TLS parameters, checked at start rather than at first connect."""
    for mode in query.get("sslmode", []):
        if mode not in SSL_MODES:
            raise ValueError(f"sslmode={mode!r} is not one of {', '.join(SSL_MODES)}")
    for name in ("sslrootcert", "sslcert", "sslkey"):
        for path in query.get(name, []):
            if not Path(path).is_file():
                raise ValueError(f"{name}={path!r} is not a file")


class Settings(KafkaConnectionSettings, LoggingSettings):
    """Everything accessflow reads from its environment."""

    # Connections
    database_url: SecretStr = SecretStr(
        "postgresql://accessflow:accessflow@127.0.0.1:5432/accessflow"
    )
    database_schema: str = "public"
    database_pool_min_size: PositiveInt = 1
    database_pool_max_size: PositiveInt = 10
    # No statement may hang forever on a half-dead connection (a restart under load):
    # past this it fails as a timeout, which the retry loops treat as an outage.
    database_command_timeout_seconds: Annotated[float, Field(gt=0)] = 60.0

    # Topics (wire contract; the commands and events topics are the connection's)
    dlq_topic: str = "accessflow.commands.dlq"
    topic_partitions: PositiveInt = 6
    topic_replication_factor: PositiveInt = 1

    # Consumer
    consumer_group_id: str = "accessflow-worker"
    # Static membership (KIP-345): a restarted worker with the same id takes its partitions
    # back at once instead of waiting out the dead member's session.
    consumer_instance_id: str | None = None
    consumer_session_timeout_ms: Annotated[int, Field(ge=1000)] = 10_000
    consumer_heartbeat_interval_ms: Annotated[int, Field(ge=100)] = 3_000
    max_poll_records: PositiveInt = 500
    # What one fetch may bring, compressed (docs/operations.md, Memory bounds of a fetch).
    consumer_fetch_max_bytes: PositiveInt = 8 * 1_048_576
    consumer_max_partition_fetch_bytes: PositiveInt = 1_048_576
    shutdown_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0

    # Deliveries through outside connectors (docs/connectors.md)
    connectors_file: Path | None = None  # YAML/JSON; without one, only groups are delivered
    delivery_concurrency: Annotated[int, Field(ge=1, le=1024)] = 32  # calls in flight
    delivery_max_rounds: Annotated[int, Field(ge=1, le=100)] = 10
    delivery_retry_initial_seconds: Annotated[float, Field(gt=0)] = 30.0
    delivery_retry_max_seconds: Annotated[float, Field(gt=0)] = 3600.0
    # A claimed grant is this worker's for this long; then it is due again (sent again,
    # with the same idempotency key) should the worker have died mid-call.
    delivery_lease_seconds: Annotated[float, Field(gt=0)] = 300.0
    # Graph lets a failed request be reprocessed for 14 days after it completed.
    reprocess_window_days: Annotated[int, Field(ge=0, le=3650)] = 14

    # Retention (docs/operations.md, Retention): the housekeeping loop deletes processed-
    # command ledger rows and fired timers older than processed_retention_days, and API
    # idempotency keys older than idempotency_retention_hours. Upper bounds only keep a
    # typo from overflowing the date arithmetic at run time.
    processed_retention_days: Annotated[int, Field(ge=1, le=36500)] = 30
    idempotency_retention_hours: Annotated[int, Field(ge=1, le=876000)] = 24
    housekeeping_interval_seconds: Annotated[float, Field(gt=0)] = 600.0

    # Observability
    metrics_port: Annotated[int, Field(ge=0, le=65535)] = 9464
    # Loopback unless told otherwise; the container image sets 0.0.0.0 for probes/scrapes.
    metrics_host: str = "127.0.0.1"

    # HTTP API
    api_host: str = "127.0.0.1"
    api_port: Annotated[int, Field(ge=0, le=65535)] = 8000
    api_max_body_bytes: PositiveInt = 1_048_576
    # Bearer tokens: an HS256 secret, and/or RS256/ES256 public keys (PEM files) or a JWKS file.
    auth_hs256_secret: SecretStr | None = None
    auth_public_key_files: list[Path] = Field(default_factory=list)
    auth_jwks_file: Path | None = None
    auth_issuer: str = "urn:accessflow:dev"
    auth_audience: str = "urn:accessflow:api"
    auth_clock_skew_seconds: Annotated[int, Field(ge=0, le=600)] = 60
    auth_admin_role: str = "EntitlementManagement.Admin"
    # Development only: accept requests without a token (as the user in X-Accessflow-User).
    auth_dev_unauthenticated: bool = False

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        parts = urlsplit(raw)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("expected a libpq URL starting with postgresql://")
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"malformed port in database URL: {exc}") from None
        if not parts.hostname and not parts.query:
            raise ValueError("the database URL names no host")
        if port == 0:
            raise ValueError("the database URL names port 0")
        if not parts.path.strip("/"):
            raise ValueError("the database URL names no database")
        _check_tls_parameters(parse_qs(parts.query))
        return value

    @field_validator("database_schema")
    @classmethod
    def _check_schema(cls, value: str) -> str:
        if not value.replace("_", "a").isalnum() or value[0].isdigit():
            raise ValueError("a schema name is letters, digits and underscores")
        return value

    def problems(self) -> list[str]:
        problems = []
        if self.database_pool_min_size > self.database_pool_max_size:
            problems.append(
                "ACCESSFLOW_DATABASE_POOL_MIN_SIZE is larger than ACCESSFLOW_DATABASE_POOL_MAX_SIZE"
            )
        if self.consumer_heartbeat_interval_ms >= self.consumer_session_timeout_ms:
            problems.append(
                "ACCESSFLOW_CONSUMER_HEARTBEAT_INTERVAL_MS must be below "
                "ACCESSFLOW_CONSUMER_SESSION_TIMEOUT_MS"
            )
        if self.delivery_retry_initial_seconds > self.delivery_retry_max_seconds:
            problems.append(
                "ACCESSFLOW_DELIVERY_RETRY_INITIAL_SECONDS is larger than "
                "ACCESSFLOW_DELIVERY_RETRY_MAX_SECONDS"
            )
        if self.processed_retention_days <= self.reprocess_window_days:
            # A reprocess redelivered after its ledger row is gone would be judged again,
            # and within the window the state machine may still allow it.
            problems.append(
                "ACCESSFLOW_PROCESSED_RETENTION_DAYS must be longer than "
                "ACCESSFLOW_REPROCESS_WINDOW_DAYS"
            )
        return [*problems, *super().problems()]

    def connection_environment(self) -> dict[str, str]:
        """The ``ACCESSFLOW_*`` variables that point a child process at the same broker,
        database, schema, topics and consumer group (tests and the benchmark start many)."""
        return {
            "ACCESSFLOW_KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "ACCESSFLOW_DATABASE_URL": self.dsn,
            "ACCESSFLOW_DATABASE_SCHEMA": self.database_schema,
            "ACCESSFLOW_COMMANDS_TOPIC": self.commands_topic,
            "ACCESSFLOW_EVENTS_TOPIC": self.events_topic,
            "ACCESSFLOW_DLQ_TOPIC": self.dlq_topic,
            "ACCESSFLOW_CONSUMER_GROUP_ID": self.consumer_group_id,
        }

    @property
    def dsn(self) -> str:
        return self.database_url.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, with explicit overrides winning.

    Raises :class:`SettingsError` whose message names every offending variable.
    """
    return read_settings(Settings, **overrides)
