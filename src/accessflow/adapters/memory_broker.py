"""An in-memory broker behind the same ports as Kafka (``service/broker.py``), held to the
same contract suite (``tests/contract/test_broker_contract.py``), so the worker, relay and
DLQ logic is unit-tested at memory speed.

What it keeps of Kafka: topics of partitions, a key's partition chosen by the producer's own
partitioner; consumer groups with committed offsets; a rebalance whenever a member joins or
leaves (every member's partitions revoked, its listener awaited, then all reassigned round
robin and positions reset to the committed offsets); commits of partitions a member does
not own refused; each topic's ``max.message.bytes`` applied to record batches with the
broker's own permanent error (the producers, in ``memory_producers.py``, send through the
Kafka adapter's ``send_keyed``, so the batching and refusal rules are the same code).
:meth:`MemoryBroker.fail` makes the next N calls of an operation raise
:class:`BrokerUnavailable` (an outage).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from accessflow.service.broker import (
    BrokerUnavailable,
    CommitRefused,
    OutgoingRecord,
    Partition,
    RebalanceListener,
    Record,
)

#: Kafka's default ``max.message.bytes`` (1 MiB plus a batch header).
DEFAULT_MAX_MESSAGE_BYTES = 1_048_588


@dataclass
class _Topic:
    logs: list[list[Record]]
    max_message_bytes: int


@dataclass
class _Group:
    members: list[MemoryConsumer] = field(default_factory=list)
    committed: dict[Partition, int] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class MemoryBroker:
    def __init__(self, *, partitions: int = 3) -> None:
        self.default_partitions = partitions
        self._topics: dict[str, _Topic] = {}
        self._groups: dict[str, _Group] = {}
        self._faults: dict[str, int] = {}
        self._appended = asyncio.Event()

    def create_topic(
        self,
        name: str,
        partitions: int | None = None,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        count = partitions or self.default_partitions
        self._topics[name] = _Topic([[] for _ in range(count)], max_message_bytes)

    def set_max_message_bytes(self, topic: str, limit: int) -> None:
        self._topic(topic).max_message_bytes = limit

    def fail(self, operation: str, times: int = 1) -> None:
        """The next ``times`` calls of ``operation`` ("send", "fetch", "commit", "start")
        raise :class:`BrokerUnavailable`."""
        self._faults[operation] = self._faults.get(operation, 0) + times

    def records(self, topic: str) -> list[Record]:
        """Every record of ``topic``, partition after partition, each in order."""
        return [record for log in self._topic(topic).logs for record in log]

    def committed_offsets(self, group_id: str) -> dict[Partition, int]:
        return dict(self._group(group_id).committed)

    def consumer(self, topic: str, group_id: str, *, max_poll_records: int = 500) -> MemoryConsumer:
        return MemoryConsumer(self, topic, group_id, max_poll_records)

    def _topic(self, name: str) -> _Topic:
        if name not in self._topics:
            self.create_topic(name)
        return self._topics[name]

    def _group(self, group_id: str) -> _Group:
        return self._groups.setdefault(group_id, _Group())

    def partition_count(self, topic: str) -> int:
        return len(self._topic(topic).logs)

    def max_message_bytes(self, topic: str) -> int:
        return self._topic(topic).max_message_bytes

    def check(self, operation: str) -> None:
        """Raise :class:`BrokerUnavailable` if an outage of ``operation`` is pending."""
        left = self._faults.get(operation, 0)
        if left:
            self._faults[operation] = left - 1
            raise BrokerUnavailable(f"memory broker: {operation} failed (injected outage)")

    def append(self, topic: str, partition: int, items: Sequence[OutgoingRecord]) -> None:
        log = self._topic(topic).logs[partition]
        now_ms = int(time.time() * 1000)
        for key, value, headers in items:
            log.append(Record(topic, partition, len(log), key, value, tuple(headers), now_ms))
        self._appended.set()
        self._appended = asyncio.Event()

    async def _rebalance(self, group: _Group, topic: str) -> None:
        """Revoke every member's partitions (awaiting each listener), then reassign."""
        for member in group.members:
            await member._revoke()
        partitions = [Partition(topic, n) for n in range(len(self._topic(topic).logs))]
        for index, member in enumerate(group.members):
            mine = partitions[index :: len(group.members)]
            await member._assign(mine, group.committed)


class MemoryConsumer:
    def __init__(
        self, broker: MemoryBroker, topic: str, group_id: str, max_poll_records: int
    ) -> None:
        self._broker = broker
        self._topic = topic
        self._group = broker._group(group_id)
        self._max_poll_records = max_poll_records
        self._listener: RebalanceListener | None = None
        self._positions: dict[Partition, int] = {}

    async def start(self, listener: RebalanceListener) -> None:
        self._broker.check("start")
        self._listener = listener
        async with self._group.lock:
            self._group.members.append(self)
            await self._broker._rebalance(self._group, self._topic)

    async def stop(self) -> None:
        async with self._group.lock:
            if self not in self._group.members:
                return
            await self._revoke()
            self._group.members.remove(self)
            await self._broker._rebalance(self._group, self._topic)

    async def _revoke(self) -> None:
        """The listener runs while the partitions are still this member's (as in Kafka), so
        the in-flight batch it waits for can still commit them."""
        revoked = sorted(self._positions)
        if self._listener is not None and revoked:
            await self._listener.on_revoked(revoked)
        self._positions = {}

    async def _assign(self, partitions: list[Partition], committed: dict[Partition, int]) -> None:
        self._positions = {p: committed.get(p, 0) for p in partitions}
        if self._listener is not None:
            await self._listener.on_assigned(list(partitions))

    async def fetch(self, timeout_ms: int) -> dict[Partition, list[Record]]:
        self._broker.check("fetch")
        batch = self._take()
        if not batch:
            appended = self._broker._appended
            try:
                await asyncio.wait_for(appended.wait(), timeout_ms / 1000)
            except TimeoutError:
                return {}
            batch = self._take()
        return batch

    def _take(self) -> dict[Partition, list[Record]]:
        batch: dict[Partition, list[Record]] = {}
        room = self._max_poll_records
        logs = self._broker._topic(self._topic).logs
        for partition, position in self._positions.items():
            records = logs[partition.partition][position : position + room]
            if records:
                batch[partition] = records
                self._positions[partition] = position + len(records)
                room -= len(records)
            if room == 0:
                break
        return batch

    async def commit(self, offsets: dict[Partition, int]) -> None:
        self._broker.check("commit")
        foreign = [p for p in offsets if p not in self._positions]
        if foreign:
            raise CommitRefused(f"partitions {sorted(foreign)} are not assigned to this member")
        self._group.committed.update(offsets)

    def assignment(self) -> set[Partition]:
        return set(self._positions)

    async def committed(self, partition: Partition) -> int | None:
        return self._group.committed.get(partition)

    async def end_offsets(self, partitions: list[Partition]) -> dict[Partition, int]:
        logs = self._broker._topic(self._topic).logs
        return {p: len(logs[p.partition]) for p in partitions}

    def highwater(self, partition: Partition) -> int | None:
        if partition not in self._positions:
            return None
        return len(self._broker._topic(partition.topic).logs[partition.partition])
