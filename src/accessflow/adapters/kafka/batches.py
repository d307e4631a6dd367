"""Publishing many keyed messages at once: one record batch per partition, not one
``send`` per message, with an outcome per message.

``producer.send`` per message hashes the key (pure-Python murmur2, ≈ 16 µs) and goes
through a coroutine and the accumulator each time; the relay publishes every event of a
request (three or four, one key) in the same call. Here each key is hashed once, with the
producer's own default partitioner so a key lands where ``send`` would have put it, and the
messages of one partition are appended to record batches in order, which keeps per-key order.

One message the broker will never accept must not hold back the others, nor be overtaken
by later messages of its key:

- A message larger than the limits (:class:`SendLimits`) is refused before sending.
- A partition's batches go one after another, each once the previous one is acknowledged.
  aiokafka has one batch per partition in flight anyway, so this costs no round trip; it
  means nothing is sent after a batch the broker refused (with a fresh producer id the
  broker would accept the next batch, and a key's later message would overtake).
- A refused batch leaves the rest of its partition unsent, and the producer unusable for
  that partition (its sequence numbers moved on, so the next batch would be out of order):
  the caller replaces the producer. A refused batch of one message names its culprit; one
  of several does not, and the caller sends again with ``one_per_batch``.
- Once a message is refused, later messages of its key are not sent (``BEHIND_REFUSED``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from accessflow.adapters.kafka.errors import is_record_refusal
from accessflow.adapters.kafka.limits import BATCH_HEADER_BYTES, SendLimits
from accessflow.service.broker import Delivery as Delivery
from accessflow.service.broker import Message, SendReport


def partition_for(key: bytes, partitions: list[int]) -> int:
    """Where the producer's default partitioner puts ``key`` (murmur2, as Kafka's Java
    clients do): the in-memory broker uses it too, so a key lands on the same partition."""
    partition: int = DefaultPartitioner()(key, partitions, partitions)
    return partition


def message_bytes(key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> int:
    """The size of a record batch holding only this message (an upper bound, uncompressed)."""
    size: int = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, headers)
    return size


async def send_keyed(
    producer: Any,
    topic: str,
    messages: Sequence[Message],
    headers: list[tuple[str, bytes]],
    limits: SendLimits,
    *,
    one_per_batch: bool = False,
) -> SendReport:
    """Send ``messages`` in order per key; report each one's outcome.

    Raises the first error that is not a refusal of a record (an outage, or a topic the
    broker refuses outright) once every partition has stopped: nothing is reported then,
    and the caller sends again (what was acknowledged goes twice, with the same ids).
    """
    partitions = sorted(await producer.partitions_for(topic))
    by_partition: dict[int, list[int]] = {}
    partition_of: dict[bytes, int] = {}
    for index, (key, _) in enumerate(messages):
        partition = partition_of.get(key)
        if partition is None:
            partition = partition_of[key] = partition_for(key, partitions)
        by_partition.setdefault(partition, []).append(index)
    report = SendReport([Delivery.UNSENT] * len(messages))
    sender = _PartitionSender(producer, topic, messages, headers, limits, one_per_batch, report)
    # Every partition to its end even when one fails, so none is left sending unawaited.
    outcomes = await asyncio.gather(
        *(sender.send(partition, indexes) for partition, indexes in by_partition.items()),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    return report


@dataclass(slots=True)
class _PartitionSender:
    producer: Any  # AIOKafkaProducer, or the in-memory broker's stand-in
    topic: str
    messages: Sequence[Message]
    headers: list[tuple[str, bytes]]
    limits: SendLimits
    one_per_batch: bool
    report: SendReport

    async def send(self, partition: int, indexes: list[int]) -> None:
        """One partition's messages, batch after acknowledged batch, in order."""
        refused_keys: set[bytes] = set()
        batch: Any = None
        in_batch: list[int] = []
        for index in indexes:
            key, value = self.messages[index]
            if key in refused_keys:
                self.report.deliveries[index] = Delivery.BEHIND_REFUSED
                continue
            size = message_bytes(key, value, self.headers)
            if size > self.limits.max_message_bytes:
                self.report.refuse(index, _too_large(size, self.limits.max_message_bytes))
                refused_keys.add(key)
                continue
            if in_batch and (
                self.one_per_batch
                or batch.size() + size - BATCH_HEADER_BYTES > self.limits.batch_bytes
            ):
                if not await self._flush(batch, partition, in_batch):
                    return  # refused: the rest of the partition stays unsent
                batch, in_batch = None, []
            if batch is None:
                batch = self.producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=self.headers) is None:
                # Fuller than the estimate said (the producer's batches are smaller than
                # the limits): send it, and start the next one with this message, which
                # fits as a batch's first record always does.
                if not await self._flush(batch, partition, in_batch):
                    return
                batch, in_batch = self.producer.create_batch(), []
                batch.append(key=key, value=value, timestamp=None, headers=self.headers)
            in_batch.append(index)
        if in_batch:
            await self._flush(batch, partition, in_batch)

    async def _flush(self, batch: Any, partition: int, indexes: list[int]) -> bool:
        """Send one batch and wait for its acknowledgement; False if the broker refused it."""
        # Closed, the batch is complete: the sender takes it now instead of lingering
        # (``linger_ms``) for messages that will never be appended.
        batch.close()
        future = await self.producer.send_batch(batch, self.topic, partition=partition)
        try:
            await future
        except Exception as exc:
            if not is_record_refusal(exc):
                raise
            self.report.broker_refused = True
            if len(indexes) == 1:
                self.report.refuse(indexes[0], exc)
            else:
                self.report.ambiguous = True
            return False
        for index in indexes:
            self.report.deliveries[index] = Delivery.SENT
        return True


def _too_large(size: int, limit: int) -> MessageSizeTooLargeError:
    return MessageSizeTooLargeError(
        f"a message of {size} bytes is over the {limit} bytes the topic and producer accept"
    )
