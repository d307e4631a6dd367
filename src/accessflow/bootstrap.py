"""The composition root: settings are read once here and everything else is built from them.

Nothing creates a client at import time; entrypoints call these functions and own the
lifetimes of what they get back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from accessflow.adapters.connectors_config import ConnectorsConfig, load_connectors_config
from accessflow.adapters.kafka.topics import TopicState, ensure_topics
from accessflow.adapters.postgres import pool
from accessflow.adapters.postgres.migrate import Migration, migrate
from accessflow.adapters.postgres.retention import Retention
from accessflow.logs import configure_logging
from accessflow.service.deliveries import RetryPolicy
from accessflow.settings import Settings, SettingsError, load_settings
from accessflow.tracing import configure_tracing


def start(**overrides: object) -> Settings:
    """Read the settings once, configure logging and tracing; raises SettingsError when
    invalid."""
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    configure_tracing("accessflow")  # off unless OTEL_* asks (OTEL_SERVICE_NAME names it)
    return settings


@dataclass(frozen=True, slots=True)
class MigrateResult:
    applied: list[Migration]
    topics: list[TopicState]


async def migrate_all(settings: Settings, *, topics: bool = True) -> MigrateResult:
    """Apply pending database migrations and (optionally) ensure the Kafka topics."""
    conn = await pool.connect(settings)
    try:
        applied = await migrate(conn, settings.database_schema)
    finally:
        await conn.close()
    ensured = await ensure_topics(settings) if topics else []
    return MigrateResult(applied, ensured)


def connectors_config(settings: Settings) -> ConnectorsConfig:
    """The connectors file named by ``ACCESSFLOW_CONNECTORS_FILE`` (only the built-in
    directory without one). Raises ConnectorsConfigError naming the file and each faulty
    entry, or SettingsError when the delivery lease is shorter than a connector's call."""
    if settings.connectors_file is None:
        return ConnectorsConfig()
    config = load_connectors_config(settings.connectors_file)
    longest = config.longest_call_seconds()
    if settings.delivery_lease_seconds <= longest:
        raise SettingsError(
            f"ACCESSFLOW_DELIVERY_LEASE_SECONDS ({settings.delivery_lease_seconds:g}) must be "
            f"longer than the longest connector call in {settings.connectors_file} "
            f"({longest:g} s: maxElapsedSeconds + timeoutSeconds), or a call still running "
            "would be claimed again by another worker"
        )
    return config


def delivery_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_rounds=settings.delivery_max_rounds,
        initial=timedelta(seconds=settings.delivery_retry_initial_seconds),
        maximum=timedelta(seconds=settings.delivery_retry_max_seconds),
        lease=timedelta(seconds=settings.delivery_lease_seconds),
    )


def retention(settings: Settings) -> Retention:
    return Retention(
        processed=timedelta(days=settings.processed_retention_days),
        idempotency=timedelta(hours=settings.idempotency_retention_hours),
    )
