"""The outbox relay: publishes committed events to the events topic, in order, then deletes
them from the outbox (the broker keeps them now).

One relay per schema leads at a time (an advisory lock held by its connection); others
stand by. It wakes on the worker's in-process signal or on PostgreSQL's NOTIFY from the
outbox trigger, and polls only as a safety net. A crash between publishing and marking
re-publishes the same events with the same ids, which consumers dedupe.

An event the events topic will never accept (larger than its ``max.message.bytes``, refused
as an invalid record) is parked: moved to ``parked_events`` with its reason, in the same
transaction that deletes the batch's published rows, counted and logged; every other
event keeps flowing. A request's later events are parked behind it (``BehindParked``)
rather than published past it, so a consumer sees a request's events in order and without
a gap, or stops at the parked one until an operator retries (``accessflow outbox parked``).
A refusal of the topic itself (invalid, not authorised) is not parked: nothing would get
through, so the relay stops and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from accessflow import tracing
from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS
from accessflow.entrypoints import parking
from accessflow.entrypoints.observability import Metrics
from accessflow.entrypoints.retry import Stopping, retry_transient
from accessflow.logs import get_logger
from accessflow.service.broker import KeyedProducer, ProducerFactory
from accessflow.service.publishing import Outbox, OutboxSession

log = get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        outbox: Outbox,
        producers: ProducerFactory,
        topic: str,
        *,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._outbox = outbox
        self._producers = producers
        self._topic = topic
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._session: OutboxSession | None = None
        self._producer: KeyedProducer | None = None
        self._metrics = metrics
        # After the broker refused a batch of several events: send one per batch to find
        # which (the broker does not say).
        self._one_per_batch = False
        self.leading = False
        self.published_total = 0
        self.parked_total = 0

    def wake(self) -> None:
        """Publish now: called right after a transaction that wrote events commits."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set, then drain what is committed and return."""
        try:
            while not stop.is_set():
                published = await retry_transient(
                    self._cycle, what="relay.publish", stop=stop, on_failure=self._reset
                )
                if not published:
                    await self._idle(stop)
            if self.leading:
                await self._drain_all()
        except Stopping:
            pass
        finally:
            await self._reset()

    async def _idle(self, stop: asyncio.Event) -> None:
        waiter = asyncio.ensure_future(self._wake.wait())
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait(
                {waiter, stopper},
                timeout=self._poll_interval,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            waiter.cancel()
            stopper.cancel()

    async def _cycle(self) -> int:
        """One attempt: make sure we lead and are connected, then publish one batch."""
        self._wake.clear()
        session = await self._connection()
        if not self.leading:
            self.leading = await session.lead()
            if not self.leading:
                return 0
            log.info("relay.leading", topic=self._topic)
        return await self._publish_batch(session, await self._producer_started())

    async def _publish_batch(self, session: OutboxSession, producer: KeyedProducer) -> int:
        """Publish the oldest events; park what the topic refuses. Returns how many left the
        outbox (0 when it was empty)."""
        rows = await session.fetch_unpublished(self._batch_size)
        if not rows:
            return 0
        started_ns = time.time_ns()
        # Everything in record batches per partition, one batch after another per
        # partition, all partitions at once: one round trip per broker batch, not per event.
        sendable = [row for row in rows if not row.blocked]
        messages = [(row.key.encode(), row.payload) for row in sendable]
        report = await producer.send_keyed(
            self._topic, messages, CLOUDEVENTS_HEADERS, one_per_batch=self._one_per_batch
        )
        self._one_per_batch = report.ambiguous
        retracted = bool(report.errors) and await producer.limits_changed(self._topic)
        if retracted:  # judged against a limit an operator has changed: judge again
            report.retract()
        if report.broker_refused:
            # The producer's sequence numbers for that partition moved past the refused
            # batch: the next batch would be out of order. A fresh producer starts anew (and
            # reads the topic's limit again, which may be why the broker refused).
            await self._drop_producer()
        outcome = parking.settlement(rows, report)
        parked_ids = await parking.settle(session, rows, outcome, self._metrics)
        if tracing.enabled():
            parking.trace(rows, outcome, started_ns)
        self.published_total += len(outcome.sent)
        self.parked_total += len(parked_ids)
        done = len(outcome.sent) + len(parked_ids)
        # A refused batch of several events leaves them all in the outbox; the next cycle
        # (one per batch) finds the culprit, so go on at once rather than idle.
        return max(done, 1) if report.ambiguous or retracted else done

    async def _drain_all(self) -> None:
        """On the way out, publish what is committed; what cannot be now, the next relay will."""
        try:
            session = await self._connection()
            while await self._publish_batch(session, await self._producer_started()):
                pass
        except Exception as exc:  # nothing is lost: the rows stay unpublished for the next relay
            log.warning("relay.drain_incomplete", error=f"{type(exc).__name__}: {exc}")

    async def _connection(self) -> OutboxSession:
        if self._session is None or self._session.is_closed():
            self.leading = False
            self._session = await self._outbox.open(self._wake.set)
        return self._session

    async def _producer_started(self) -> KeyedProducer:
        if self._producer is None:
            # A fresh producer also reads the topic's limit again before its first send.
            self._producer = await self._producers.start_producer()
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _reset(self) -> None:
        """Drop the session (and with it the lead) and the producer after a failure.

        A fresh producer also gets a fresh producer id, which is the cure for the fatal
        OutOfOrderSequenceNumber / UnknownProducerId errors.
        """
        session, self._session = self._session, None
        self.leading = False
        await self._drop_producer()
        if session is not None:
            # At once: after a failure the session may be stuck mid-operation.
            session.close()
