"""One test's (or one module's) own corner of the shared stack: a schema and three topics
named after a random tag, dropped afterwards, and the environment that points an
``accessflow`` child process at them."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from accessflow.settings import Settings, load_settings


@asynccontextmanager
async def isolated_settings(kafka: str, database_url: str) -> AsyncIterator[Settings]:
    """Settings with their own schema and topics on ``kafka`` / ``database_url``."""
    tag = uuid.uuid4().hex[:12]
    settings = load_settings(
        kafka_bootstrap_servers=kafka,
        database_url=database_url,
        database_schema=f"t_{tag}",
        commands_topic=f"t.{tag}.commands",
        events_topic=f"t.{tag}.events",
        dlq_topic=f"t.{tag}.commands.dlq",
        consumer_group_id=f"t.{tag}.worker",
    )
    try:
        yield settings
    finally:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{settings.database_schema}" CASCADE')
        finally:
            await conn.close()
        await _delete_topics(kafka, tag)


async def _delete_topics(kafka: str, tag: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        mine = [name for name in await admin.list_topics() if name.startswith(f"t.{tag}.")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


def subprocess_environment(settings: Settings) -> dict[str, str]:
    """This process's environment without its ACCESSFLOW_* variables, plus ``settings``'."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSFLOW_")}
    env.update({**settings.connection_environment(), "ACCESSFLOW_LOG_FORMAT": "json"})
    return env
