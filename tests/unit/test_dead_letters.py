"""Every dead letter reaches the DLQ: as a copy when it fits, as a reference when it cannot;
a refusal retrying cannot fix is never retried forever."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
)
from jsonschema import Draft202012Validator

from accessflow.adapters.kafka.dlq import DeadLetter, prepared, reference_to
from accessflow.entrypoints.dead_letters import DeadLetterQueueUnwritableError, DeadLetterWriter
from accessflow.entrypoints.observability import Health, Metrics
from accessflow.service.dead_letters import HEAD_BYTES, REFERENCE_HEADER
from accessflow.settings import load_settings

SCHEMA = Path(__file__).resolve().parents[2] / "docs/schemas/accessflow.dlq.reference.schema.json"
LIMIT = 100_000


def _letter(value: bytes, *, key: bytes = b"request-1", headers: Any = ()) -> DeadLetter:
    return DeadLetter(
        key, value, "accessflow.commands", 3, 42, "TooLarge", "too big", tuple(headers), 1234
    )


def test_a_letter_that_fits_is_copied_untouched() -> None:
    letter = _letter(b"not json", headers=[("traceparent", b"00-1")])
    out = prepared(letter, LIMIT)
    assert (out.reference, out.key, out.value) == (False, b"request-1", b"not json")
    assert ("traceparent", b"00-1") in out.headers


def test_a_letter_too_large_for_the_dlq_becomes_a_reference() -> None:
    value = bytes(range(256)) * 1000  # 256,000 bytes
    letter = _letter(value, headers=[("traceparent", b"00-1")])
    out = prepared(letter, LIMIT)

    assert out.reference
    assert out.size < 20_000
    assert out.value is not None
    document = orjson.loads(out.value)
    Draft202012Validator(json.loads(SCHEMA.read_text())).validate(document)
    assert document["kind"] == "accessflow.dlq.reference"
    assert (document["originalTopic"], document["originalPartition"]) == ("accessflow.commands", 3)
    assert (document["originalOffset"], document["originalTimestamp"]) == (42, 1234)
    assert document["sizeBytes"] == len(value)
    assert document["sha256"] == hashlib.sha256(value).hexdigest()
    assert base64.b64decode(document["headBase64"]) == value[:HEAD_BYTES]
    assert base64.b64decode(document["keyBase64"]) == b"request-1"
    assert (document["errorCode"], document["errorMessage"]) == ("TooLarge", "too big")
    assert f"over the DLQ's {LIMIT}-byte limit" in document["reason"]
    headers = dict(out.headers)
    assert headers[REFERENCE_HEADER] == b"true"
    assert headers["accessflow-error-code"] == b"TooLarge"
    assert headers["traceparent"] == b"00-1"  # small own headers are kept
    assert out.key == b"request-1"


def test_a_record_just_under_the_limit_is_referenced_once_the_dlq_headers_are_added() -> None:
    """The value alone fits; with the DLQ's headers the copy would not."""
    value = b"x" * (LIMIT - 100)
    assert prepared(_letter(value), LIMIT).reference
    assert not prepared(_letter(value), LIMIT + 1000).reference


def test_huge_keys_and_headers_do_not_make_the_reference_large() -> None:
    letter = _letter(b"v" * 10, key=b"k" * 50_000, headers=[("h", b"x" * 50_000)])
    out = reference_to(letter, "because")
    assert out.size < 20_000
    assert out.key is None
    document = orjson.loads(out.value or b"")
    assert (document["keySizeBytes"], document["headerNames"]) == (50_000, ["h"])
    assert "h" not in dict(out.headers)


class FakeProducer:
    """Refuses (or fails) the first ``refusals`` sends with the given errors, in order."""

    def __init__(self, *errors: Exception, synchronous: bool = False) -> None:
        self.errors = list(errors)
        self.synchronous = synchronous
        self.sent: list[tuple[bytes | None, dict[str, bytes]]] = []

    async def send(self, topic: str, value: bytes | None, **kw: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.errors:
            error = self.errors.pop(0)
            if self.synchronous:
                raise error
            future.set_exception(error)
        else:
            self.sent.append((value, dict(kw["headers"])))
            future.set_result(None)
        return future


def _writer(producer: FakeProducer) -> tuple[DeadLetterWriter, Metrics]:
    metrics = Metrics(Health())
    settings = load_settings(dlq_topic="dlq")
    writer = DeadLetterWriter(settings, metrics, producer)  # type: ignore[arg-type]
    writer.max_record_bytes = LIMIT
    return writer, metrics


def _count(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(name, {"code": "TooLarge"})


@pytest.mark.parametrize("synchronous", [False, True], ids=["broker", "client"])
async def test_a_copy_refused_for_good_is_sent_as_a_reference(synchronous: bool) -> None:
    """The DLQ's limit shrank since the start: the copy is refused (by send() itself or by
    the broker), counted, and the reference goes instead: no retry loop."""
    producer = FakeProducer(MessageSizeTooLargeError(), synchronous=synchronous)
    writer, metrics = _writer(producer)
    await writer.write([_letter(b"x" * 1000)], asyncio.Event())

    [(value, headers)] = producer.sent
    assert headers[REFERENCE_HEADER] == b"true"
    assert "the copy was refused" in orjson.loads(value or b"")["reason"]
    assert _count(metrics, "accessflow_dead_letters_failed_total") == 1
    assert _count(metrics, "accessflow_dead_letter_references_total") == 1
    assert _count(metrics, "accessflow_dead_lettered_total") == 1


async def test_an_outage_is_waited_out_and_the_copy_sent() -> None:
    producer = FakeProducer(KafkaConnectionError())
    writer, metrics = _writer(producer)
    await writer.write([_letter(b"x")], asyncio.Event())
    assert [value for value, _ in producer.sent] == [b"x"]
    assert _count(metrics, "accessflow_dead_letters_failed_total") is None


async def test_a_dlq_that_refuses_everything_stops_the_worker_loudly() -> None:
    """Not authorised: no form of the letter can be written. The writer raises (the worker
    stops, the poll stays uncommitted and is read again once the DLQ is fixed)."""
    producer = FakeProducer(TopicAuthorizationFailedError())
    writer, metrics = _writer(producer)
    with pytest.raises(DeadLetterQueueUnwritableError, match="refuses dead letters"):
        await writer.write([_letter(b"x")], asyncio.Event())
    assert _count(metrics, "accessflow_dead_letters_failed_total") == 1


async def test_a_refused_reference_stops_the_worker_loudly() -> None:
    producer = FakeProducer(MessageSizeTooLargeError(), MessageSizeTooLargeError())
    writer, _ = _writer(producer)
    with pytest.raises(DeadLetterQueueUnwritableError):
        await writer.write([_letter(b"x")], asyncio.Event())
