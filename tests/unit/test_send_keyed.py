"""send_keyed's outcome per message, against a fake producer that refuses like a broker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder

from accessflow.adapters.kafka.batches import Delivery, message_bytes, send_keyed
from accessflow.adapters.kafka.limits import SendLimits

HEADERS = [("content-type", b"application/cloudevents+json")]
PARTITIONS = [0, 1, 2]


class _Batch(BatchBuilder):  # type: ignore[misc]
    """A real record batch that also remembers its messages, for the fake broker."""

    def __init__(self) -> None:
        super().__init__(256 * 1024, 0)
        self.messages: list[tuple[bytes, bytes]] = []

    def append(self, **kwargs: Any) -> Any:
        metadata = super().append(**kwargs)
        if metadata is not None:
            self.messages.append((kwargs["key"], kwargs["value"]))
        return metadata


@dataclass
class FakeProducer:
    """Acknowledges a batch unless the broker would refuse it: over ``broker_limit`` bytes
    (MESSAGE_TOO_LARGE) or holding a value in ``unreachable`` (an outage)."""

    broker_limit: int = 1_000_000
    unreachable: set[bytes] = field(default_factory=set)
    sent: dict[int, list[list[tuple[bytes, bytes]]]] = field(default_factory=dict)
    refused: dict[int, list[list[tuple[bytes, bytes]]]] = field(default_factory=dict)

    async def partitions_for(self, topic: str) -> set[int]:
        return set(PARTITIONS)

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        assert batch.closed()
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if any(value in self.unreachable for _, value in batch.messages):
            future.set_exception(KafkaConnectionError())
        elif batch.size() > self.broker_limit:
            self.refused.setdefault(partition, []).append(batch.messages)
            future.set_exception(MessageSizeTooLargeError())
        else:
            self.sent.setdefault(partition, []).append(batch.messages)
            future.set_result(None)
        return future

    def published(self) -> list[tuple[bytes, bytes]]:
        return [m for batches in self.sent.values() for batch in batches for m in batch]


def partition_of(key: bytes) -> int:
    partition: int = DefaultPartitioner()(key, PARTITIONS, PARTITIONS)
    return partition


def keys_on_one_partition(count: int) -> list[bytes]:
    keys = [f"request-{n}".encode() for n in range(200)]
    same = [k for k in keys if partition_of(k) == partition_of(keys[0])]
    return same[:count]


def events(key: bytes, *sizes: int) -> list[tuple[bytes, bytes]]:
    return [
        (key, f"{key.decode()}#{n}:".encode().ljust(size, b".")) for n, size in enumerate(sizes)
    ]


async def test_everything_small_is_sent_in_batches_within_the_limit_in_order() -> None:
    producer = FakeProducer(broker_limit=5_000)
    messages = [m for n in range(30) for m in events(f"request-{n}".encode(), 400, 400, 400)]
    report = await send_keyed(producer, "events", messages, HEADERS, SendLimits(5_000, 5_000))

    assert report.deliveries == [Delivery.SENT] * len(messages)
    assert not report.broker_refused
    assert not report.ambiguous
    assert sorted(producer.published()) == sorted(messages)
    for batches in producer.sent.values():
        assert len(batches) > 1  # the limit, not the 256 KiB batch, closed them
        published = [m for batch in batches for m in batch]
        for key in {k for k, _ in published}:  # each key's messages in the given order
            assert [m for m in published if m[0] == key] == [m for m in messages if m[0] == key]


async def test_a_message_over_the_limit_is_refused_unsent_and_its_key_stops_there() -> None:
    producer = FakeProducer()
    big, other = b"request-big", b"request-other"
    messages = [*events(big, 100, 20_000, 100), *events(other, 100, 100)]
    report = await send_keyed(producer, "events", messages, HEADERS, SendLimits(10_000, 10_000))

    assert report.deliveries == [
        Delivery.SENT,
        Delivery.REFUSED,
        Delivery.BEHIND_REFUSED,
        Delivery.SENT,
        Delivery.SENT,
    ]
    assert isinstance(report.errors[1], MessageSizeTooLargeError)
    assert "20" in str(report.errors[1])  # the size
    assert "10000" in str(report.errors[1])
    assert not report.broker_refused  # caught before sending: the producer is fine
    assert sorted(producer.published()) == sorted([messages[0], *messages[3:]])


async def test_a_refused_batch_stops_its_partition_and_asks_for_one_per_batch() -> None:
    """The broker's limit is lower than the relay knew: the batch with the big message is
    refused, nothing after it on that partition is sent, other partitions go on."""
    first, second = keys_on_one_partition(2)
    elsewhere = next(
        f"request-{n}".encode()
        for n in range(200)
        if partition_of(f"request-{n}".encode()) != partition_of(first)
    )
    producer = FakeProducer(broker_limit=10_000)
    messages = [*events(first, 100, 12_000, 100), *events(second, 100), *events(elsewhere, 100)]
    limits = SendLimits(1_000_000, 1_000_000)
    report = await send_keyed(producer, "events", messages, HEADERS, limits)

    assert report.broker_refused
    assert report.ambiguous
    assert report.deliveries[:4] == [Delivery.UNSENT] * 4
    assert report.deliveries[4] is Delivery.SENT
    assert producer.published() == [messages[4]]

    producer = FakeProducer(broker_limit=10_000)  # the caller's fresh producer
    report = await send_keyed(producer, "events", messages, HEADERS, limits, one_per_batch=True)
    assert report.deliveries == [
        Delivery.SENT,
        Delivery.REFUSED,
        Delivery.UNSENT,  # the partition stops at a refusal: the next try sends these
        Delivery.UNSENT,
        Delivery.SENT,
    ]
    assert isinstance(report.errors[1], MessageSizeTooLargeError)
    assert report.broker_refused
    assert not report.ambiguous
    assert sorted(producer.published()) == sorted([messages[0], messages[4]])


async def test_an_outage_is_raised_not_reported() -> None:
    producer = FakeProducer(unreachable={b"request-1#0:"})
    with pytest.raises(KafkaConnectionError):
        await send_keyed(
            producer, "events", events(b"request-1", 12), HEADERS, SendLimits(10_000, 10_000)
        )


def test_a_message_bytes_is_at_least_what_the_batch_of_it_weighs() -> None:
    batch = _Batch()
    key, value = b"request-1", b"x" * 5_000
    batch.append(key=key, value=value, timestamp=None, headers=HEADERS)
    assert message_bytes(key, value, HEADERS) >= batch.size()
