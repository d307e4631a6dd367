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
from accessflow.adapters.kafka.errors import is_permanent
from accessflow.adapters.kafka.limits import SendLimits, TopicLimits, topic_max_message_bytes
from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.kafka.producer import make_producer
from accessflow.adapters.kafka.topics import topic_compression_type
from accessflow.logs import get_logger
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

log = get_logger("accessflow.worker")


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

    def __init__(
        self,
        settings: Settings,
        topic: str,
        group_id: str,
        *,
        warn_if_compressed: bool = False,
        **options: Any,
    ) -> None:
        self._settings = settings
        self._topic = topic
        self._warn_if_compressed = warn_if_compressed
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
            warn_if_compressed=True,
            max_poll_records=settings.max_poll_records,
            # Bounds what one fetch holds before decompression; each record batch is
            # inflated whole when read (docs/operations.md, Memory bounds of a fetch).
            fetch_max_bytes=settings.consumer_fetch_max_bytes,
            max_partition_fetch_bytes=settings.consumer_max_partition_fetch_bytes,
            group_instance_id=settings.consumer_instance_id,
            session_timeout_ms=settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=settings.consumer_heartbeat_interval_ms,
        )

    async def start(self, listener: RebalanceListener) -> None:
        if self._warn_if_compressed:
            await self._check_compression()
            self._warn_if_compressed = False  # once, not on every retried start
        self._client.subscribe([self._topic], listener=_Listener(listener))
        await start_client(self._client, self._settings)

    async def _check_compression(self) -> None:
        """Say so at start when a compressed batch may inflate without bound in this process."""
        compression = await topic_compression_type(self._settings, self._topic)
        if compression is not None and compression != "uncompressed":
            log.warning(
                "commands_topic.compression_kept",
                topic=self._topic,
                compression_type=compression,
                hint="a compressed batch may inflate to about 1000 times max.message.bytes "
                "in the worker's memory; set the topic's compression.type=uncompressed "
                "(docs/operations.md, Memory bounds of a fetch)",
            )

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

    def __init__(self, settings: Settings, producer: AIOKafkaProducer | None = None) -> None:
        self._settings = settings
        self._producer = producer or make_producer(settings, linger_ms=0)

    async def start(self) -> None:
        await start_client(self._producer, self._settings)

    async def max_record_bytes(self, topic: str) -> int:
        topic_max = await topic_max_message_bytes(self._settings, topic)
        return SendLimits.for_topic(topic_max).max_message_bytes

    async def send_all(
        self, topic: str, records: Sequence[OutgoingRecord]
    ) -> dict[int, BaseException]:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[object]] = []
        for key, value, headers in records:
            try:
                futures.append(
                    await self._producer.send(topic, value, key=key, headers=list(headers))
                )
            except Exception as exc:  # the client refused before sending (too large)
                if not is_permanent(exc):
                    raise
                refused: asyncio.Future[object] = loop.create_future()
                refused.set_exception(exc)
                futures.append(refused)
        results = await asyncio.gather(*futures, return_exceptions=True)
        failures = {i: r for i, r in enumerate(results) if isinstance(r, BaseException)}
        for error in failures.values():
            if not is_permanent(error):
                raise error
        return failures

    async def stop(self) -> None:
        await self._producer.stop()
