"""The real broker and database behave as accessflow relies on them to."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from accessflow.settings import Settings


async def _topic(settings: Settings, suffix: str, partitions: int = 1) -> str:
    name = f"{settings.commands_topic}.{suffix}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()
    return name


async def _read_all(
    settings: Settings, topic: str, expected: int, isolation: str = "read_uncommitted"
) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(30):
            while len(values) < expected:
                batch = await consumer.getmany(timeout_ms=500)
                values.extend(r.value for records in batch.values() for r in records)
        # Linger briefly: anything beyond `expected` would be a duplicate or a leak.
        extra = await consumer.getmany(timeout_ms=1000)
        values.extend(r.value for records in extra.values() for r in records)
    finally:
        await consumer.stop()
    return values


async def test_produce_consume_round_trip_with_acks_all(settings: Settings) -> None:
    """A record written with acks=all is read back unchanged, with its key and headers."""
    topic = await _topic(settings, "roundtrip")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, b"hello", key=b"k1", headers=[("content-type", b"application/json")]
        )
    finally:
        await producer.stop()
    assert await _read_all(settings, topic, 1) == [b"hello"]


async def test_idempotent_producer_delivers_each_record_once_in_order(settings: Settings) -> None:
    """enable_idempotence: 200 records sent concurrently arrive once each, in send order."""
    topic = await _topic(settings, "idempotent")
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_idempotence=True
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, str(i).encode()) for i in range(200)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    assert await _read_all(settings, topic, 200) == [str(i).encode() for i in range(200)]


async def test_transactions_commit_and_abort(settings: Settings) -> None:
    """A read_committed consumer sees the committed transaction and not the aborted one."""
    topic = await _topic(settings, "tx")
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        transactional_id=f"accessflow-test-{uuid.uuid4()}",
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"committed-1")
            await producer.send(topic, b"committed-2")
        await producer.begin_transaction()
        await producer.send(topic, b"aborted")
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"committed-3")
    finally:
        await producer.stop()
    committed = await _read_all(settings, topic, 3, isolation="read_committed")
    assert committed == [b"committed-1", b"committed-2", b"committed-3"]
    # The aborted record is in the log: an uncommitted reader sees it, which proves the
    # broker really wrote and then aborted it rather than never receiving it.
    assert b"aborted" in await _read_all(settings, topic, 4)


async def test_postgres_round_trip(settings: Settings) -> None:
    """A row written in a committed transaction is read back; a rolled-back one is not."""
    conn = await asyncpg.connect(settings.dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{settings.database_schema}"')
        await conn.execute(f'SET search_path TO "{settings.database_schema}"')
        await conn.execute("CREATE TABLE t (id int PRIMARY KEY, note text)")
        async with conn.transaction():
            await conn.execute("INSERT INTO t VALUES (1, 'kept')")
        tx = conn.transaction()
        await tx.start()
        await conn.execute("INSERT INTO t VALUES (2, 'rolled back')")
        await tx.rollback()
        rows = await conn.fetch("SELECT id, note FROM t ORDER BY id")
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [(1, "kept")]
