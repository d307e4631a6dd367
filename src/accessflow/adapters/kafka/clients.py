"""The broker ports (``service/broker.py``) on aiokafka: the worker's group consumer, the
relay's keyed producer, the DLQ's sender.

Each is built unstarted from the settings (by ``bootstrap``) and started by the loop that
uses it, which waits out a broker that is away; a broker that refuses us raises
:class:`KafkaAccessRefused` at once (``access.start_client``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.batches import send_keyed
from accessflow.adapters.kafka.limits import TopicLimits
from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.kafka.producer import make_producer
from accessflow.service.broker import (
    CommitRefused,
    Header,
    Message,
    OutgoingRecord,
    Partition,
    RebalanceListener,
    Record,
    SendReport,
)
from accessflow.settings import Settings


def _partitions(tps: Any) -> list[Partition]:
    return [Partition(tp.topic, tp.partition) for tp in tps]


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, listener: RebalanceListener) -> None:
        self._listener = listener

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._listener.on_revoked(_partitions(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._listener.on_assigned(_partitions(assigned))


class KafkaConsumer:
    """A member of ``group_id`` on ``topic``, committing by hand, reading committed data."""

    def __init__(self, settings: Settings, topic: str, group_id: str, **options: Any) -> None:
        self._settings = settings
        self._topic = topic
        self._client = AIOKafkaConsumer(
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            **options,
            **client_options(settings),
        )

    @classmethod
    def for_commands(cls, settings: Settings) -> KafkaConsumer:
        """The worker's consumer of the commands topic."""
        return cls(
            settings,
            settings.commands_topic,
            settings.consumer_group_id,
            max_poll_records=settings.max_poll_records,
            group_instance_id=settings.consumer_instance_id,
            session_timeout_ms=settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        )

    async def start(self, listener: RebalanceListener) -> None:
        self._client.subscribe([self._topic], listener=_Listener(listener))
        await start_client(self._client, self._settings)

    async def stop(self) -> None:
        await self._client.stop()

    async def fetch(self, timeout_ms: int) -> dict[Partition, list[Record]]:
        batch = await self._client.getmany(timeout_ms=timeout_ms)
        return {
            Partition(tp.topic, tp.partition): [
                Record(
                    r.topic,
                    r.partition,
                    r.offset,
                    r.key,
                    r.value,
                    tuple(r.headers or ()),
                    r.timestamp,
                )
                for r in records
            ]
            for tp, records in batch.items()
        }

    async def commit(self, offsets: dict[Partition, int]) -> None:
        try:
            await self._client.commit(
                {TopicPartition(p.topic, p.partition): offset for p, offset in offsets.items()}
            )
        except (CommitFailedError, IllegalStateError) as exc:
            raise CommitRefused(str(exc)) from exc

    def assignment(self) -> set[Partition]:
        return set(_partitions(self._client.assignment()))

    async def committed(self, partition: Partition) -> int | None:
        offset: int | None = await self._client.committed(TopicPartition(*partition))
        return offset

    async def end_offsets(self, partitions: list[Partition]) -> dict[Partition, int]:
        ends = await self._client.end_offsets([TopicPartition(*p) for p in partitions])
        return {Partition(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    def highwater(self, partition: Partition) -> int | None:
        offset: int | None = self._client.highwater(TopicPartition(*partition))
        return offset


class KafkaKeyedProducer:
    """An idempotent producer sending keyed messages in per-partition record batches, each
    topic's size limit read from the broker before its first send."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self._settings = settings
        self._producer = producer
        self._limits: dict[str, TopicLimits] = {}

    async def _topic_limits(self, topic: str) -> TopicLimits:
        limits = self._limits.get(topic)
        if limits is None:
            limits = self._limits[topic] = TopicLimits(self._settings, topic)
            await limits.read()
        return limits

    async def send_keyed(
        self,
        topic: str,
        messages: Sequence[Message],
        headers: list[Header],
        *,
        one_per_batch: bool = False,
    ) -> SendReport:
        limits = await self._topic_limits(topic)
        return await send_keyed(
            self._producer, topic, messages, headers, limits.current, one_per_batch=one_per_batch
        )

    async def limits_changed(self, topic: str) -> bool:
        return await (await self._topic_limits(topic)).changed()

    async def stop(self) -> None:
        await self._producer.stop()


class KafkaProducers:
    """Starts a fresh :class:`KafkaKeyedProducer` (and so a fresh producer id) on demand."""

    def __init__(self, settings: Settings, *, linger_ms: int = 5) -> None:
        self._settings = settings
        self._linger_ms = linger_ms

    async def start_producer(self) -> KafkaKeyedProducer:
        producer = make_producer(self._settings, linger_ms=self._linger_ms)
        try:
            await start_client(producer, self._settings)
        except BaseException:
            await producer.stop()
            raise
        return KafkaKeyedProducer(self._settings, producer)


class KafkaRecordSender:
    """Writes records unchanged (the DLQ): publish all, then await all."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer = make_producer(settings, linger_ms=0)

    async def start(self) -> None:
        await start_client(self._producer, self._settings)

    async def send_all(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        futures = [
            await self._producer.send(topic, value, key=key, headers=list(headers))
            for key, value, headers in records
        ]
        await asyncio.gather(*futures)

    async def stop(self) -> None:
        await self._producer.stop()
