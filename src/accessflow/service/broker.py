"""The broker ports: what the worker, the relay, the API and the CLI need of a message
broker, in accessflow's own types.

Two adapters implement them and one contract suite holds both to the same behaviour
(``tests/contract/test_broker_contract.py``): aiokafka's (``adapters/kafka/clients.py``) and
an in-memory broker (``adapters/memory_broker.py``) with partitions, consumer groups,
rebalances and size limits, on which the loops are unit-tested at memory speed. Nothing above
the adapters sees an aiokafka type: records arrive as :class:`Record`, and what became of a
keyed send is a :class:`SendReport`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple, Protocol

Header = tuple[str, bytes]
Message = tuple[bytes, bytes]  # key, value
#: A record to write as it is: key, value, headers (the DLQ's letters).
OutgoingRecord = tuple[bytes | None, bytes | None, Sequence[Header]]


class Partition(NamedTuple):
    """One partition of one topic (hashable: a key of offsets and batches)."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    """A consumed record, as the service and the entrypoints see it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    timestamp: int = 0  # milliseconds since the epoch, as the broker stamped it


class BrokerUnavailable(ConnectionError):  # noqa: N818 - names the situation
    """The broker is away or busy: the same call may succeed later (a transient error)."""


class CommitRefused(Exception):  # noqa: N818 - names the situation
    """The group rebalanced under the consumer: these offsets are no longer its to commit.
    Nothing is lost: the effects are in the database and redelivery changes nothing."""


class RebalanceListener(Protocol):
    """Called by the consumer around a rebalance. Revocation is awaited before the
    partitions move, so a listener that waits for the in-flight batch keeps its commit."""

    async def on_revoked(self, partitions: list[Partition]) -> None: ...

    async def on_assigned(self, partitions: list[Partition]) -> None: ...


class Consumer(Protocol):
    """A member of a consumer group on one topic: the worker's view of the broker."""

    async def start(self, listener: RebalanceListener) -> None:
        """Join the group; raises :class:`BrokerUnavailable` (or the client's transient
        error) while the broker is away."""

    async def stop(self) -> None:
        """Leave the group (its partitions move on at once) and close."""

    async def fetch(self, timeout_ms: int) -> dict[Partition, list[Record]]:
        """The next records of the assigned partitions, each partition's in order; empty
        after ``timeout_ms`` without any."""

    async def commit(self, offsets: dict[Partition, int]) -> None:
        """Commit the next offset to read per partition; :class:`CommitRefused` when a
        rebalance took them."""

    def assignment(self) -> set[Partition]: ...

    async def committed(self, partition: Partition) -> int | None: ...

    async def end_offsets(self, partitions: list[Partition]) -> dict[Partition, int]: ...

    def highwater(self, partition: Partition) -> int | None:
        """The partition's end as of the last fetch (for lag), None before one."""


class Delivery(StrEnum):
    SENT = "sent"  # acknowledged by the broker
    REFUSED = "refused"  # will never be accepted: ``SendReport.errors`` says why
    BEHIND_REFUSED = "behindRefused"  # not sent: an earlier message of its key was refused
    UNSENT = "unsent"  # not acknowledged yet: send it again (it is not known to be bad)


@dataclass(slots=True)
class SendReport:
    """What became of each message of one keyed send, in the given order."""

    deliveries: list[Delivery]
    errors: dict[int, BaseException] = field(default_factory=dict)
    #: The broker refused a batch: replace the producer before its next send.
    broker_refused: bool = False
    #: A refused batch held several messages: send them again one per batch.
    ambiguous: bool = False

    def refuse(self, index: int, error: BaseException) -> None:
        self.deliveries[index] = Delivery.REFUSED
        self.errors[index] = error

    def retract(self) -> None:
        """Undo every refusal (judged against limits that have changed since): those
        messages and the ones behind them count as not sent, to be judged again."""
        for index, delivery in enumerate(self.deliveries):
            if delivery in (Delivery.REFUSED, Delivery.BEHIND_REFUSED):
                self.deliveries[index] = Delivery.UNSENT
        self.errors.clear()


class KeyedProducer(Protocol):
    """A started producer that keeps per-key order (the relay's and the API's view)."""

    async def send_keyed(
        self,
        topic: str,
        messages: Sequence[Message],
        headers: list[Header],
        *,
        one_per_batch: bool = False,
    ) -> SendReport:
        """Send ``messages`` in order per key; report each one's outcome. A message over
        the topic's limit is refused with the permanent error the broker would give.
        Raises a transient error (nothing reported) when the broker is away."""

    async def limits_changed(self, topic: str) -> bool:
        """Read the topic's size limit again (at most once a second); True when it is not
        what the last send was judged against."""

    async def stop(self) -> None: ...


class ProducerFactory(Protocol):
    async def start_producer(self) -> KeyedProducer:
        """A fresh started producer (a fresh producer id); transient errors while away."""


class RecordSender(Protocol):
    """Writes records as they are, all then awaits all (the DLQ's port)."""

    async def start(self) -> None: ...

    async def max_record_bytes(self, topic: str) -> int:
        """The largest record (as a one-record batch) both the producer and ``topic`` take."""

    async def send_all(
        self, topic: str, records: Sequence[OutgoingRecord]
    ) -> dict[int, BaseException]:
        """The records refused for good, by index, with the refusal; raises the first
        transient failure (the caller sends them all again)."""

    async def stop(self) -> None: ...
