"""The outbox relay: publishes committed events to the events topic, in order, then deletes
them from the outbox (the broker keeps them now).

One relay per schema leads at a time (an advisory lock held by its connection); others
stand by. It wakes on the worker's in-process signal or on PostgreSQL's NOTIFY from the
outbox trigger, and polls only as a safety net. A crash between publishing and marking
re-publishes the same events with the same ids, which consumers dedupe.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import asyncpg
from aiokafka import AIOKafkaProducer

from accessflow.adapters.kafka.access import start_client
from accessflow.adapters.kafka.batches import send_keyed
from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS, make_producer
from accessflow.adapters.postgres import outbox, pool
from accessflow.entrypoints.retry import Stopping, retry_transient
from accessflow.logs import get_logger
from accessflow.settings import Settings

log = get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        settings: Settings,
        *,
        batch_size: int = 2000,
        poll_interval: float = 1.0,
        retention: timedelta = timedelta(hours=1),
    ) -> None:
        self._settings = settings
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention = retention
        self._wake = asyncio.Event()
        self._conn: asyncpg.Connection | None = None
        self._producer: AIOKafkaProducer | None = None
        self.leading = False
        self.published_total = 0

    def wake(self) -> None:
        """Publish now: called right after a transaction that wrote events commits."""
        self._wake.set()

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if payload == self._settings.database_schema:
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
        conn = await self._connection()
        if not self.leading:
            self.leading = await outbox.try_lead(conn, self._settings.database_schema)
            if not self.leading:
                return 0
            log.info("relay.leading", schema=self._settings.database_schema)
            # Rows marked published by an older relay (which kept them for an hour).
            await outbox.delete_marked(conn, self._retention)
        return await self._publish_batch(conn, await self._producer_started())

    async def _publish_batch(self, conn: asyncpg.Connection, producer: AIOKafkaProducer) -> int:
        rows = await outbox.fetch_unpublished(conn, self._batch_size)
        if not rows:
            return 0
        # Everything in record batches per partition, then awaited together: one round trip
        # per broker batch, not per event.
        messages = [(row.key.encode(), row.payload) for row in rows]
        await send_keyed(producer, self._settings.events_topic, messages, CLOUDEVENTS_HEADERS)
        await outbox.delete_published(conn, [row.id for row in rows])
        self.published_total += len(rows)
        return len(rows)

    async def _drain_all(self) -> None:
        """On the way out, publish what is committed; what cannot be now, the next relay will."""
        try:
            conn = await self._connection()
            producer = await self._producer_started()
            while await self._publish_batch(conn, producer):
                pass
        except Exception as exc:  # nothing is lost: the rows stay unpublished for the next relay
            log.warning("relay.drain_incomplete", error=f"{type(exc).__name__}: {exc}")

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self.leading = False
            self._conn = await pool.connect(self._settings)
            await self._conn.add_listener(outbox.NOTIFY_CHANNEL, self._on_notify)
        return self._conn

    async def _producer_started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = make_producer(self._settings)
            await start_client(producer, self._settings)
            self._producer = producer
        return self._producer

    async def _reset(self) -> None:
        """Drop the connection (and with it the lease) and the producer after a failure.

        A fresh producer also gets a fresh producer id, which is the cure for the fatal
        OutOfOrderSequenceNumber / UnknownProducerId errors.
        """
        producer, self._producer = self._producer, None
        conn, self._conn = self._conn, None
        self.leading = False
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()
        if conn is not None:
            # terminate, not close: after a failure the connection may be stuck mid-operation.
            conn.terminate()
