"""The composition root: settings are read once here and everything else is built from them.

Nothing creates a client at import time; entrypoints call these functions and own the
lifetimes of what they get back.
"""

from __future__ import annotations

from dataclasses import dataclass

from accessflow.adapters.kafka.topics import TopicState, ensure_topics
from accessflow.adapters.postgres import pool
from accessflow.adapters.postgres.migrate import Migration, migrate
from accessflow.logs import configure_logging
from accessflow.settings import Settings, load_settings


def start(**overrides: object) -> Settings:
    """Read the settings once and configure logging; raises SettingsError when invalid."""
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
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
