"""The broker ports' contract: every test runs against the in-memory broker and against
Kafka, so what the unit tests learn on the first holds on the second."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from broker_support import BrokerHarness, Revocations, fetch_until

from accessflow.adapters.kafka.batches import partition_for
from accessflow.adapters.kafka.errors import Refusal, is_permanent, refusal
from accessflow.service.broker import (
    CommitRefused,
    Consumer,
    Delivery,
    KeyedProducer,
    Partition,
    Record,
)

HEADERS = [("content-type", b"application/cloudevents+json")]


@contextlib.asynccontextmanager
async def member(
    broker: BrokerHarness, topic: str, group: str, listener: Revocations | None = None
) -> AsyncIterator[Consumer]:
    consumer = broker.consumer(topic, group)
    await consumer.start(listener or Revocations())
    try:
        yield consumer
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def producer(broker: BrokerHarness) -> AsyncIterator[KeyedProducer]:
    started = await broker.producers().start_producer()
    try:
        yield started
    finally:
        await started.stop()


async def assigned(consumer: Consumer, count: int, timeout_s: float = 30.0) -> set[Partition]:
    """Poll until the member owns ``count`` partitions (Kafka assigns during a poll)."""
    async with asyncio.timeout(timeout_s):
        while len(consumer.assignment()) != count:
            await consumer.fetch(timeout_ms=100)
    return consumer.assignment()


def keyed(keys: int, each: int) -> list[tuple[bytes, bytes]]:
    return [
        (f"key-{k}".encode(), f"key-{k}#{n}".encode()) for n in range(each) for k in range(keys)
    ]


async def test_a_keys_messages_arrive_in_order_on_the_partition_its_key_hashes_to(
    broker: BrokerHarness,
) -> None:
    topic = await broker.topic(4)
    messages = keyed(keys=12, each=5)
    async with producer(broker) as sending:
        report = await sending.send_keyed(topic, messages, HEADERS)
    assert report.deliveries == [Delivery.SENT] * len(messages)

    async with member(broker, topic, f"g-{uuid.uuid4().hex}") as consumer:
        records = await fetch_until(consumer, lambda got: len(got) >= len(messages))

    by_key: dict[bytes, list[Record]] = {}
    for record in records:
        assert record.key is not None
        by_key.setdefault(record.key, []).append(record)
    for key, mine in by_key.items():
        assert {r.partition for r in mine} == {partition_for(key, [0, 1, 2, 3])}
        assert [r.value for r in mine] == [v for k, v in messages if k == key]


async def test_a_group_resumes_from_its_committed_offsets(broker: BrokerHarness) -> None:
    topic = await broker.topic(1)
    group = f"g-{uuid.uuid4().hex}"
    async with producer(broker) as sending:
        await sending.send_keyed(topic, keyed(keys=1, each=6), HEADERS)

    async with member(broker, topic, group) as first:
        records = await fetch_until(first, lambda got: len(got) >= 6)
        assert await first.committed(Partition(topic, 0)) is None
        await first.commit({Partition(topic, 0): records[3].offset + 1})

    async with member(broker, topic, group) as second:
        resumed = await fetch_until(second, lambda got: len(got) >= 2)
        assert await second.committed(Partition(topic, 0)) == 4
    assert [r.offset for r in resumed] == [4, 5]


async def test_a_second_member_takes_half_the_partitions_after_the_first_revokes(
    broker: BrokerHarness,
) -> None:
    topic = await broker.topic(4)
    group = f"g-{uuid.uuid4().hex}"
    told = Revocations()
    async with member(broker, topic, group, told) as first:
        assert len(await assigned(first, 4)) == 4
        async with member(broker, topic, group) as second:
            # Both poll: Kafka rebalances a group while its members poll.
            mine, theirs = await asyncio.gather(assigned(first, 2), assigned(second, 2))

    assert mine.isdisjoint(theirs)
    assert mine | theirs == {Partition(topic, n) for n in range(4)}
    assert told.events[:3] == [
        ("assigned", [0, 1, 2, 3]),
        ("revoked", [0, 1, 2, 3]),
        ("assigned", sorted(p.partition for p in mine)),
    ]


async def test_a_commit_of_a_partition_the_member_does_not_own_is_refused(
    broker: BrokerHarness,
) -> None:
    topic = await broker.topic(2)
    other = await broker.topic(1)
    async with member(broker, topic, f"g-{uuid.uuid4().hex}") as consumer:
        await assigned(consumer, 2)
        with pytest.raises(CommitRefused):
            await consumer.commit({Partition(other, 0): 1})


async def test_a_record_over_the_topics_limit_is_refused_with_the_permanent_error(
    broker: BrokerHarness,
) -> None:
    topic = await broker.topic(1, max_message_bytes=2_000)
    messages = [(b"small", b"s" * 100), (b"large", b"x" * 5_000), (b"small", b"t" * 100)]
    async with producer(broker) as sending:
        report = await sending.send_keyed(topic, messages, HEADERS)
    assert report.deliveries == [Delivery.SENT, Delivery.REFUSED, Delivery.SENT]
    assert refusal(report.errors[1]) is Refusal.MESSAGE_TOO_LARGE

    sender = broker.record_sender()
    await sender.start()
    try:
        assert await sender.max_record_bytes(topic) == 2_000
        refused = await sender.send_all(topic, [(b"large", b"x" * 5_000, HEADERS)])
        assert await sender.send_all(topic, [(b"small", b"fits", HEADERS)]) == {}
    finally:
        await sender.stop()
    assert list(refused) == [0]
    assert isinstance(refused[0], MessageSizeTooLargeError)
    assert is_permanent(refused[0])


async def test_headers_and_keys_round_trip(broker: BrokerHarness) -> None:
    topic = await broker.topic(2)
    headers = [("traceparent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"), ("x", b"")]
    sender = broker.record_sender()
    await sender.start()
    try:
        await sender.send_all(topic, [(b"k", b"value", headers), (None, b"no key", [])])
    finally:
        await sender.stop()
    async with member(broker, topic, f"g-{uuid.uuid4().hex}") as consumer:
        records = await fetch_until(consumer, lambda got: len(got) >= 2)
    found = {r.value: r for r in records}
    assert found[b"value"].key == b"k"
    assert list(found[b"value"].headers) == headers
    assert found[b"value"].timestamp > 0
    assert found[b"no key"].key is None


async def test_end_offsets_count_each_partitions_records(broker: BrokerHarness) -> None:
    topic = await broker.topic(4)
    messages = keyed(keys=10, each=3)
    async with producer(broker) as sending:
        await sending.send_keyed(topic, messages, HEADERS)
    expected = {Partition(topic, n): 0 for n in range(4)}
    for key, _ in messages:
        expected[Partition(topic, partition_for(key, [0, 1, 2, 3]))] += 1
    async with member(broker, topic, f"g-{uuid.uuid4().hex}") as consumer:
        owned = await assigned(consumer, 4)
        assert await consumer.end_offsets(sorted(owned)) == expected
        await fetch_until(consumer, lambda got: len(got) >= len(messages))
        for partition in owned:
            assert consumer.highwater(partition) == expected[partition]


class Holding(Revocations):
    """Notes which partitions the member still owned while it was told of a revocation."""

    def __init__(self) -> None:
        super().__init__()
        self.consumer: Consumer | None = None
        self.owned_while_revoking: list[set[Partition]] = []

    async def on_revoked(self, partitions: list[Partition]) -> None:
        if partitions and self.consumer is not None:
            self.owned_while_revoking.append(self.consumer.assignment())
        await super().on_revoked(partitions)


async def test_a_member_still_owns_its_partitions_while_told_of_their_revocation(
    broker: BrokerHarness,
) -> None:
    """So a revocation that waits for the in-flight batch lets that batch commit."""
    topic = await broker.topic(2)
    group = f"g-{uuid.uuid4().hex}"
    told = Holding()
    first = broker.consumer(topic, group)
    told.consumer = first
    await first.start(told)
    try:
        await assigned(first, 2)
        async with member(broker, topic, group) as second:
            await asyncio.gather(assigned(first, 1), assigned(second, 1))
    finally:
        await first.stop()
    assert told.owned_while_revoking[0] == {Partition(topic, 0), Partition(topic, 1)}
