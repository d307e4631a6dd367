"""Read a whole topic, or follow it live, without joining a consumer group.

Operators' commands (``dlq list``, ``events tail``), tests and clients look at topics without
taking part in anyone's offsets: the consumers here have no group id, are assigned every
partition explicitly and never commit. Records are aiokafka ``ConsumerRecord`` objects.

The helpers are async generators that own their consumer; a caller that stops early should
iterate inside ``contextlib.aclosing`` so the consumer is closed at once, not at GC time.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.options import client_options
from accessflow.settings_base import KafkaConnectionSettings

_POLL_MS = 500
_METADATA_ATTEMPTS = 20


class TopicNotFoundError(LookupError):
    """The topic does not exist on the cluster (reading would otherwise wait forever)."""


@asynccontextmanager
async def assigned_consumer(
    settings: KafkaConnectionSettings, topic: str
) -> AsyncIterator[tuple[AIOKafkaConsumer, list[TopicPartition]]]:
    """A started group-less consumer assigned every partition of ``topic``; stopped on exit.

    Raises :class:`TopicNotFoundError` when the topic does not exist.
    """
    consumer = AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **client_options(settings),
    )
    await start_client(consumer, settings)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await _partitions(consumer, topic))]
        consumer.assign(partitions)
        yield consumer, partitions
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    if topic not in await consumer.topics():
        raise TopicNotFoundError(f"topic {topic!r} does not exist")
    # aiokafka has no public call that loads one topic's partitions for an assign()-only
    # consumer; a just-created topic can take a few metadata rounds to list its partitions.
    for _ in range(_METADATA_ATTEMPTS):
        partitions: set[int] | None = consumer.partitions_for_topic(topic)
        if partitions:
            return partitions
        await consumer._client.force_metadata_update()
    raise TopicNotFoundError(f"topic {topic!r} has no partitions in the cluster metadata")


async def read_to_end(
    settings: KafkaConnectionSettings, topic: str
) -> AsyncGenerator[ConsumerRecord, None]:
    """Every record of ``topic`` from the beginning up to its end as of the call.

    The end offsets are a snapshot taken before reading, so records published meanwhile are
    not yielded and the iteration always finishes. Order is per partition, not global.
    """
    async with assigned_consumer(settings, topic) as (consumer, partitions):
        await consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        consumer.pause(*(set(partitions) - pending))
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=_POLL_MS)
            for tp, records in batch.items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    # Paused so the next fetch does not pull records past the snapshot.
                    consumer.pause(tp)
                    pending.discard(tp)


async def read_all(settings: KafkaConnectionSettings, topic: str) -> list[ConsumerRecord]:
    """:func:`read_to_end` collected into a list (tests and small topics)."""
    return [record async for record in read_to_end(settings, topic)]


@asynccontextmanager
async def following(
    settings: KafkaConnectionSettings,
    topic: str,
    *,
    from_beginning: bool = False,
    timeout_s: float | None = None,
) -> AsyncIterator[AsyncGenerator[ConsumerRecord, None]]:
    """Positions fixed on entry; the body iterates records as they arrive.

    "From the end" means the end when the block was entered, so a test can enter, publish,
    then iterate without missing what it published. The iterator ends after ``timeout_s``
    seconds when given, otherwise when the caller stops iterating.
    """
    async with assigned_consumer(settings, topic) as (consumer, partitions):
        if from_beginning:
            await consumer.seek_to_beginning(*partitions)
        else:
            await consumer.seek_to_end(*partitions)
        for tp in partitions:
            # Both seeks are lazy; position() waits until the offset is actually resolved.
            await consumer.position(tp)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        records = _records(consumer, deadline)
        try:
            yield records
        finally:
            await records.aclose()


async def follow(
    settings: KafkaConnectionSettings,
    topic: str,
    *,
    from_beginning: bool = False,
    timeout_s: float | None = None,
) -> AsyncGenerator[ConsumerRecord, None]:
    """Records of ``topic`` as they arrive, from its end (or beginning) when iteration starts.

    Runs until the caller stops iterating, or for ``timeout_s`` seconds when given. Partitions
    added to the topic after the start are not followed.
    """
    async with following(
        settings, topic, from_beginning=from_beginning, timeout_s=timeout_s
    ) as records:
        async for record in records:
            yield record


async def _records(
    consumer: AIOKafkaConsumer, deadline: float | None
) -> AsyncGenerator[ConsumerRecord, None]:
    while True:
        wait_ms = _POLL_MS
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            wait_ms = min(wait_ms, max(1, int(remaining * 1000)))
        batch = await consumer.getmany(timeout_ms=wait_ms)
        for records in batch.values():
            for record in records:
                yield record
