"""One harness per broker adapter (in memory, Kafka), so the broker contract suite runs the
same tests against both, and helpers to read from a consumer port."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from accessflow.adapters.kafka.clients import KafkaConsumer, KafkaProducers, KafkaRecordSender
from accessflow.adapters.kafka.limits import describe_max_message_bytes
from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.memory_broker import DEFAULT_MAX_MESSAGE_BYTES, MemoryBroker
from accessflow.adapters.memory_producers import MemoryProducers, MemoryRecordSender
from accessflow.service.broker import (
    Consumer,
    Partition,
    ProducerFactory,
    Record,
    RecordSender,
)
from accessflow.settings import Settings


class BrokerHarness(Protocol):
    async def topic(
        self, partitions: int, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> str:
        """A new topic's name."""
        ...

    def consumer(self, topic: str, group_id: str) -> Consumer: ...

    def producers(self) -> ProducerFactory: ...

    def record_sender(self) -> RecordSender: ...


@dataclass
class MemoryHarness:
    broker: MemoryBroker = field(default_factory=MemoryBroker)

    async def topic(
        self, partitions: int, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> str:
        name = f"topic-{uuid.uuid4().hex[:8]}"
        self.broker.create_topic(name, partitions, max_message_bytes=max_message_bytes)
        return name

    def consumer(self, topic: str, group_id: str) -> Consumer:
        return self.broker.consumer(topic, group_id)

    def producers(self) -> ProducerFactory:
        return MemoryProducers(self.broker)

    def record_sender(self) -> RecordSender:
        return MemoryRecordSender(self.broker)


@dataclass
class KafkaHarness:
    """Topics named under the test's own prefix, which the ``settings`` fixture deletes."""

    settings: Settings

    async def topic(
        self, partitions: int, *, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
    ) -> str:
        prefix = self.settings.commands_topic.rsplit(".", 1)[0]
        name = f"{prefix}.{uuid.uuid4().hex[:8]}"
        admin = AIOKafkaAdminClient(**client_options(self.settings))
        await admin.start()
        try:
            await admin.create_topics(
                [
                    NewTopic(
                        name,
                        num_partitions=partitions,
                        replication_factor=1,
                        topic_configs={"max.message.bytes": str(max_message_bytes)},
                    )
                ]
            )
        finally:
            await admin.close()
        # A topic just created may not be described yet: its limit would read as unknown.
        for _ in range(300):
            if name in await describe_max_message_bytes(self.settings, [name]):
                return name
            await asyncio.sleep(0.1)
        raise AssertionError(f"topic {name} was not described within 30 s of its creation")

    def consumer(self, topic: str, group_id: str) -> Consumer:
        return KafkaConsumer(
            self.settings,
            topic,
            group_id,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=500,
        )

    def producers(self) -> ProducerFactory:
        return KafkaProducers(self.settings)

    def record_sender(self) -> RecordSender:
        return KafkaRecordSender(self.settings)


class Revocations:
    """A rebalance listener that writes down what it was told, in order (Kafka also
    revokes nothing before a first assignment: left out)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, list[int]]] = []

    async def on_revoked(self, partitions: list[Partition]) -> None:
        if partitions:
            self.events.append(("revoked", sorted(p.partition for p in partitions)))

    async def on_assigned(self, partitions: list[Partition]) -> None:
        self.events.append(("assigned", sorted(p.partition for p in partitions)))


async def fetch_until(
    consumer: Consumer,
    done: Callable[[list[Record]], bool],
    *,
    timeout_s: float = 30.0,
) -> list[Record]:
    """Fetch until ``done(everything fetched so far)``; fails after ``timeout_s``."""
    fetched: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while not done(fetched):
        if time.monotonic() > deadline:
            raise AssertionError(f"fetched {len(fetched)} records, not done after {timeout_s}s")
        for records in (await consumer.fetch(timeout_ms=200)).values():
            fetched.extend(records)
    return fetched
