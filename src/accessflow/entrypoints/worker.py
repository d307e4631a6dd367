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
from typing import Any, Protocol

from accessflow.adapters.kafka.dlq import DeadLetter
from accessflow.entrypoints.dead_letters import DeadLetterWriter
from accessflow.entrypoints.observability import Health, Metrics
from accessflow.entrypoints.retry import Stopping, is_transient, retry_transient
from accessflow.logs import get_logger
from accessflow.service.broker import CommitRefused, Consumer, Partition, Record, RecordSender
from accessflow.settings import Settings

log = get_logger(__name__)


@dataclass
class PollResult:
    """What processing one poll's records (all its partitions, one transaction) produced."""

    dead_letters: list[DeadLetter] = field(default_factory=list)
    committed_effects: bool = False  # a transaction wrote events: wake the relay


class Processor(Protocol):
    async def process(self, records: list[Record]) -> PollResult: ...


class _Listener:
    """Revocation waits for the in-flight batch (which commits its own offsets)."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker

    async def on_revoked(self, revoked: list[Partition]) -> None:
        async with self._worker.in_flight:
            log.info("partitions.revoked", partitions=sorted(tp.partition for tp in revoked))

    async def on_assigned(self, assigned: list[Partition]) -> None:
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
        consumer: Consumer,
        dead_letters: RecordSender,
        burst: bool = False,
    ) -> None:
        self._settings = settings
        self._consumer = consumer
        self._dlq = dead_letters
        self._processor = processor
        self.health = health
        self._metrics = metrics
        self._on_committed = on_committed
        # Burst: stop once every assigned partition is read to its end (tests, demos).
        self._burst = burst
        # Held while a batch is processed and committed, never around getmany.
        self.in_flight = asyncio.Lock()

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self._consumer
        dlq = DeadLetterWriter(self._settings, self._metrics, self._dlq)
        try:
            await dlq.start(stop)
            # A broker that is away is waited for; one that refuses us (KafkaAccessRefused)
            # ends the start at once with the reason.
            await retry_transient(
                lambda: consumer.start(_Listener(self)), what="consumer.start", stop=stop
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

    async def _loop(self, consumer: Consumer, dlq: DeadLetterWriter, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await self._fetch(consumer, stop)
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

    async def _fetch(
        self, consumer: Consumer, stop: asyncio.Event
    ) -> dict[Partition, list[Record]]:
        try:
            return await consumer.fetch(timeout_ms=500)
        except Exception as exc:
            # aiokafka rides out most outages inside getmany; what still surfaces as
            # transient is waited out here like every other broker call.
            if not is_transient(exc):
                raise
            return await retry_transient(
                lambda: consumer.fetch(timeout_ms=500), what="consumer.fetch", stop=stop
            )

    async def _caught_up(self, consumer: Consumer) -> bool:
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
        consumer: Consumer,
        dlq: DeadLetterWriter,
        work: dict[Partition, list[Record]],
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

    async def _commit(self, consumer: Consumer, offsets: dict[Partition, int]) -> None:
        try:
            await consumer.commit(offsets)
            self.health.last_commit = time.monotonic()
        except CommitRefused as exc:
            # The group rebalanced under us: the effects are committed in PostgreSQL, so
            # the new owner's redelivery is recognised by command id and changes nothing.
            log.warning("offsets.commit_failed", error=str(exc))

    def _update_lag(self, consumer: Consumer, work: dict[Partition, Any]) -> None:
        for tp, records in work.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._metrics.lag.labels(str(tp.partition)).set(highwater - records[-1].offset - 1)
