"""Records the DLQ could never hold as copies go there as references, and the worker moves
on: a gzip record that inflates to 60 MB, and one just under the broker's limit that the
DLQ headers push over it."""

from __future__ import annotations

import base64
import hashlib

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from accessflow.adapters.kafka.dlq import record_size
from accessflow.adapters.kafka.producer import MAX_REQUEST_SIZE
from accessflow.service.dead_letters import HEAD_BYTES, REFERENCE_HEADER

INFLATED = 60 * 1024 * 1024


async def _commands_topic_keeping_compression(e2e) -> None:
    """Made before ``migrate`` (which leaves existing topics alone) the way a cluster's own
    tooling would: producers' compression kept, so a small batch may inflate enormously."""
    admin = AIOKafkaAdminClient(bootstrap_servers=e2e.settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        configs = {"compression.type": "producer"}
        topic = NewTopic(e2e.settings.commands_topic, 2, 1, topic_configs=configs)
        await admin.create_topics([topic])
    finally:
        await admin.close()


def _near_limit() -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """A record the producer and the broker accept whose DLQ copy is over the limit."""
    key, headers = b"near-limit", [("x-pad", b"p" * 8000)]
    value = b"n" * (MAX_REQUEST_SIZE - 8200)
    value += b"n" * (MAX_REQUEST_SIZE - 60 - record_size(key, value, headers))
    return key, value, headers


async def _produce_compressed(
    e2e, records: list[tuple[bytes, bytes, list[tuple[str, bytes]]]], codec: str = "gzip"
) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=e2e.settings.kafka_bootstrap_servers,
        compression_type=codec,
        max_request_size=INFLATED + 1024,
    )
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(
                e2e.settings.commands_topic, value, key=key, headers=headers
            )
    finally:
        await producer.stop()


async def test_records_too_large_for_the_dlq_are_referenced_and_the_worker_moves_on(e2e) -> None:
    await _commands_topic_keeping_compression(e2e)
    e2e.prepare(e2e.catalog(2))
    inflating = b'{"pad": "' + b"x" * INFLATED + b'"}'
    near = _near_limit()
    await _produce_compressed(e2e, [(b"inflating", inflating, []), near])
    good, zstd = e2e.create_command(e2e.user_id(0)), e2e.create_command(e2e.user_id(1))
    await e2e.produce_commands([good])
    # Any codec a producer may use is read (aiokafka needs cramjam for all but gzip).
    await _produce_compressed(e2e, [(zstd["subject"].encode(), orjson.dumps(zstd), [])], "zstd")
    worker = e2e.start_worker("--burst")
    assert worker.wait(timeout=120) == 0  # burst ends only once every offset is committed

    references = {r.key: r for r in await e2e.read(e2e.settings.dlq_topic)}
    assert set(references) == {b"inflating", b"near-limit"}
    for key, value in [(b"inflating", inflating), (b"near-limit", near[1])]:
        record = references[key]
        headers = dict(record.headers)
        assert headers[REFERENCE_HEADER] == b"true"
        document = orjson.loads(record.value)
        assert document["originalTopic"] == e2e.settings.commands_topic
        assert document["sizeBytes"] == len(value)
        assert document["sha256"] == hashlib.sha256(value).hexdigest()
        assert base64.b64decode(document["headBase64"]) == value[:HEAD_BYTES]
        assert base64.b64decode(document["keyBase64"]) == key
        assert headers["accessflow-original-offset"] == str(document["originalOffset"]).encode()
    assert orjson.loads(references[b"inflating"].value)["errorCode"] == "TooLarge"
    near_document = orjson.loads(references[b"near-limit"].value)
    # Over ACCESSFLOW_MAX_COMMAND_BYTES (1,000,000) too, so judged before it is parsed.
    assert (near_document["errorCode"], near_document["headerNames"]) == ("TooLarge", ["x-pad"])

    by_request = e2e.by_request(await e2e.events())
    for command in (good, zstd):
        states = [e["data"]["state"] for e in by_request[command["subject"]]]
        assert states == ["submitted", "delivering", "delivered"]
    assert await _committed(e2e) == await _ends(e2e)
    logged = {line["event"] for line in worker.lines()}
    assert {"dlq.reference_written", "commands_topic.compression_kept"} <= logged


async def _ends(e2e) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=e2e.settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        tps = [TopicPartition(e2e.settings.commands_topic, p) for p in (0, 1)]
        return {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def _committed(e2e) -> dict[int, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=e2e.settings.kafka_bootstrap_servers,
        group_id=e2e.settings.consumer_group_id,
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        out = {}
        for p in (0, 1):
            out[p] = await consumer.committed(TopicPartition(e2e.settings.commands_topic, p)) or 0
        return out
    finally:
        await consumer.stop()


async def test_a_worker_refuses_to_start_on_a_dlq_that_cannot_hold_a_reference(e2e) -> None:
    """Better no worker than one whose dead letters could not be written."""
    admin = AIOKafkaAdminClient(bootstrap_servers=e2e.settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        configs = {"max.message.bytes": "10000"}
        await admin.create_topics([NewTopic(e2e.settings.dlq_topic, 1, 1, topic_configs=configs)])
    finally:
        await admin.close()
    e2e.prepare(e2e.catalog(1))
    worker = e2e.start_worker("--burst")
    assert worker.wait(timeout=120) == 1
    last = worker.log.read_text(encoding="utf-8").splitlines()[-1]
    assert last.startswith(f"Error: the DLQ topic {e2e.settings.dlq_topic} accepts records")
    assert "at most 10000 bytes" in last
