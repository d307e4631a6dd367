"""The start-up size check against the real broker: topics made by ``topics ensure`` take the
budget; a topic an operator set smaller stops the relay, the worker and the API at start,
with a message naming the topic, the broker's value and the setting."""

from __future__ import annotations

import asyncio
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from polling import eventually

from accessflow.adapters.kafka.limits import (
    TopicLimitError,
    check_topic_limits,
    command_budget,
    describe_max_message_bytes,
    event_budget,
)
from accessflow.adapters.kafka.topics import ensure_topics
from accessflow.api import create_app
from accessflow.settings import Settings

SMALL = 500_000


async def _create_small(settings: Settings, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": str(SMALL)})]
        )
    finally:
        await admin.close()

    async def described() -> bool:  # a new topic takes a moment to be described
        return topic in await describe_max_message_bytes(settings, [topic])

    await eventually(described, seconds=5, interval=0.05, what=f"topic {topic} described")


def _names_everything(message: str, topic: str, setting: str) -> None:
    assert f"topic {topic} has max.message.bytes={SMALL}" in message
    assert setting in message


async def test_the_topics_ensure_makes_take_the_budget(settings: Settings) -> None:
    await ensure_topics(settings)
    await check_topic_limits(settings, [event_budget(settings), command_budget(settings)])


async def test_a_smaller_events_topic_is_refused_naming_topic_value_and_setting(
    settings: Settings,
) -> None:
    await _create_small(settings, settings.events_topic)
    with pytest.raises(TopicLimitError) as refused:
        await check_topic_limits(settings, [event_budget(settings)])
    _names_everything(str(refused.value), settings.events_topic, "ACCESSFLOW_MAX_EVENT_BYTES")


@pytest.mark.parametrize("process", ["relay", "worker"])
async def test_the_process_refuses_to_start_on_a_smaller_events_topic(
    settings: Settings, subprocess_env: dict[str, str], process: str
) -> None:
    await _create_small(settings, settings.events_topic)
    started = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "accessflow.entrypoints.cli",
        process,
        env={**subprocess_env, "ACCESSFLOW_METRICS_PORT": "0"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(started.communicate(), 60)
    assert started.returncode == 1
    _names_everything(stderr.decode(), settings.events_topic, "ACCESSFLOW_MAX_EVENT_BYTES")


async def test_the_api_refuses_to_start_on_a_smaller_commands_topic(settings: Settings) -> None:
    await _create_small(settings, settings.commands_topic)
    app = create_app(settings)
    with pytest.raises(TopicLimitError) as refused:
        async with app.router.lifespan_context(app):
            pass
    _names_everything(str(refused.value), settings.commands_topic, "ACCESSFLOW_MAX_COMMAND_BYTES")
