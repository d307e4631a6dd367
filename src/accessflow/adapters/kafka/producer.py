"""The idempotent producer every accessflow publisher uses."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from accessflow.adapters.kafka.options import client_options
from accessflow.settings import Settings

CLOUDEVENTS_HEADERS = [("content-type", b"application/cloudevents+json")]
#: aiokafka's default, stated: the largest record (as a one-record batch) send() accepts.
MAX_REQUEST_BYTES = 1_048_576


def make_producer(
    settings: Settings, *, linger_ms: int = 5, max_batch_size: int = 256 * 1024
) -> AIOKafkaProducer:
    # Idempotence (implies acks=all) keeps per-partition order across internal retries,
    # which is what keeps one request's events in sequence order on the topic.
    return AIOKafkaProducer(
        enable_idempotence=True,
        linger_ms=linger_ms,
        max_batch_size=max_batch_size,
        max_request_size=MAX_REQUEST_BYTES,
        **client_options(settings),
    )
