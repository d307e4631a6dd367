"""The in-memory broker's producers (``service/broker.py`` ports): keyed sends through the
Kafka adapter's own ``send_keyed`` over record batches the memory broker checks against the
topic's ``max.message.bytes``, and the DLQ's record sender."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import BatchBuilder

from accessflow.adapters.kafka.batches import message_bytes, partition_for, send_keyed
from accessflow.adapters.kafka.limits import SendLimits
from accessflow.adapters.kafka.producer import MAX_BATCH_SIZE
from accessflow.adapters.memory_broker import MemoryBroker
from accessflow.service.broker import (
    BrokerUnavailable,
    Header,
    Message,
    OutgoingRecord,
    SendReport,
)


class _Batch(BatchBuilder):  # type: ignore[misc]
    """A real record batch (so its size is Kafka's) that remembers what it holds."""

    def __init__(self) -> None:
        super().__init__(MAX_BATCH_SIZE, 0)
        self.items: list[OutgoingRecord] = []

    def append(self, **kwargs: Any) -> Any:
        metadata = super().append(**kwargs)
        if metadata is not None:
            self.items.append((kwargs["key"], kwargs["value"], kwargs["headers"]))
        return metadata


class _BatchTarget:
    """What ``send_keyed`` needs of a producer, writing into the memory broker."""

    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(self._broker.partition_count(topic)))

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> Any:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            self._broker.check("send")
        except BrokerUnavailable as exc:
            future.set_exception(exc)
            return future
        limit = self._broker.max_message_bytes(topic)
        if batch.size() > limit:
            future.set_exception(MessageSizeTooLargeError(f"batch over {limit} bytes"))
        else:
            self._broker.append(topic, partition, batch.items)
            future.set_result(None)
        return future


class MemoryKeyedProducer:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker
        self._target = _BatchTarget(broker)
        self._judged: dict[str, int] = {}

    async def send_keyed(
        self,
        topic: str,
        messages: Sequence[Message],
        headers: list[Header],
        *,
        one_per_batch: bool = False,
    ) -> SendReport:
        limit = self._judged.setdefault(topic, self._broker.max_message_bytes(topic))
        return await send_keyed(
            self._target,
            topic,
            messages,
            headers,
            SendLimits.for_topic(limit),
            one_per_batch=one_per_batch,
        )

    async def limits_changed(self, topic: str) -> bool:
        now = self._broker.max_message_bytes(topic)
        before, self._judged[topic] = self._judged.get(topic), now
        return before != now

    async def stop(self) -> None:
        return None


class MemoryProducers:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def start_producer(self) -> MemoryKeyedProducer:
        self._broker.check("start")
        return MemoryKeyedProducer(self._broker)


class MemoryRecordSender:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def start(self) -> None:
        self._broker.check("start")

    async def max_record_bytes(self, topic: str) -> int:
        return SendLimits.for_topic(self._broker.max_message_bytes(topic)).max_message_bytes

    async def send_all(
        self, topic: str, records: Sequence[OutgoingRecord]
    ) -> dict[int, BaseException]:
        self._broker.check("send")
        limit = self._broker.max_message_bytes(topic)
        partitions = list(range(self._broker.partition_count(topic)))
        refused: dict[int, BaseException] = {}
        for index, (key, value, headers) in enumerate(records):
            size = message_bytes(key or b"", value or b"", list(headers))
            if size > limit:
                refused[index] = MessageSizeTooLargeError(f"a record of {size} bytes")
                continue
            partition = partition_for(key, partitions) if key else 0
            self._broker.append(topic, partition, [(key, value, headers)])
        return refused

    async def stop(self) -> None:
        return None
