"""The idempotent producer every accessflow publisher uses."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from accessflow.adapters.kafka.options import client_options
from accessflow.settings_base import KafkaConnectionSettings

CLOUDEVENTS_HEADERS = [("content-type", b"application/cloudevents+json")]
#: The largest request (and so the largest record) a producer sends: aiokafka's default,
#: named because the relay checks each event against it before sending and the start-up
#: check (``limits.py``) compares the event and command budgets with it.
MAX_REQUEST_SIZE = 1024 * 1024
#: Records are appended to batches up to this size (one batch per partition in flight).
MAX_BATCH_SIZE = 256 * 1024

#: The largest request (and so the largest record) a producer sends: aiokafka's default,
#: named because the relay checks each event against it before sending.
MAX_REQUEST_SIZE = 1024 * 1024
#: Records are appended to batches up to this size (one batch per partition in flight).
MAX_BATCH_SIZE = 256 * 1024


def make_producer(settings: KafkaConnectionSettings, *, linger_ms: int = 5) -> AIOKafkaProducer:
    # Idempotence (implies acks=all) keeps per-partition order across internal retries,
    # which is what keeps one request's events in sequence order on the topic.
    return AIOKafkaProducer(
        enable_idempotence=True,
        linger_ms=linger_ms,
        max_batch_size=MAX_BATCH_SIZE,
        max_request_size=MAX_REQUEST_SIZE,
        **client_options(settings),
    )
