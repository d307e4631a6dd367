"""The worker loop: fetch a batch, hand each partition's records to the processor, send dead
letters, then commit offsets. Offsets are committed only after the database transaction that
recorded the records' effects, so a crash anywhere means redelivery, and redelivery changes
nothing (the processor dedupes by command id).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, IllegalStateError

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.dlq import DeadLetter
from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.kafka.topics import topic_compression_type
from accessflow.entrypoints.dead_letters import DeadLetterWriter
from accessflow.entrypoints.observability import Health, Metrics
from accessflow.entrypoints.retry import Stopping, retry_transient
from accessflow.logs import get_logger
from accessflow.settings import Settings

log = get_logger(__name__)
Record: TypeAlias = ConsumerRecord  # aiokafka is untyped; the alias documents intent


@dataclass
class PartitionResult:
    """What processing one poll's records (all its partitions, one transaction) produced."""

    dead_letters: list[DeadLetter] = field(default_factory=list)
    committed_effects: bool = False  # a transaction wrote events: wake the relay


class Processor(Protocol):
    async def process(self, records: list[Record]) -> PartitionResult: ...


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Revocation waits for the in-flight batch (which commits its own offsets)."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._worker.in_flight:
            log.info("partitions.revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._worker.health.assigned_partitions = len(assigned)
        log.info("partitions.assigned", partitions=sorted(tp.partition for tp in assigned))


class Worker:
    def __init__(
        self,
        settings: Settings,
        processor: Processor,
        health: Health,
        metrics: Metrics,
        on_committed: Callable[[], None] = lambda: None,
        *,
        burst: bool = False,
    ) -> None:
        self._settings = settings
        self._processor = processor
        self.health = health
        self._metrics = metrics
        self._on_committed = on_committed
        # Burst: stop once every assigned partition is read to its end (tests, demos).
        self._burst = burst
        # Held while a batch is processed and committed, never around getmany.
        self.in_flight = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            group_id=self._settings.consumer_group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._settings.max_poll_records,
            # Bounds what one fetch holds before decompression; each record batch is
            # inflated whole when read (docs/operations.md, Memory bounds of a fetch).
            fetch_max_bytes=self._settings.consumer_fetch_max_bytes,
            max_partition_fetch_bytes=self._settings.consumer_max_partition_fetch_bytes,
            group_instance_id=self._settings.consumer_instance_id,
            session_timeout_ms=self._settings.consumer_session_timeout_ms,
            heartbeat_interval_ms=self._settings.consumer_heartbeat_interval_ms,
            isolation_level="read_committed",
            **client_options(self._settings),
        )
        consumer.subscribe([self._settings.commands_topic], listener=_Listener(self))
        dlq = DeadLetterWriter(self._settings, self._metrics)
        try:
            await self._check_commands_topic()
            await dlq.start(stop)
            # A broker that is away is waited for; one that refuses us (KafkaAccessRefused)
            # ends the start at once with the reason.
            await retry_transient(
                lambda: start_client(consumer, self._settings), what="consumer.start", stop=stop
            )
            self.health.kafka_connected = True
            await self._loop(consumer, dlq, stop)
        except Stopping:
            pass
        finally:
            self.health.stopping = True
            # stop() leaves the group, so the partitions move on without a session timeout.
            await consumer.stop()
            await dlq.stop()
            self.health.kafka_connected = False

    async def _check_commands_topic(self) -> None:
        """Say so at start when a compressed batch may inflate without bound in this process."""
        topic = self._settings.commands_topic
        compression = await topic_compression_type(self._settings, topic)
        if compression is not None and compression != "uncompressed":
            log.warning(
                "commands_topic.compression_kept",
                topic=topic,
                compression_type=compression,
                hint="a compressed batch may inflate to about 1000 times max.message.bytes "
                "in the worker's memory; set the topic's compression.type=uncompressed "
                "(docs/operations.md, Memory bounds of a fetch)",
            )

    async def _loop(
        self, consumer: AIOKafkaConsumer, dlq: DeadLetterWriter, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            self.health.last_poll = time.monotonic()
            if not batch:
                if self._burst and await self._caught_up(consumer):
                    log.info("worker.idle", reason="burst mode: every partition read to its end")
                    stop.set()
                continue
            async with self.in_flight:
                # A rebalance may have taken partitions since the fetch: leave those records
                # to their new owner rather than commit offsets we no longer own.
                assigned = consumer.assignment()
                work = {tp: recs for tp, recs in batch.items() if tp in assigned and recs}
                await self._bounded(self._handle(consumer, dlq, work, stop), stop)
            self._update_lag(consumer, work)

    async def _caught_up(self, consumer: AIOKafkaConsumer) -> bool:
        assigned = consumer.assignment()
        if not assigned:
            return False
        ends = await consumer.end_offsets(list(assigned))
        committed = {tp: await consumer.committed(tp) for tp in assigned}
        return all((committed[tp] or 0) >= end for tp, end in ends.items())

    async def _bounded(self, batch: Awaitable[None], stop: asyncio.Event) -> None:
        """Run the batch; once stopping, give it shutdown_timeout_seconds, then abandon it.

        An abandoned batch rolls back and its offsets stay uncommitted: redelivered later.
        """
        task = asyncio.ensure_future(batch)
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                await asyncio.wait({task}, timeout=self._settings.shutdown_timeout_seconds)
            if not task.done():
                log.warning("batch.abandoned", reason="shutdown timeout")
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return
            task.result()
        finally:
            stopper.cancel()

    async def _handle(
        self,
        consumer: AIOKafkaConsumer,
        dlq: DeadLetterWriter,
        work: dict[TopicPartition, list[Record]],
        stop: asyncio.Event,
    ) -> None:
        records = [record for recs in work.values() for record in recs]
        result = await retry_transient(
            lambda: self._processor.process(records), what="worker.process", stop=stop
        )
        self.health.database_ok = True
        if result.committed_effects:
            self._on_committed()
        if result.dead_letters:
            await dlq.write(result.dead_letters, stop)
        await self._commit(consumer, {tp: recs[-1].offset + 1 for tp, recs in work.items()})

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
            self.health.last_commit = time.monotonic()
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced under us: the effects are committed in PostgreSQL, so
            # the new owner's redelivery is recognised by command id and changes nothing.
            log.warning("offsets.commit_failed", error=str(exc))

    def _update_lag(self, consumer: AIOKafkaConsumer, work: dict[TopicPartition, Any]) -> None:
        for tp, records in work.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._metrics.lag.labels(str(tp.partition)).set(highwater - records[-1].offset - 1)
