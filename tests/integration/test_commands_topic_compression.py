"""The commands topic accessflow creates refuses a batch that would inflate past its limit,
and what the worker reads of the topics at start is the broker's."""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from polling import eventually

from accessflow.adapters.kafka.errors import is_permanent
from accessflow.adapters.kafka.topics import ensure_topics, topic_compression_type
from accessflow.settings import Settings


async def _described(settings: Settings, topic: str) -> str:
    """The compression type once the new topic's configuration is visible to describe."""
    return await eventually(
        lambda: topic_compression_type(settings, topic),
        seconds=10,
        interval=0.2,
        what=f"topic {topic}'s configuration to be described",
    )


async def test_the_commands_topic_is_uncompressed_so_the_broker_bounds_inflation(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    assert await _described(settings, settings.commands_topic) == "uncompressed"
    assert await _described(settings, settings.events_topic) == "producer"

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        compression_type="gzip",
        max_request_size=64 * 1024 * 1024,
    )
    await producer.start()
    try:
        # 60 MB of one byte gzips to about 60 KB: the broker inflates it to store it
        # uncompressed, finds it over max.message.bytes and refuses it for good.
        with pytest.raises(MessageSizeTooLargeError) as refused:
            await producer.send_and_wait(settings.commands_topic, b"x" * 60_000_000)
        assert is_permanent(refused.value)
    finally:
        await producer.stop()


async def test_a_topic_the_broker_does_not_know_has_no_compression_type(
    settings: Settings,
) -> None:
    assert await topic_compression_type(settings, f"{settings.commands_topic}.nope") is None
