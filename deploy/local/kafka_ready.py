"""Readiness probe for the local broker: create a topic, write with acks=all, read it back.

``kafka_ready.py BOOTSTRAP [SASL_BOOTSTRAP USER PASSWORD CAFILE]``: the round trip runs on the
PLAINTEXT listener; given the SASL_SSL listener's address, credentials and CA, a client
must also authenticate there (SCRAM-SHA-512 over TLS, checking the broker's certificate) and
see the same topic. Run by ``deploy/local/stack`` with the project's virtualenv; exits 0 when
this worked within the deadline, 1 otherwise. Kept outside the package on purpose: it must work
before accessflow itself is importable.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

TOPIC = "__accessflow.stack.ready"


async def round_trip(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()
    marker = uuid.uuid4().bytes
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        meta = await producer.send_and_wait(TOPIC, marker)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(TOPIC, meta.partition)
        consumer.assign([tp])
        consumer.seek(tp, meta.offset)
        record = await asyncio.wait_for(consumer.getone(), timeout=15)
        if record.value != marker:
            raise RuntimeError("read back a different record than was written")
    finally:
        await consumer.stop()


async def authenticated(bootstrap: str, user: str, password: str, cafile: str) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        security_protocol="SASL_SSL",
        ssl_context=ssl.create_default_context(cafile=cafile),
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=user,
        sasl_plain_password=password,
    )
    await admin.start()
    try:
        if TOPIC not in await admin.list_topics():
            raise RuntimeError("the SASL_SSL listener does not show the topic just written")
    finally:
        await admin.close()


async def check(bootstrap: str, sasl: list[str]) -> None:
    await round_trip(bootstrap)
    if sasl:
        await authenticated(*sasl)


def main() -> int:
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
    sasl = sys.argv[2:6]
    deadline = time.monotonic() + 60
    while True:
        try:
            asyncio.run(check(bootstrap, sasl))
            return 0
        except (TimeoutError, KafkaError, OSError, RuntimeError) as exc:
            if time.monotonic() > deadline:
                print(f"kafka_ready: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
