"""The two baselines the worker is measured against, each run as its own process
(``python -m accessflow.bench.baselines raw|naive``, configured by ``ACCESSFLOW_*``).

- **raw pipe**: read the commands a batch at a time, COPY them into one table, produce one
  event each (send all, await together), commit the offsets. No decoding, no rules: the
  ceiling of this Kafka + PostgreSQL + Python on this machine.
- **naive worker**: the loop a user would write with the same libraries and the project's
  own rules: per message, validate it with the pydantic models, handle it in one
  transaction (the project's store, so it writes the same rows, outbox rows included),
  then ``send_and_wait`` each of its events itself and commit its offset.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import UTC, datetime

import asyncpg
from aiokafka import AIOKafkaConsumer

from accessflow.adapters.kafka.dlq import DeadLetter
from accessflow.adapters.kafka.options import client_options
from accessflow.adapters.kafka.producer import CLOUDEVENTS_HEADERS, make_producer
from accessflow.adapters.postgres import pool
from accessflow.adapters.postgres.store import PgUnitOfWork
from accessflow.entrypoints.decode import decode
from accessflow.service.handlers import handle_batch
from accessflow.settings import Settings, load_settings

RAW_EVENT = b'{"type":"bench.rawPipe.recorded","data":{"state":"delivered"}}'


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        group_id=settings.consumer_group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.max_poll_records,
        **client_options(settings),
    )
    consumer.subscribe([settings.commands_topic])
    return consumer


async def raw_pipe(settings: Settings, stop: asyncio.Event) -> None:
    consumer = _consumer(settings)
    producer = make_producer(settings)
    conn = await pool.connect(settings)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_raw_commands "
        '(partition integer, "offset" bigint, key text, payload bytea)'
    )
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            records = [r for recs in batch.values() for r in recs]
            if not records:
                continue
            await conn.copy_records_to_table(
                "bench_raw_commands",
                records=[(r.partition, r.offset, r.key.decode(), r.value) for r in records],
            )
            futures = [
                await producer.send(settings.events_topic, RAW_EVENT, key=r.key) for r in records
            ]
            await asyncio.gather(*futures)
            await consumer.commit({tp: recs[-1].offset + 1 for tp, recs in batch.items() if recs})
    finally:
        await consumer.stop()
        await producer.stop()
        await conn.close()


async def naive(settings: Settings, stop: asyncio.Event) -> None:
    consumer = _consumer(settings)
    producer = make_producer(settings, linger_ms=0)
    db: asyncpg.Pool = await pool.create_pool(settings)
    uow = PgUnitOfWork(db)
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=1)
            for tp, records in batch.items():
                for record in records:
                    decoded = decode(record, settings.max_command_bytes)
                    if not isinstance(decoded, DeadLetter):
                        _, changes = await handle_batch([decoded], uow, datetime.now(UTC))
                        # Committed: now publish, one awaited send per event (no relay).
                        for event in changes.outbox:
                            await producer.send_and_wait(
                                settings.events_topic,
                                event.payload,
                                key=event.key.encode(),
                                headers=CLOUDEVENTS_HEADERS,
                            )
                    await consumer.commit({tp: record.offset + 1})
    finally:
        await consumer.stop()
        await producer.stop()
        await db.close()


async def _main(kind: str) -> None:
    settings = load_settings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await (raw_pipe if kind == "raw" else naive)(settings, stop)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("raw", "naive"):
        sys.exit("usage: python -m accessflow.bench.baselines raw|naive")
    asyncio.run(_main(sys.argv[1]))
